import Mem
import Pgtable
import XCTest

/// FEAT_LPA2 (DS=1) stage 2 with 4K pages and a 52-bit IPA, derived by hand from Linux v6.14.
///
/// `kvm_get_vtcr(.., 52)`: `stage2_pgtable_levels(52) = (52 - 8) / 9 = 4`, SL0 = 2, start level 0 — the
/// kernel never uses the extra level -1 (its comment: "we always use concatenated pages for the first level
/// lookup"), so it sets DS but not SL2. `kvm_pgd_pages(52, 0) = ((2^52 - 1) >> kvm_granule_shift(-1) = 48) + 1
/// = 16` concatenated root pages: `zalloc_pages_exact(64K)` at 0x4000_0000..0x4000_f000, tables from
/// 0x4001_0000. Descriptors: `kvm_phys_to_pte` with LPA2 keeps PA[49:12] in place and puts PA[51:50] in
/// `KVM_PTE_ADDR_51_50_LPA2` (bits 9:8); `stage2_set_prot_attr` leaves SH out (`!kvm_lpa2_is_enabled()`).
/// RW (FWB) = 0x18 | 0x40 | 0x80 | 0x400 | XN = 0x0040_0000_0000_04d8.
final class Stage2LPA2Tests: XCTestCase {
    func testLPA2Stage2() throws {
        let f = try TableFixture(granule: .k4, pages: 32)
        let g = try Geometry.kernelStage2(granule: .k4, ipaBits: 52, lpa2: true)
        XCTAssertEqual(g.startLevel, 0)
        XCTAssertEqual(g.rootPages, 16)
        XCTAssertEqual(g.vtcr[VTCR.sl0], 2)
        XCTAssertEqual(g.vtcr[VTCR.ds], 1)
        XCTAssertEqual(g.vtcr[VTCR.sl2], 0)
        let s2 = try Stage2Table(mm: f.pool, geometry: g)
        XCTAssertEqual(f.pool.usedPages, 16)

        // IPA 0xf_0000_0000_0000: root page (addr >> 48) = 15 (0x4000_f000), level-0 entry (addr >> 39) & 511
        // = 0; level 0 holds no blocks, so tables 0x4001_0000 (level 1), 0x4001_1000 (level 2),
        // 0x4001_2000 (level 3). PA 0x4_0000_1234_5000: PA[51:50] = 0b01 → bits 9:8 = 0x100;
        // pte = 0x1234_5000 | 0x100 | 0x4d8 | 3 | XN.
        try s2.map(0xf_0000_0000_0000, size: 0x1000, phys: 0x4_0000_1234_5000, prot: .rw)
        try f.assertTable(0x4000_f000, granule: .k4, [0x4000_f000: 0x4001_0003])
        try f.assertTable(0x4001_0000, granule: .k4, [0x4001_0000: 0x4001_1003])
        try f.assertTable(0x4001_1000, granule: .k4, [0x4001_1000: 0x4001_2003])
        try f.assertTable(0x4001_2000, granule: .k4, [0x4001_2000: 0x0040_0000_1234_55db])
        XCTAssertEqual(f.count(0x4000_f000), 2)
        XCTAssertEqual(f.count(0x4000_0000), 1)
        let leaf = try s2.getLeaf(0xf_0000_0000_0fff)
        XCTAssertEqual(leaf.level, 3)
        XCTAssertEqual(leaf.pte.outputAddress(granule: .k4, format: .lpa2), 0x4_0000_1234_5000)
        // A 1G block with PA[51:50] = 0b11 at level 1 (IPA 0xf_0000_4000_0000, level-1 entry 1).
        try s2.map(0xf_0000_4000_0000, size: 0x4000_0000, phys: 0xc_0000_4000_0000, prot: .rwx)
        XCTAssertEqual(try f.entry(0x4001_0008), 0x0000_0000_4000_07d9)
    }

    /// 16K with DS=1 and a 52-bit IPA: `stage2_pgtable_levels(52) = (52 - 8) / 11 = 4`, SL0 = 3, start level 0;
    /// `kvm_pgd_pages(52, 0) = ((2^52 - 1) >> kvm_granule_shift(-1) = 58) + 1 = 1` root page (its level-0 table
    /// resolves PA[51:47], 32 of its 2048 entries). Level shifts L0 47, L1 36, L2 25, L3 14.
    func testLPA2Stage2With16KPages() throws {
        let f = try TableFixture(granule: .k16, pages: 16)
        let g = try Geometry.kernelStage2(granule: .k16, ipaBits: 52, lpa2: true)
        XCTAssertEqual([g.startLevel, g.rootPages], [0, 1])
        XCTAssertEqual(g.vtcr[VTCR.sl0], 3)
        let s2 = try Stage2Table(mm: f.pool, geometry: g)
        // IPA 0xf_0000_0000_0000: level-0 entry (addr >> 47) & 2047 = 30 (offset 0xf0) → table 0x4000_4000;
        // level-1 entry (addr >> 36) & 2047 = 0 → 0x4000_8000; level-2 entry 0 → 0x4000_c000; level-3 entry 0:
        // PA 0x8_0000_1234_4000 → PA[49:14] 0x1234_4000 in place, PA[51:50] = 0b10 → 0x200;
        // 0x1234_4000 | 0x200 | 0x4d8 | 3 | XN.
        try s2.map(0xf_0000_0000_0000, size: 0x4000, phys: 0x8_0000_1234_4000, prot: .rw)
        try f.assertTable(0x4000_0000, granule: .k16, [0x4000_00f0: 0x4000_4003])
        try f.assertTable(0x4000_4000, granule: .k16, [0x4000_4000: 0x4000_8003])
        try f.assertTable(0x4000_8000, granule: .k16, [0x4000_8000: 0x4000_c003])
        try f.assertTable(0x4000_c000, granule: .k16, [0x4000_c000: 0x0040_0000_1234_46db])
        // A 32M block (KVM_PGTABLE_MIN_BLOCK_LEVEL 2) at level-2 entry 1, RWX, PA 0x4_0000_0400_0000:
        // 0x400_0000 | 0x100 | 0x4d8 | 1.
        try s2.map(0xf_0000_0200_0000, size: 0x200_0000, phys: 0x4_0000_0400_0000, prot: .rwx)
        XCTAssertEqual(try f.entry(0x4000_8008), 0x0400_05d9)
        XCTAssertEqual(f.allocated, [0x4000_0000: 2, 0x4000_4000: 2, 0x4000_8000: 3, 0x4000_c000: 2])
    }
}
