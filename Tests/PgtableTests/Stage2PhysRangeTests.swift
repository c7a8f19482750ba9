import Mem
import Pgtable
import XCTest

/// Output addresses the kernel's descriptors cannot hold (Linux v6.14 `pgtable.c`): `kvm_phys_is_valid(phys)`
/// is `phys < BIT(id_aa64mmfr0_parange_to_phys_shift(kvm_get_parange_max()))`, where `kvm_get_parange_max`
/// is PARANGE_52 with LPA2 or 64K pages and PARANGE_48 otherwise. For an invalid PA:
/// - `kvm_block_mapping_supported` skips the PA alignment check;
/// - `stage2_map_walker_phys_addr` does not offset it;
/// - `stage2_map_walker_try_leaf` builds `kvm_init_invalid_leaf_owner(data->owner_id)` instead of a leaf;
///   for `kvm_pgtable_stage2_map` owner_id is 0, so the entry written is 0 (break, then make of an
///   uncounted 0): no error, no mapping, but the tables on the way down stay allocated.
final class Stage2PhysRangeTests: XCTestCase {
    func testMapBeyondPARangeMaxWritesNothing4K() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40))
        // IPA 0x8000_0000, 2M, PA 2^48: level 1 (1G) does not fit → -E2BIG → table 0x4000_2000 at R0[2];
        // level 2 entry 0: block "supported" (PA alignment not checked), new = 0 → T2[0] stays 0.
        try s2.map(0x8000_0000, size: 0x20_0000, phys: 1 << 48, prot: .rw)
        try f.assertTable(0x4000_0000, granule: .k4, [0x4000_0010: 0x4000_2003])
        try f.assertTable(0x4000_2000, granule: .k4, [:])
        XCTAssertEqual(f.allocated, [0x4000_0000: 2, 0x4000_1000: 1, 0x4000_2000: 1])
        // A page: level 2 entry 1 gets table 0x4000_3000, whose entry 0 stays 0. An unaligned invalid PA is
        // fine too (the alignment check is skipped).
        try s2.map(0x8020_0000, size: 0x1000, phys: (1 << 48) + 0x1234_5000, prot: .rw)
        try f.assertTable(0x4000_2000, granule: .k4, [0x4000_2008: 0x4000_3003])
        try f.assertTable(0x4000_3000, granule: .k4, [:])
        XCTAssertEqual(f.count(0x4000_3000), 1)
        // An existing mapping is broken and left empty: the old page's reference is dropped.
        try s2.map(0x8020_1000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        XCTAssertEqual(f.count(0x4000_3000), 2)
        try s2.map(0x8020_1000, size: 0x1000, phys: 1 << 48, prot: .rw)
        try f.assertTable(0x4000_3000, granule: .k4, [:])
        XCTAssertEqual(f.count(0x4000_3000), 1)
    }

    /// With 64K pages the limit is 52 bits: PA[51:48] is representable (bits 15:12), 2^52 is not.
    func testMapBeyondPARangeMax64K() throws {
        let f = try TableFixture(granule: .k64, pages: 16)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k64, ipaBits: 44))
        // IPA 0: root page 0, level-2 entry 0, 64K page → table 0x4004_0000 with entry 0 left 0.
        try s2.map(0, size: 0x1_0000, phys: 1 << 52, prot: .rw)
        try f.assertTable(0x4000_0000, granule: .k64, [0x4000_0000: 0x4004_0003])
        try f.assertTable(0x4004_0000, granule: .k64, [:])
        try s2.map(0x1_0000, size: 0x1_0000, phys: 0xf_ffff_ffff_0000, prot: .rw)
        try f.assertTable(0x4004_0000, granule: .k64, [0x4004_0008: 0x0040_ffff_ffff_f7db])
    }

    /// hyp_map_walker_try_leaf uses kvm_block_mapping_supported too: an invalid PA skips the alignment check,
    /// and kvm_init_valid_leaf_pte keeps only the bits kvm_phys_to_pte holds.
    func testHypBlockWithInvalidPA() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let hyp = try HypTable(mm: f.pool, geometry: Geometry.kernelHyp(granule: .k4, vaBits: 48))
        // VA 0x4000_0000, 1G, PA 2^48 + 0x1000 (not 1G aligned, but invalid): a level-1 block at L1[1] whose
        // address bits are (2^48 + 0x1000) & GENMASK(47, 12) = 0x1000; RW = 0x0040_0000_0000_0740 | 1.
        try hyp.map(0x4000_0000, size: 0x4000_0000, phys: (1 << 48) + 0x1000, prot: .rw)
        try f.assertTable(0x4000_1000, granule: .k4, [0x4000_1008: 0x0040_0000_0000_1741])
    }
}
