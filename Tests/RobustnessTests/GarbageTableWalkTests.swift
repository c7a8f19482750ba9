import Mem
import Pgtable
import XCTest

/// The kernel-side walker (`PgtableRoot.walk` = `kvm_pgtable_walk`, `leaf` = `kvm_pgtable_get_leaf`,
/// `trace`) over tables full of garbage, for every granule and a spread of geometries: each call returns a
/// result or throws a typed `PgtableError`, never traps, never loops (the number of callbacks is bounded by
/// the range and the number of levels), never goes below the last level, and never writes memory (the
/// visitor changes nothing, so neither may the walk). TranslateTests covers the architectural walker.
final class GarbageTableWalkTests: XCTestCase {
    /// Counts callbacks and the deepest level seen; changes nothing.
    struct Counter: PgtableVisitor {
        var visits = 0
        var deepest = -2
        mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
            visits += 1
            deepest = max(deepest, ctx.level)
            return 0
        }
    }

    /// (granule, input bits, start level, LPA2): the kernel's stage-2 shapes plus a 5-level LPA2 one.
    static let shapes: [(Granule, Int, Int, Bool)] = [
        (.k4, 40, 1, false), (.k4, 48, 0, false), (.k4, 52, -1, true), (.k4, 34, 2, false),
        (.k16, 40, 2, false), (.k16, 47, 1, false), (.k16, 52, 0, true), (.k64, 42, 2, false), (.k64, 52, 1, false),
    ]

    func testGarbageTablesTerminateWithTypedErrors() throws {
        var rng = SplitMix64(seed: 0x6a7b_a9e)
        let base: UInt64 = 0x4000_0000
        let size: UInt64 = 1 << 20
        let mem = try PhysMem(base: PhysAddr(base), size: size)
        var outcomes = [String: Int]()
        for (granule, iaBits, start, lpa2) in Self.shapes {
            let g = try Geometry(granule: granule, iaBits: iaBits, startLevel: start, oaBits: lpa2 ? 52 : 48, lpa2: lpa2)
            for round in 0..<4 {
                // Garbage; most table descriptors steered back into the 1 MiB so the walks go deep, some
                // left pointing anywhere (unbacked), some self-referencing.
                let words = try mem.pointer(PhysAddr(base), size: size).bindMemory(to: UInt64.self, capacity: Int(size / 8))
                for i in 0..<Int(size / 8) {
                    var d = rng.next()
                    switch rng.below(4) {
                    case 0, 1: d = (d & ~g.format.addressMask(shift: granule.shift)) | g.format.bits(for: base + rng.below(size) & ~(granule.size - 1), shift: granule.shift)
                    case 2: d |= 3
                    default: break
                    }
                    words[i] = d.littleEndian
                }
                let before = try mem.read(PhysAddr(base), count: Int(size))
                let root = PgtableRoot(root: PhysAddr(base + rng.below(size / granule.size) * granule.size), geometry: g)
                for _ in 0..<16 {
                    let addr = rng.below(2) == 0 ? rng.next() : rng.below(g.inputSize)
                    let pages = rng.below(64)
                    do {
                        let (pte, level) = try root.leaf(mem: mem, addr: addr)
                        XCTAssertTrue((g.startLevel...3).contains(level), "\(g) round \(round): level \(level)")
                        XCTAssertTrue(level == 3 || !pte.isValid || pte.rawValue & 2 == 0, "get_leaf stopped on a table")
                        outcomes["leaf", default: 0] += 1
                    } catch let e {
                        outcomes[Self.kind(e), default: 0] += 1
                    }
                    do {
                        let steps = try root.trace(mem: mem, addr: addr)
                        XCTAssertTrue((1...g.levels).contains(steps.count), "\(g): \(steps.count) steps")
                        XCTAssertEqual(steps.map(\.level), Array(g.startLevel..<(g.startLevel + steps.count)))
                    } catch let e {
                        outcomes[Self.kind(e), default: 0] += 1
                    }
                    var c = Counter()
                    do {
                        let r = try root.walk(
                            mem: mem, addr: addr, size: pages * granule.size, flags: [.leaf, .tablePre, .tablePost],
                            visitor: &c)
                        XCTAssertEqual(r, 0)
                        outcomes["walk", default: 0] += 1
                    } catch let e {
                        outcomes[Self.kind(e), default: 0] += 1
                    }
                    // At most one leaf or two table visits per entry, one entry per page and level (+1 for a
                    // range that starts inside an entry).
                    XCTAssertLessThanOrEqual(c.visits, 2 * Int(pages + 1) * g.levels, "\(g): \(c.visits) visits")
                    XCTAssertLessThanOrEqual(c.deepest, 3)
                }
                XCTAssertTrue(try mem.read(PhysAddr(base), count: Int(size)) == before, "\(g): a read-only walk wrote")
            }
        }
        // Every kind of outcome happened (the garbage reaches deep leaves, unbacked tables and the range end).
        for k in ["leaf", "walk", "outOfRange", "unbackedTable"] {
            XCTAssertGreaterThan(outcomes[k, default: 0], 0, "no \(k) outcome: \(outcomes)")
        }
    }

    /// `trace` of the very last address of the 64-bit space is `-ERANGE`, not an arithmetic trap
    /// (found by FuzzTranslate: `end: addr + 1` overflowed).
    func testTraceOfTheLastAddressIsOutOfRange() throws {
        let mem = try PhysMem(base: PhysAddr(0), size: 0x1000)
        let root = PgtableRoot(root: PhysAddr(0), geometry: try Geometry.kernelStage2(granule: .k4, ipaBits: 40))
        XCTAssertThrowsError(try root.trace(mem: mem, addr: UInt64.max)) { e in
            guard case .outOfRange(let start, _, let limit)? = e as? PgtableError else {
                return XCTFail("\(e)")
            }
            XCTAssertEqual(start, UInt64.max)
            XCTAssertEqual(limit, 1 << 40)
            XCTAssertTrue("\(e)".contains("0x10000000000"), "\(e)")
        }
    }

    /// The outcome's name; also checks that the error's text names the range or the table address.
    static func kind(_ e: PgtableError) -> String {
        switch e {
        case .outOfRange(let start, let end, let limit):
            XCTAssertEqual(
                "\(e)",
                "-ERANGE: range 0x\(String(start, radix: 16))-0x\(String(end, radix: 16)) reaches past the input"
                    + " address space, which ends at 0x\(String(limit, radix: 16))")
            return "outOfRange"
        case .unbackedTable(.outOfRange(let address, let size)):
            XCTAssertEqual(
                "\(e)", "walk left backed memory: physical access of \(size) bytes at \(address) is outside backed memory")
            return "unbackedTable"
        default: return "\(e)"
        }
    }
}
