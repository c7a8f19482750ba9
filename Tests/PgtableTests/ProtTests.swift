import Pgtable
import XCTest

/// `enum kvm_pgtable_prot`, `stage2_set_prot_attr` and `kvm_pgtable_stage2_pte_prot` (Linux v6.14).
final class ProtTests: XCTestCase {
    func testProtBits() {
        XCTAssertEqual(Prot.x.rawValue, 1)
        XCTAssertEqual(Prot.w.rawValue, 2)
        XCTAssertEqual(Prot.r.rawValue, 4)
        XCTAssertEqual(Prot.device.rawValue, 8)
        XCTAssertEqual(Prot.normalNC.rawValue, 16)
        XCTAssertEqual(Prot.sw0.rawValue, 1 << 55)
        XCTAssertEqual(Prot.sw3.rawValue, 1 << 58)
    }

    /// stage2_set_prot_attr: MemAttr (KVM_S2_MEMATTR: FWB NORMAL 6, NORMAL_NC 5, DEVICE_nGnRE 1; without FWB
    /// NORMAL 0xf, NORMAL_NC 5, DEVICE_nGnRE 1, each << 2), XN BIT(54) unless X, S2AP_R 0x40, S2AP_W 0x80,
    /// SH_IS 0x300 unless LPA2, AF 0x400, software bits passed through.
    func testStage2Attributes() throws {
        func a(_ p: Prot, fwb: Bool = true, lpa2: Bool = false) throws -> UInt64 {
            try Stage2Attributes.attributes(for: p, fwb: fwb, lpa2: lpa2)
        }
        XCTAssertEqual(try a(.rwx), 0x7d8)
        XCTAssertEqual(try a(.rw), 0x0040_0000_0000_07d8)
        XCTAssertEqual(try a(.rwx, fwb: false), 0x7fc)
        XCTAssertEqual(try a([]), 0x0040_0000_0000_0718)
        XCTAssertEqual(try a(.rw, lpa2: true), 0x0040_0000_0000_04d8)
        XCTAssertEqual(try a([.r, .device]), 0x0040_0000_0000_0744)
        XCTAssertEqual(try a([.r, .device], fwb: false), 0x0040_0000_0000_0744)
        XCTAssertEqual(try a([.r, .normalNC]), 0x0040_0000_0000_0754)
        XCTAssertEqual(try a([.r, .sw0, .sw1]), 0x01c0_0000_0000_0758)
        XCTAssertThrowsError(try a([.device, .normalNC]))
        XCTAssertThrowsError(try a([.r, .device, .x]))
        XCTAssertThrowsError(try a([.r, .normalNC, .x]))
    }

    /// kvm_pgtable_stage2_pte_prot: software bits always; R, W from S2AP and X when BIT(54) is clear, only for
    /// a valid pte.
    func testStage2PteProt() {
        XCTAssertEqual(Stage2Attributes.prot(of: Descriptor(0x0040_0000_8000_07db)), .rw)
        XCTAssertEqual(Stage2Attributes.prot(of: Descriptor(0x0000_0000_8000_075b)), [.r, .x])
        XCTAssertEqual(Stage2Attributes.prot(of: Descriptor(0x0180_0000_8000_0719)), [.x, .sw0, .sw1])
        XCTAssertEqual(Stage2Attributes.prot(of: Descriptor(0x0080_0000_0000_00c0)), .sw0)  // invalid
        XCTAssertEqual(Stage2Attributes.prot(of: Descriptor(0x0020_0000_8000_07db)), .rwx)  // bit 53 ignored
    }
}
