import Mem
import Pgtable

/// What a fixture's source (Fixtures/images/*.S) says it holds: the operations that build its tables, the
/// registers, and what each probe walks to. The tests rebuild the tables with Stage2Table / HypTable from
/// these operations and compare them byte for byte with the hand-written ones.
struct FixtureSpec: Sendable {
    /// A stage-2 operation, in the order the source lists them.
    enum Stage2Op: Sendable {
        /// `kvm_pgtable_stage2_map(addr, size, phys = addr, prot)`.
        case map(UInt64, size: UInt64, Prot)
        /// `kvm_pgtable_stage2_set_owner(addr, size, PKVM_ID_HYP)`.
        case ownerHyp(UInt64, size: UInt64)
    }

    /// `kvm_pgtable_hyp_map(va, size, phys, prot)`.
    struct HypOp: Sendable {
        let va: UInt64
        let size: UInt64
        let phys: UInt64
        let prot: Prot
    }

    /// What a stage-2 walk of a probe gives.
    enum Outcome: Equatable, Sendable {
        /// A valid leaf at `level` translating to `pa`.
        case leaf(level: Int, pa: UInt64)
        /// An invalid entry at `level` (a translation fault there).
        case fault(level: Int)
        /// The IPA is beyond the input size (a translation fault at level 0 on hardware).
        case outOfRange
    }

    let name: String
    let granule: Granule
    let lpa2: Bool
    let vtcr: UInt64
    let hypTCR: UInt64
    let s2Ops: [Stage2Op]
    let hypOps: [HypOp]
    let probes: [(UInt64, Outcome)]

    static let s2Base: UInt64 = 0x4010_0000
    static let hypBase: UInt64 = 0x4020_0000
    /// Hyp VA = PA + this, in every fixture.
    static let hypOffset: UInt64 = 0x8000_0000_0000

    /// `host_stage2_force_pte_cb` for the fixtures' machine: RAM 0x4000_0000..0x1_0000_0000 is memory.
    static let forcePTE: @Sendable (UInt64, UInt64, Prot) -> Bool = { addr, end, prot in
        addr >= 0x4000_0000 && end <= 0x1_0000_0000 ? prot != .rwx : prot != .rw
    }

    var stage2Geometry: Geometry {
        get throws {
            try Geometry.kernelStage2(granule: granule, ipaBits: lpa2 ? 52 : 40, oaBits: lpa2 ? 52 : 40, lpa2: lpa2)
        }
    }
    var hypGeometry: Geometry {
        get throws { try Geometry.kernelHyp(granule: granule, vaBits: 48, oaBits: lpa2 ? 52 : 40, lpa2: lpa2) }
    }

    static func hyp(_ pa: UInt64, _ size: UInt64, _ prot: Prot) -> HypOp {
        HypOp(va: pa + hypOffset, size: size, phys: pa, prot: prot)
    }

    static let all: [FixtureSpec] = [
        FixtureSpec(
            name: "default", granule: .k4, lpa2: false, vtcr: 0x8002_3558, hypTCR: 0x8082_3510,
            s2Ops: [
                .map(0x4000_0000, size: 0x40_0000, .rwx), .map(0x4060_0000, size: 0x1000, [.rwx, .sw0]),
                .map(0x4060_1000, size: 0x1000, .rw), .map(0x0900_0000, size: 0x1000, .rw),
                .ownerHyp(0x4070_0000, size: 0x2000), .map(0xC000_0000, size: 0x4000_0000, .rwx),
            ],
            hypOps: [
                hyp(0x4008_0000, 0x1000, [.r, .x]), hyp(0x4009_0000, 0x1000, .rw), hyp(0x400a_0000, 0x1000, .r),
                hyp(0x4040_0000, 0x20_0000, .rw), hyp(0x0900_0000, 0x1000, [.r, .w, .device]),
            ],
            probes: [
                (0x4000_1234, .leaf(level: 2, pa: 0x4000_1234)), (0x4020_0008, .leaf(level: 2, pa: 0x4020_0008)),
                (0x4060_0010, .leaf(level: 3, pa: 0x4060_0010)), (0x4060_1000, .leaf(level: 3, pa: 0x4060_1000)),
                (0x0900_0000, .leaf(level: 3, pa: 0x0900_0000)), (0x4060_2000, .fault(level: 3)),
                (0x4070_0000, .fault(level: 3)), (0x4080_0000, .fault(level: 2)),
                (0xC123_4000, .leaf(level: 1, pa: 0xC123_4000)), (0x1_0000_0000, .fault(level: 1)),
                (0x100_0000_0000, .outOfRange),
            ]),
        FixtureSpec(
            name: "s2-16k", granule: .k16, lpa2: false, vtcr: 0x8002_b558, hypTCR: 0x8082_b510,
            s2Ops: [
                .map(0x4000_0000, size: 0x400_0000, .rwx), .map(0x4400_0000, size: 0x4000, [.rwx, .sw0]),
                .map(0x4400_4000, size: 0x4000, .rw), .map(0x0900_0000, size: 0x4000, .rw),
                .ownerHyp(0x4400_8000, size: 0x4000),
            ],
            hypOps: [
                hyp(0x4008_0000, 0x4000, [.r, .x]), hyp(0x4009_0000, 0x4000, .rw), hyp(0x400a_0000, 0x4000, .r),
                hyp(0x4200_0000, 0x200_0000, .rw), hyp(0x0900_0000, 0x4000, [.r, .w, .device]),
            ],
            probes: [
                (0x4000_1234, .leaf(level: 2, pa: 0x4000_1234)), (0x4200_0008, .leaf(level: 2, pa: 0x4200_0008)),
                (0x4400_0010, .leaf(level: 3, pa: 0x4400_0010)), (0x4400_4000, .leaf(level: 3, pa: 0x4400_4000)),
                (0x0900_0000, .leaf(level: 3, pa: 0x0900_0000)), (0x4400_8000, .fault(level: 3)),
                (0x4400_c000, .fault(level: 3)), (0x4600_0000, .fault(level: 2)), (0x10_0000_0000, .fault(level: 2)),
                (0x100_0000_0000, .outOfRange),
            ]),
        FixtureSpec(
            name: "s2-64k", granule: .k64, lpa2: false, vtcr: 0x8002_7558, hypTCR: 0x8082_7510,
            s2Ops: [
                .map(0x4000_0000, size: 0x2000_0000, .rwx), .map(0x6000_0000, size: 0x1_0000, [.rwx, .sw0]),
                .map(0x6001_0000, size: 0x1_0000, .rw), .map(0x0900_0000, size: 0x1_0000, .rw),
                .ownerHyp(0x6002_0000, size: 0x1_0000),
            ],
            hypOps: [
                hyp(0x4008_0000, 0x1_0000, [.r, .x]), hyp(0x4009_0000, 0x1_0000, .rw), hyp(0x400a_0000, 0x1_0000, .r),
                hyp(0x6000_0000, 0x2000_0000, .rw), hyp(0x0900_0000, 0x1_0000, [.r, .w, .device]),
            ],
            probes: [
                (0x4000_1234, .leaf(level: 2, pa: 0x4000_1234)), (0x5fff_fff8, .leaf(level: 2, pa: 0x5fff_fff8)),
                (0x6000_0010, .leaf(level: 3, pa: 0x6000_0010)), (0x6001_0000, .leaf(level: 3, pa: 0x6001_0000)),
                (0x0900_0000, .leaf(level: 3, pa: 0x0900_0000)), (0x6002_0000, .fault(level: 3)),
                (0x6003_0000, .fault(level: 3)), (0x8000_0000, .fault(level: 2)), (0x100_0000_0000, .outOfRange),
            ]),
        FixtureSpec(
            name: "lpa2", granule: .k4, lpa2: true, vtcr: 0x1_8006_358c, hypTCR: 0x1_8086_3510,
            s2Ops: [
                .map(0x4000_0000, size: 0x20_0000, .rwx), .map(0x0900_0000, size: 0x1000, .rw),
                .map(0x8_0000_4000_0000, size: 0x1000, .rwx), .ownerHyp(0x4020_0000, size: 0x1000),
            ],
            hypOps: [
                hyp(0x4008_0000, 0x1000, [.r, .x]), hyp(0x4009_0000, 0x1000, .rw),
                HypOp(va: 0x8000_4040_0000, size: 0x20_0000, phys: 0x8_0000_4040_0000, prot: .rw),
                hyp(0x0900_0000, 0x1000, [.r, .w, .device]),
            ],
            probes: [
                (0x4000_1234, .leaf(level: 2, pa: 0x4000_1234)), (0x0900_0000, .leaf(level: 3, pa: 0x0900_0000)),
                (0x8_0000_4000_0010, .leaf(level: 3, pa: 0x8_0000_4000_0010)), (0x4020_0000, .fault(level: 3)),
                (0x4020_1000, .fault(level: 3)), (0x4040_0000, .fault(level: 2)),
                (0x8_0000_8000_0000, .fault(level: 1)), (0x1_0000_0000_0000, .fault(level: 0)),
                (0xf_ffff_ffff_f000, .fault(level: 0)),
            ]),
    ]
}
