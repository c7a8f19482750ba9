import Mem
import Pgtable
import XCTest

/// Bit-exact stage-2 vectors for the 4K granule, derived by hand from Linux v6.14
/// `arch/arm64/kvm/hyp/pgtable.c` and `arch/arm64/include/asm/kvm_pgtable.h`.
///
/// Regime: `kvm_get_vtcr(.., 40)` gives `stage2_pgtable_levels(40) = (40 - 8) / 9 = 3` levels, so SL0 = 1,
/// start level 1; `kvm_pgd_pages(40, 1) = ((BIT(40) - 1) >> kvm_granule_shift(0)) + 1 = (2^40 - 1) >> 39 + 1 = 2`
/// concatenated root pages, allocated by `__kvm_pgtable_stage2_init` with `zalloc_pages_exact(2 * 4K)` at the
/// pool start: R0 = 0x4000_0000, R1 = 0x4000_1000. Table pages then come lowest first from 0x4000_2000.
/// Level shifts (`kvm_granule_shift`): L1 30, L2 21, L3 12.
///
/// Attributes (`stage2_set_prot_attr`, FWB, no LPA2): MemAttr `MT_S2_FWB_NORMAL` 6 << 2 = 0x18,
/// S2AP_R 0x40, S2AP_W 0x80, SH_IS 3 << 8 = 0x300, AF 0x400; XN `BIT(54)` unless X.
/// So RW = 0x0040_0000_0000_07d8, R = 0x0040_0000_0000_0758, RWX = 0x7d8.
/// `kvm_init_valid_leaf_pte` adds the type bit (page, level 3) and VALID: page = attr | 3, block = attr | 1.
/// `kvm_init_table_pte`: `phys | 3`.
final class Stage2Vectors4KTests: XCTestCase {
    let r0: UInt64 = 0x4000_0000
    let r1: UInt64 = 0x4000_1000

    func makeTable(_ f: TableFixture) throws -> Stage2Table<PagePool> {
        try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40))
    }

    func testRootIsTwoConcatenatedPagesAtPoolStart() throws {
        let f = try TableFixture(granule: .k4, pages: 64)
        let s2 = try makeTable(f)
        // __kvm_pgtable_stage2_init: zalloc_pages_exact(kvm_pgd_pages(40, 1) * PAGE_SIZE) = 2 pages, count 1 each.
        XCTAssertEqual(s2.root.rawValue, r0)
        XCTAssertEqual(f.allocated, [r0: 1, r1: 1])
        // _kvm_pgtable_walk picks the root page with kvm_pgd_page_idx: (addr & (BIT(40)-1)) >> 39.
        // IPA 0x80_0000_0000 (bit 39) goes to R1, entry (addr >> 30) & 511 = 0.
        try s2.map(0x80_0000_0000, size: 0x4000_0000, phys: 0x40_0000_0000, prot: .rw)
        // A 1 GiB block at level 1 (kvm_block_mapping_supported: level 1 >= KVM_PGTABLE_MIN_BLOCK_LEVEL 1,
        // granule fits, phys and addr 1G aligned): 0x40_0000_0000 | RW | 1.
        try f.assertTable(r1, granule: .k4, [r1: 0x0040_0040_0000_07d9])
        try f.assertTable(r0, granule: .k4, [:])
        XCTAssertEqual(f.allocated, [r0: 1, r1: 2])
    }

    /// One long sequence; each step's expected bytes and counts follow from the previous state.
    func testMapUnmapSequence() throws {
        let f = try TableFixture(granule: .k4, pages: 64)
        let s2 = try makeTable(f)
        let t2: UInt64 = 0x4000_2000
        let t3: UInt64 = 0x4000_3000
        let t4: UInt64 = 0x4000_4000
        let t5: UInt64 = 0x4000_5000

        // Step A — map two pages (kvm_pgtable_stage2_map → stage2_map_walk_leaf / stage2_map_walker_try_leaf).
        // IPA 0x8000_0000: R0 entry 2 (0x4000_0010) is empty; try_leaf at level 1 returns -E2BIG (1G > 8K), so
        // stage2_map_walk_leaf zallocs the lowest free page 0x4000_2000, breaks (old not counted) and
        // stage2_make_pte installs 0x4000_2003 with get_page(R0). The walk reloads and descends: level 2
        // entry (0x8000_0000 >> 21) & 511 = 0 likewise gets table 0x4000_3000. Level 3 entries 0 and 1 get
        // pages 0x8000_0000 | RW | 3 and 0x8000_1000 | RW | 3, each taking a reference on 0x4000_3000.
        try s2.map(0x8000_0000, size: 0x2000, phys: 0x8000_0000, prot: .rw)
        try f.assertTable(r0, granule: .k4, [r0 + 0x10: 0x4000_2003])
        try f.assertTable(t2, granule: .k4, [t2: 0x4000_3003])
        try f.assertTable(t3, granule: .k4, [t3: 0x0040_0000_8000_07db, t3 + 8: 0x0040_0000_8000_17db])
        XCTAssertEqual(f.allocated, [r0: 2, r1: 1, t2: 2, t3: 3])

        // Step B — a 2M block (kvm_block_mapping_supported at level 2). IPA 0x8040_0000 → R0[2] is a table:
        // stage2_map_walk_table_pre finds no 1G leaf allowed and returns 0; level 2 entry
        // (0x8040_0000 >> 21) & 511 = 2 gets 0x1_0040_0000 | R | 1 = 0x0040_0001_0040_0759.
        try s2.map(0x8040_0000, size: 0x20_0000, phys: 0x1_0040_0000, prot: .r)
        try f.assertTable(t2, granule: .k4, [t2: 0x4000_3003, t2 + 0x10: 0x0040_0001_0040_0759])
        XCTAssertEqual(f.count(t2), 3)

        // Step C — a 1G block, RWX (no XN): R0 entry 3 = 0x1_4000_0000 | 0x7d8 | 1.
        try s2.map(0xc000_0000, size: 0x4000_0000, phys: 0x1_4000_0000, prot: .rwx)
        try f.assertTable(r0, granule: .k4, [r0 + 0x10: 0x4000_2003, r0 + 0x18: 0x1_4000_07d9])
        XCTAssertEqual(f.count(r0), 3)

        // Step D — a page inside that block (stage2_map_walk_leaf): try_leaf at level 1 gives -E2BIG, a new
        // table 0x4000_4000 is zalloc'd, stage2_try_break_pte drops the block's reference on R0 (3 → 2) and
        // stage2_make_pte takes one for the table (→ 3). Nothing of the old block is copied: the walk descends
        // and builds level 2 (0x4000_5000 at entry 0) and sets only level-3 entry (0xc000_5000 >> 12) & 511 = 5.
        try s2.map(0xc000_5000, size: 0x1000, phys: 0x2_0000_0000, prot: .rw)
        try f.assertTable(r0, granule: .k4, [r0 + 0x10: 0x4000_2003, r0 + 0x18: 0x4000_4003])
        try f.assertTable(t4, granule: .k4, [t4: 0x4000_5003])
        try f.assertTable(t5, granule: .k4, [t5 + 5 * 8: 0x0040_0002_0000_07db])
        XCTAssertEqual(f.allocated, [r0: 3, r1: 1, t2: 3, t3: 3, t4: 2, t5: 2])

        // Step E — a 2M block over the existing table at T2[0] (stage2_map_walk_table_pre): the leaf is
        // allowed, try_leaf breaks the table entry (put T2: 3 → 2) and makes the block (get T2 → 3), then
        // kvm_pgtable_stage2_free_unlinked walks T3 with stage2_free_walker: its two counted entries each
        // put_page(T3) (3 → 1) and the final put_page frees it. The walk reloads the entry (now a block)
        // and moves on without a LEAF visit.
        try s2.map(0x8000_0000, size: 0x20_0000, phys: 0x3_0000_0000, prot: .rw)
        try f.assertTable(t2, granule: .k4, [t2: 0x0040_0003_0000_07d9, t2 + 0x10: 0x0040_0001_0040_0759])
        XCTAssertEqual(f.allocated, [r0: 3, r1: 1, t2: 3, t4: 2, t5: 2])
        XCTAssertEqual(try f.nonZeroEntries(t3, granule: .k4), [:], "a freed page is zeroed by the pool")

        // Step F — the freed page is reused first: a page at IPA 0x8060_0000 (T2 entry 3) needs a level-3
        // table, which is the lowest free page, 0x4000_3000 again.
        try s2.map(0x8060_0000, size: 0x1000, phys: 0x8060_0000, prot: .rw)
        try f.assertTable(t2, granule: .k4, [
            t2: 0x0040_0003_0000_07d9, t2 + 0x10: 0x0040_0001_0040_0759, t2 + 0x18: 0x4000_3003,
        ])
        try f.assertTable(t3, granule: .k4, [t3: 0x0040_0000_8060_07db])
        XCTAssertEqual(f.allocated, [r0: 3, r1: 1, t2: 4, t3: 2, t4: 2, t5: 2])

        // Step G — partial unmap inside the 2M block at T2[2] (stage2_unmap_walker): the LEAF visit sees a
        // valid block and stage2_unmap_put_pte clears it whole and puts T2 (4 → 3). The TABLE_POST visit of
        // R0[2] keeps T2 (page_count 3 != 1).
        try s2.unmap(0x8040_1000, size: 0x1000)
        try f.assertTable(t2, granule: .k4, [t2: 0x0040_0003_0000_07d9, t2 + 0x18: 0x4000_3003])
        XCTAssertEqual(f.count(t2), 3)

        // Step H — unmapping the whole 1G range frees the emptied tables: T5[5] is cleared (T5 2 → 1); the
        // TABLE_POST of T4[0] sees page_count(T5) == 1, clears it, puts T4 (2 → 1) and T5 (freed); the
        // TABLE_POST of R0[3] then does the same for T4 (R0 3 → 2, T4 freed).
        try s2.unmap(0xc000_0000, size: 0x4000_0000)
        try f.assertTable(r0, granule: .k4, [r0 + 0x10: 0x4000_2003])
        XCTAssertEqual(f.allocated, [r0: 2, r1: 1, t2: 3, t3: 2])

        // Step I — set_owner over part of the 2M block at T2[0] (kvm_pgtable_stage2_set_owner: force_pte,
        // phys KVM_PHYS_INVALID). TABLE_PRE at R0[2] allows no leaf (force_pte below the last level); the
        // LEAF visit of the block gets -E2BIG, so a table (lowest free: 0x4000_4000) replaces it (put/get T2:
        // stays 3). Each of the four pages gets kvm_init_invalid_leaf_owner(1) = FIELD_PREP(GENMASK(9, 2), 1)
        // = 0x4, counted (stage2_pte_is_counted: non-zero), so the new table's count is 1 + 4.
        try s2.setOwner(0x8000_0000, size: 0x4000, owner: 1)
        try f.assertTable(t2, granule: .k4, [t2: 0x4000_4003, t2 + 0x18: 0x4000_3003])
        try f.assertTable(t4, granule: .k4, [t4: 4, t4 + 8: 4, t4 + 16: 4, t4 + 24: 4])
        XCTAssertEqual(f.allocated, [r0: 2, r1: 1, t2: 3, t3: 2, t4: 5])
        XCTAssertEqual(try s2.getLeaf(0x8000_2abc).pte.rawValue, 4)
        XCTAssertEqual(try s2.getLeaf(0x8000_2abc).level, 3)

        // Step J — unmap removes annotations too (stage2_unmap_walker: invalid but counted → clear, put).
        try s2.unmap(0x8000_1000, size: 0x2000)
        try f.assertTable(t4, granule: .k4, [t4: 4, t4 + 24: 4])
        XCTAssertEqual(f.count(t4), 3)
    }

    /// A 1G block over a two-level subtree (stage2_map_walk_table_pre → kvm_pgtable_stage2_free_unlinked):
    /// stage2_free_walker visits T2's entries at level 2 with LEAF | TABLE_POST: each level-3 page puts its
    /// table, each TABLE_POST puts T2 and the child table (freeing it), and the final put_page frees T2.
    func testBlockOverTwoLevelSubtree() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x4000_0000, size: 0x1000, phys: 0x4000_0000, prot: .rw)
        try s2.map(0x4020_0000, size: 0x1000, phys: 0x4020_0000, prot: .rw)
        XCTAssertEqual(f.allocated, [r0: 2, r1: 1, 0x4000_2000: 3, 0x4000_3000: 2, 0x4000_4000: 2])
        try s2.map(0x4000_0000, size: 0x4000_0000, phys: 0x1_0000_0000, prot: .rw)
        try f.assertTable(r0, granule: .k4, [r0 + 8: 0x0040_0001_0000_07d9])
        XCTAssertEqual(f.allocated, [r0: 2, r1: 1])
        for page: UInt64 in [0x4000_2000, 0x4000_3000, 0x4000_4000] {
            XCTAssertEqual(try f.nonZeroEntries(page, granule: .k4), [:])
        }
        // The freed pages come back lowest first.
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        try f.assertTable(r0, granule: .k4, [r0 + 8: 0x0040_0001_0000_07d9, r0 + 0x10: 0x4000_2003])
        try f.assertTable(0x4000_2000, granule: .k4, [0x4000_2000: 0x4000_3003])
    }

    /// kvm_pgtable_stage2_set_owner with owner 0 (the table's owner): kvm_init_invalid_leaf_owner(0) = 0, so
    /// each page is broken (stage2_try_break_pte puts the table) and made 0 (not counted); a page already 0
    /// takes the "only software bits change" path and stays 0 with no reference change. Unlike unmap, the
    /// emptied tables stay (set_owner has no TABLE_POST visit).
    func testSetOwnerZeroClearsPagesButKeepsTables() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0000, size: 0x2000, phys: 0x8000_0000, prot: .rw)
        try s2.setOwner(0x8000_2000, size: 0x1000, owner: 1)
        XCTAssertEqual(f.count(0x4000_3000), 4)
        try s2.setOwner(0x8000_0000, size: 0x4000, owner: 0)
        try f.assertTable(0x4000_3000, granule: .k4, [:])
        XCTAssertEqual(f.allocated, [r0: 2, r1: 1, 0x4000_2000: 2, 0x4000_3000: 1])
        // Over a 1G block: force_pte splits it into tables down to level 3 whose 4 entries stay 0.
        try s2.map(0xc000_0000, size: 0x4000_0000, phys: 0xc000_0000, prot: .rw)
        try s2.setOwner(0xc000_0000, size: 0x4000, owner: 0)
        try f.assertTable(r0, granule: .k4, [r0 + 0x10: 0x4000_2003, r0 + 0x18: 0x4000_4003])
        try f.assertTable(0x4000_4000, granule: .k4, [0x4000_4000: 0x4000_5003])
        try f.assertTable(0x4000_5000, granule: .k4, [:])
        XCTAssertEqual(f.count(0x4000_5000), 1)
    }

    /// stage2_update_leaf_attrs users and kvm_pgtable_get_leaf on one page.
    func testAttributeUpdatesAndGetLeaf() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8060_0000, size: 0x1000, phys: 0x8060_0000, prot: .rw)
        let pte: UInt64 = 0x4000_3000  // R0[2] → 0x4000_2000, level 2 entry 3 → 0x4000_3000, level 3 entry 0
        XCTAssertEqual(try f.entry(pte), 0x0040_0000_8060_07db)

        // kvm_pgtable_stage2_wrprotect: clear S2AP_W (bit 7).
        try s2.wrprotect(0x8060_0000, size: 0x1000)
        XCTAssertEqual(try f.entry(pte), 0x0040_0000_8060_075b)
        // kvm_pgtable_stage2_test_clear_young(mkold): AF set → young, AF cleared.
        XCTAssertTrue(try s2.testClearYoung(0x8060_0000, size: 0x1000, mkold: true))
        XCTAssertEqual(try f.entry(pte), 0x0040_0000_8060_035b)
        XCTAssertFalse(try s2.testClearYoung(0x8060_0000, size: 0x1000, mkold: true))
        // kvm_pgtable_stage2_test_clear_young without mkold only reports.
        try s2.mkyoung(0x8060_0000)
        XCTAssertEqual(try f.entry(pte), 0x0040_0000_8060_075b)
        XCTAssertTrue(try s2.testClearYoung(0x8060_0000, size: 0x1000, mkold: false))
        XCTAssertEqual(try f.entry(pte), 0x0040_0000_8060_075b)
        // kvm_pgtable_stage2_relax_perms(RWX): set S2AP_R|S2AP_W, clear KVM_PTE_LEAF_ATTR_HI_S2_XN (BIT(54)).
        try s2.relaxPerms(0x8060_0000, prot: .rwx)
        XCTAssertEqual(try f.entry(pte), 0x0000_0000_8060_07db)

        // kvm_pgtable_get_leaf: ALIGN_DOWN(addr, PAGE_SIZE), one-page LEAF walk; returns the last-level pte.
        let leaf = try s2.getLeaf(0x8060_0123)
        XCTAssertEqual(leaf.pte.rawValue, 0x0000_0000_8060_07db)
        XCTAssertEqual(leaf.level, 3)
        // An unmapped IPA under an empty root entry: the invalid level-1 entry (R0 entry 4).
        let hole = try s2.getLeaf(0x1_0000_0000)
        XCTAssertEqual(hole.pte.rawValue, 0)
        XCTAssertEqual(hole.level, 1)
        XCTAssertEqual(f.allocated, [r0: 2, r1: 1, 0x4000_2000: 2, 0x4000_3000: 2])
    }

    /// kvm_pgtable_stage2_relax_perms clears only KVM_PTE_LEAF_ATTR_HI_S2_XN = BIT(54) for X; bit 53 stays.
    func testRelaxPermsClearsOnlyBit54() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8060_0000, size: 0x1000, phys: 0x8060_0000, prot: .rw)
        let pte: UInt64 = 0x4000_3000
        try f.mem.write64(PhysAddr(pte), 0x0060_0000_8060_07db)  // XN[1:0] = 0b11 as an image could hold
        try s2.relaxPerms(0x8060_0000, prot: .x)
        XCTAssertEqual(try f.entry(pte), 0x0020_0000_8060_07db)
    }

    /// Block mappings with FWB off (KVM_PGTABLE_S2_NOFWB): MemAttr MT_S2_NORMAL 0xf << 2 = 0x3c.
    func testNoFWBBlock() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try Stage2Table(
            mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40), flags: .noFWB)
        try s2.map(0x4000_0000, size: 0x4000_0000, phys: 0x4000_0000, prot: .rw)
        // 0x4000_0000 | 0x3c | 0x40 | 0x80 | 0x300 | 0x400 | XN | 1
        try f.assertTable(r0, granule: .k4, [r0 + 8: 0x0040_0000_4000_07fd])
    }

    /// kvm_pgtable_stage2_destroy: stage2_free_walker drops every counted entry's reference and every table,
    /// then free_pages_exact returns the root pages: the pool is empty again.
    func testDestroyReturnsEveryPage() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0000, size: 0x3000, phys: 0x8000_0000, prot: .rw)
        try s2.setOwner(0x80_0000_0000, size: 0x1000, owner: 1)
        XCTAssertEqual(f.pool.usedPages, 6)  // 2 roots + levels 2 and 3 under R0[2] + levels 2 and 3 under R1[0]
        try s2.destroy()
        XCTAssertEqual(f.pool.usedPages, 0)
        XCTAssertEqual(try f.nonZeroEntries(r0, granule: .k4), [:])
    }
}
