import Mem
import Pgtable
import XCTest

/// Bit-exact stage-2 vectors for the 16K granule, derived by hand from Linux v6.14 `pgtable.c`.
///
/// Regime: `kvm_get_vtcr(.., 42)`: `stage2_pgtable_levels(42) = (42 - 8) / 11 = 3` levels, SL0 = 2 (16K
/// `VTCR_EL2_TGRAN_SL0_BASE` is 3), start level 1; `kvm_pgd_pages(42, 1) = ((2^42 - 1) >> kvm_granule_shift(0)
/// = 47) + 1 = 1` root page, at the pool start 0x4000_0000. Tables follow lowest first: 0x4000_4000,
/// 0x4000_8000, 0x4000_c000… Level shifts: L1 36, L2 25 (32 MiB blocks, KVM_PGTABLE_MIN_BLOCK_LEVEL 2),
/// L3 14. Entries per table: 2048.
/// Attributes as for 4K (FWB): RW = 0x0040_0000_0000_07d8; page = | 3, block = | 1, table = phys | 3.
final class Stage2Vectors16KTests: XCTestCase {
    let root: UInt64 = 0x4000_0000
    let t1: UInt64 = 0x4000_4000
    let t2: UInt64 = 0x4000_8000
    let t3: UInt64 = 0x4000_c000

    func testMapUnmapSequence() throws {
        let f = try TableFixture(granule: .k16, pages: 32)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k16, ipaBits: 42))
        XCTAssertEqual(s2.geometry.startLevel, 1)
        XCTAssertEqual(f.allocated, [root: 1])

        // Step A — two pages at IPA 0x1_0000_0000 (stage2_map_walk_leaf): root entry (addr >> 36) & 2047 = 0
        // gets table 0x4000_4000 (level 1 never holds blocks with 16K: -E2BIG); level-2 entry
        // (0x1_0000_0000 >> 25) & 2047 = 128 (offset 0x400) gets table 0x4000_8000; level-3 entries 0 and 1
        // get pages 0x1_0000_0000 and 0x1_0000_4000.
        try s2.map(0x1_0000_0000, size: 0x8000, phys: 0x1_0000_0000, prot: .rw)
        try f.assertTable(root, granule: .k16, [root: 0x4000_4003])
        try f.assertTable(t1, granule: .k16, [t1 + 0x400: 0x4000_8003])
        try f.assertTable(t2, granule: .k16, [t2: 0x0040_0001_0000_07db, t2 + 8: 0x0040_0001_0000_47db])
        XCTAssertEqual(f.allocated, [root: 2, t1: 2, t2: 3])

        // Step B — a 32M block at IPA 0x1_0200_0000 (level-2 entry 129) to 0x2_0000_0000.
        try s2.map(0x1_0200_0000, size: 0x200_0000, phys: 0x2_0000_0000, prot: .rw)
        try f.assertTable(t1, granule: .k16, [t1 + 0x400: 0x4000_8003, t1 + 0x408: 0x0040_0002_0000_07d9])
        XCTAssertEqual(f.count(t1), 3)

        // Step C — one page inside that block: -E2BIG at level 2, a new table 0x4000_c000 replaces the block
        // (put/get on T1 keeps it at 3) and holds only level-3 entry (0x1_0200_4000 >> 14) & 2047 = 1.
        try s2.map(0x1_0200_4000, size: 0x4000, phys: 0x3_0000_0000, prot: .rw)
        try f.assertTable(t1, granule: .k16, [t1 + 0x400: 0x4000_8003, t1 + 0x408: 0x4000_c003])
        try f.assertTable(t3, granule: .k16, [t3 + 8: 0x0040_0003_0000_07db])
        XCTAssertEqual(f.allocated, [root: 2, t1: 3, t2: 3, t3: 2])

        // Step D — a 32M block over the table at T1[128] (stage2_map_walk_table_pre then
        // kvm_pgtable_stage2_free_unlinked): T2's two entries are put (3 → 1) and T2 is freed.
        try s2.map(0x1_0000_0000, size: 0x200_0000, phys: 0x4_0000_0000, prot: .rw)
        try f.assertTable(t1, granule: .k16, [t1 + 0x400: 0x0040_0004_0000_07d9, t1 + 0x408: 0x4000_c003])
        XCTAssertEqual(f.allocated, [root: 2, t1: 3, t3: 2])

        // Step E — a partial unmap inside that block removes the whole block (stage2_unmap_walker).
        try s2.unmap(0x1_0000_4000, size: 0x4000)
        try f.assertTable(t1, granule: .k16, [t1 + 0x408: 0x4000_c003])
        XCTAssertEqual(f.allocated, [root: 2, t1: 2, t3: 2])

        // Step F — unmapping the rest frees T3 (TABLE_POST of T1[129]) and then T1 (TABLE_POST of root[0]).
        try s2.unmap(0x1_0200_0000, size: 0x200_0000)
        try f.assertTable(root, granule: .k16, [:])
        XCTAssertEqual(f.allocated, [root: 1])

        // Step G — freed pages are reused lowest first: the same two-page map lands exactly as in step A.
        try s2.map(0x1_0000_0000, size: 0x8000, phys: 0x1_0000_0000, prot: .rw)
        try f.assertTable(root, granule: .k16, [root: 0x4000_4003])
        try f.assertTable(t1, granule: .k16, [t1 + 0x400: 0x4000_8003])
        XCTAssertEqual(f.allocated, [root: 2, t1: 2, t2: 3])

        // Step H — set_owner over a mapped page and an unmapped one (page by page, owner 1 → 0x4), then
        // wrprotect the other mapped page, mkyoung it, and relax it to RWX.
        try s2.setOwner(0x1_0000_0000, size: 0x4000, owner: 1)
        try s2.setOwner(0x1_0000_8000, size: 0x4000, owner: 1)
        try s2.wrprotect(0x1_0000_4000, size: 0x4000)
        XCTAssertEqual(try f.entry(t2 + 8), 0x0040_0001_0000_475b)
        _ = try s2.testClearYoung(0x1_0000_4000, size: 0x4000, mkold: true)
        XCTAssertEqual(try f.entry(t2 + 8), 0x0040_0001_0000_435b)
        try s2.mkyoung(0x1_0000_4000)
        try s2.relaxPerms(0x1_0000_4000, prot: .rwx)
        try f.assertTable(t2, granule: .k16, [t2: 4, t2 + 8: 0x0000_0001_0000_47db, t2 + 16: 4])
        XCTAssertEqual(f.allocated, [root: 2, t1: 2, t2: 4])
    }
}
