import Pgtable
import XCTest

/// Descriptor fields at their Arm ARM / `KVM_PTE_*` positions, and the output-address layouts of
/// `kvm_phys_to_pte` / `kvm_pte_to_phys` (Linux v6.14 `kvm_pgtable.h`).
final class DescriptorTests: XCTestCase {
    func testFieldMasks() {
        XCTAssertEqual(Descriptor.valid.mask, 0x1)
        XCTAssertEqual(Descriptor.type.mask, 0x2)
        XCTAssertEqual(Descriptor.memAttr.mask, 0x3c)  // KVM_PTE_LEAF_ATTR_LO_S2_MEMATTR GENMASK(5, 2)
        XCTAssertEqual(Descriptor.s2ap.mask, 0xc0)
        XCTAssertEqual(Descriptor.sh.mask, 0x300)
        XCTAssertEqual(Descriptor.af.mask, 0x400)
        XCTAssertEqual(Descriptor.dbm.mask, 1 << 51)
        XCTAssertEqual(Descriptor.contiguous.mask, 1 << 52)
        XCTAssertEqual(Descriptor.xn.mask, 3 << 53)
        XCTAssertEqual(Descriptor.sw.mask, 0x0780_0000_0000_0000)  // KVM_PTE_LEAF_ATTR_HI_SW GENMASK(58, 55)
        XCTAssertEqual(Descriptor.attrLo.mask, 0xffc)  // KVM_PTE_LEAF_ATTR_LO GENMASK(11, 2)
        XCTAssertEqual(Descriptor.attrHi.mask, 0xfffc_0000_0000_0000)  // KVM_PTE_LEAF_ATTR_HI GENMASK(63, 50)
        XCTAssertEqual(Descriptor.ownerID.mask, 0x3fc)  // KVM_INVALID_PTE_OWNER_MASK GENMASK(9, 2)
        XCTAssertEqual(Descriptor.locked.mask, 0x400)  // KVM_INVALID_PTE_LOCKED BIT(10)
    }

    func testFieldAccess() {
        var d = Descriptor(0x0040_0000_8000_07db)
        XCTAssertEqual(d[Descriptor.memAttr], 6)
        XCTAssertEqual(d[Descriptor.s2ap], 3)
        XCTAssertEqual(d[Descriptor.sh], 3)
        XCTAssertEqual(d[Descriptor.af], 1)
        XCTAssertEqual(d[Descriptor.xn], 2)
        d[Descriptor.sw] = 0b1010
        XCTAssertEqual(d.rawValue, 0x0540_0000_8000_07db)
        XCTAssertTrue(d.isValid)
        XCTAssertFalse(d.isTable(at: 3), "kvm_pte_table is false at the last level")
        XCTAssertTrue(Descriptor(0x4000_2003).isTable(at: 2))
        XCTAssertFalse(Descriptor(0x4000_2001).isTable(at: 2))
        // kvm_init_invalid_leaf_owner(1) = 0x4.
        XCTAssertEqual(Descriptor.invalidOwner(1).rawValue, 0x4)
    }

    /// `kvm_phys_to_pte`: 48-bit (GENMASK(47, PAGE_SHIFT)); 64K: PA[51:48] into GENMASK(15, 12);
    /// LPA2: GENMASK(49, PAGE_SHIFT) in place and PA[51:50] into GENMASK(9, 8).
    func testOutputAddressFormats() {
        XCTAssertEqual(OutputAddressFormat.pa48.bits(for: 0xffff_1234_5678_9fff, shift: 12), 0x1234_5678_9000)
        XCTAssertEqual(OutputAddressFormat.pa48.address(of: 0xfff0_1234_5678_9fff, shift: 12), 0x1234_5678_9000)
        XCTAssertEqual(OutputAddressFormat.pa48.bits(for: 0x1234_5678_ffff, shift: 14), 0x1234_5678_c000)
        XCTAssertEqual(OutputAddressFormat.lpa.bits(for: 0xa_1234_5678_0000, shift: 16), 0x1234_5678_a000)
        XCTAssertEqual(OutputAddressFormat.lpa.address(of: 0x1234_5678_a7db, shift: 16), 0xa_1234_5678_0000)
        XCTAssertEqual(OutputAddressFormat.lpa2.bits(for: 0xe_1234_5678_9000, shift: 12), 0x2_1234_5678_9300)
        XCTAssertEqual(OutputAddressFormat.lpa2.address(of: 0x2_1234_5678_93db, shift: 12), 0xe_1234_5678_9000)
        XCTAssertEqual(OutputAddressFormat.lpa2.bits(for: 0xd_0000_0000_4000, shift: 14), 0x1_0000_0000_4300)
        XCTAssertEqual(OutputAddressFormat.kernel(granule: .k64, lpa2: false), .lpa)
        XCTAssertEqual(OutputAddressFormat.kernel(granule: .k4, lpa2: false), .pa48)
        XCTAssertEqual(OutputAddressFormat.kernel(granule: .k16, lpa2: true), .lpa2)
    }

    /// `kvm_init_valid_leaf_pte` / `kvm_init_table_pte`.
    func testLeafAndTableConstructors() {
        let attr: UInt64 = 0x0040_0000_0000_07d8
        XCTAssertEqual(
            Descriptor.leaf(0x8000_0000, attributes: attr, level: 3, granule: .k4, format: .pa48).rawValue,
            0x0040_0000_8000_07db)
        XCTAssertEqual(
            Descriptor.leaf(0x4000_0000, attributes: attr, level: 1, granule: .k4, format: .pa48).rawValue,
            0x0040_0000_4000_07d9)
        // Bits outside KVM_PTE_LEAF_ATTR_LO | _HI are dropped from attr.
        XCTAssertEqual(
            Descriptor.leaf(0x8000_0000, attributes: 0x3, level: 3, granule: .k4, format: .pa48).rawValue,
            0x8000_0003)
        XCTAssertEqual(Descriptor.table(0x4000_4000, granule: .k16, format: .pa48).rawValue, 0x4000_4003)
        XCTAssertEqual(Descriptor.table(0xf_0000_4004_0000, granule: .k64, format: .lpa).rawValue, 0x4004_f003)
    }
}
