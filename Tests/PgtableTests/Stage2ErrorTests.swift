import Mem
import Pgtable
import XCTest

/// The kernel's error returns of the stage-2 operations, each derived from Linux v6.14 `pgtable.c`, and the
/// table state the kernel leaves behind (4K, 40-bit IPA: roots 0x4000_0000 and 0x4000_1000). Every refused
/// call is checked for its message (what the CLI prints) and against a snapshot of every byte of the
/// fixture's memory and every pool page's reference count (`TableFixture.state`).
final class Stage2ErrorTests: XCTestCase {
    let r0: UInt64 = 0x4000_0000
    let r1: UInt64 = 0x4000_1000
    let limit: UInt64 = 1 << 40

    static let eagain =
        "-EAGAIN: the entry already holds this mapping, is not a valid leaf, or is locked (fault-handling walk)"
    static let enomem = "-ENOMEM: no memcache or no free page for a table"

    func makeTable(_ f: TableFixture, flags: Stage2Flags = []) throws -> Stage2Table<PagePool> {
        try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40), flags: flags)
    }

    /// `_kvm_pgtable_walk`'s -ERANGE for `[start, end)` of the 40-bit table, and its message.
    func erange(_ start: UInt64, _ end: UInt64) -> (PgtableError, String) {
        (
            .outOfRange(start: start, end: end, limit: limit),
            "-ERANGE: range 0x\(String(start, radix: 16))-0x\(String(end, radix: 16)) reaches past the input address"
                + " space, which ends at 0x10000000000"
        )
    }

    /// stage2_map_walker_try_leaf: `!stage2_pte_needs_update(old, new)` → -EAGAIN for an identical entry;
    /// kvm_pgtable_walk_continue stops the walk on -EAGAIN only with KVM_PGTABLE_WALK_HANDLE_FAULT, and
    /// otherwise the walk returns 0. Nothing changes either way.
    func testRemapIdenticalIsEAGAINOnlyWhenHandlingAFault() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        let before = try f.state()
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw, walkFlags: .handleFault)
        }
        try f.assertState(before, "identical map, fault-handling walk")
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        // Only the permissions differ: stage2_pte_needs_update masks KVM_PTE_LEAF_ATTR_S2_PERMS, so a map with
        // other permissions is also "no update" (the fault path relaxes permissions instead).
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rwx)
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .r, walkFlags: .handleFault)
        }
        XCTAssertEqual(try f.entry(0x4000_3000), 0x0040_0000_8000_07db)
        try f.assertState(before, "maps that differ only in permissions")
    }

    /// stage2_attr_walker returns -EAGAIN for an invalid entry; kvm_pgtable_stage2_relax_perms (v6.14: walk
    /// flags from the caller) fails with -EAGAIN only for a fault-handling walk; pKVM passes no flags → 0.
    /// v6.14 kvm_pgtable_stage2_mkyoung likewise walks with the caller's flags only (the kernel function
    /// returns void; s2emu reports stage2_update_leaf_attrs's result). Nothing changes.
    func testRelaxAndMkyoungOnUnmappedAreEAGAINOnlyWhenHandlingAFault() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_1000, size: 0x1000, phys: 0x8000_1000, prot: .r)
        let before = try f.state()
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.relaxPerms(0x8000_0000, prot: .rw, walkFlags: .handleFault)
        }
        try s2.relaxPerms(0x8000_0000, prot: .rw)
        try s2.mkyoung(0x8000_0000)
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.mkyoung(0x8000_0000, walkFlags: [.handleFault, .shared])
        }
        // An unmapped level-1 entry (nothing below 0x1_0000_0000 but the one page) is as invalid a leaf.
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.relaxPerms(0x1_0000_0000, prot: .x, walkFlags: .handleFault)
        }
        try f.assertState(before, "relax_perms / mkyoung of an unmapped IPA")
    }

    /// An entry that is `KVM_INVALID_PTE_LOCKED` (BIT(10) in an invalid entry: only in an image or garbage,
    /// as an exclusive walker never leaves one): stage2_try_break_pte refuses it (with a WARN, since this
    /// walker is not shared) and stage2_map_walker_try_leaf returns -EAGAIN; where a table was needed,
    /// stage2_map_walk_leaf first allocates the table page and, when the break fails, put_page()s it again.
    /// Outside a fault-handling walk the walk ignores -EAGAIN and the call returns 0; either way nothing
    /// changes, not even the pool (the page handed out and back is the lowest free one, and freed pages are
    /// zeroed as they were).
    func testLockedEntriesAreEAGAINAndStayAsTheyAre() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: .rw)
        // L3[0] (page 0x8000_0000) and L2[1] (the 2M at 0x8020_0000) locked; both are counted entries
        // (stage2_pte_is_counted: non-zero), so L2 takes a reference for its new one.
        try f.mem.write64(PhysAddr(0x4000_3000), Descriptor.locked.mask)
        try f.mem.write64(PhysAddr(0x4000_2008), Descriptor.locked.mask)
        f.pool.getPage(PhysAddr(0x4000_2000))
        let before = try f.state()
        XCTAssertEqual(before.pages, [r0: 2, r1: 1, 0x4000_2000: 3, 0x4000_3000: 2])
        // A page over the locked page entry; a page needing a table below the locked level-2 entry; a 2M
        // block over it; an owner annotation over the locked page.
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: .rw)
        try s2.map(0x8020_0000, size: 0x1000, phys: 0x9020_0000, prot: .rw)
        try s2.map(0x8020_0000, size: 0x20_0000, phys: 0x9020_0000, prot: .rw)
        try s2.setOwner(0x8000_0000, size: 0x1000, owner: 1)
        try s2.relaxPerms(0x8000_0000, prot: .rwx)
        try f.assertState(before, "locked entries, no fault-handling walk")
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: .rw, walkFlags: .handleFault)
        }
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.map(0x8020_0000, size: 0x1000, phys: 0x9020_0000, prot: .rw, walkFlags: .handleFault)
        }
        assertPgtableError(.tryAgain, Self.eagain) { () throws(PgtableError) in
            try s2.relaxPerms(0x8000_0000, prot: .rwx, walkFlags: .handleFault)
        }
        try f.assertState(before, "locked entries, fault-handling walk")
        // -E2BIG (stage2_map_walker_try_leaf: no leaf allowed here) never reaches the caller: TABLE_PRE
        // checks stage2_leaf_mapping_allowed before trying, and LEAF turns it into a table allocation.
    }

    /// _kvm_pgtable_walk: `data->addr > limit || data->end > limit` → -ERANGE before anything is visited,
    /// for every operation, even where part of the range is inside (the page below the limit is mapped and
    /// stays mapped, writable and young). A range that wraps past 2^64 starts beyond the limit. The kernel
    /// swallows the error in two places s2emu reports it: kvm_pgtable_stage2_mkyoung returns void and
    /// kvm_pgtable_stage2_test_clear_young WARN_ON()s and returns false.
    func testOutOfRangeForEveryOperationChangesNothing() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        // end == limit is inside.
        try s2.map(limit - 0x1000, size: 0x1000, phys: 0x9000_0000, prot: .rw)
        let before = try f.state()
        let beyond = erange(limit, limit + 0x1000)
        let across = erange(limit - 0x1000, limit + 0x1000)
        let wrapped = erange(0xffff_ffff_ffff_f000, 0x1000)
        let cases: [(String, (PgtableError, String), () throws(PgtableError) -> Void)] = [
            ("map", beyond, { () throws(PgtableError) in try s2.map(self.limit, size: 0x1000, phys: 0, prot: .rw) }),
            ("map", across, { () throws(PgtableError) in
                try s2.map(self.limit - 0x1000, size: 0x2000, phys: 0xa000_0000, prot: .rwx)
            }),
            ("map", wrapped, { () throws(PgtableError) in
                try s2.map(0xffff_ffff_ffff_f000, size: 0x2000, phys: 0, prot: .rw)
            }),
            ("set_owner", across, { () throws(PgtableError) in try s2.setOwner(self.limit - 0x1000, size: 0x2000, owner: 1) }),
            ("unmap", across, { () throws(PgtableError) in try s2.unmap(self.limit - 0x1000, size: 0x2000) }),
            ("unmap", wrapped, { () throws(PgtableError) in try s2.unmap(0xffff_ffff_ffff_f000, size: 0x2000) }),
            ("wrprotect", across, { () throws(PgtableError) in try s2.wrprotect(self.limit - 0x1000, size: 0x2000) }),
            ("update_leaf_attrs", across, { () throws(PgtableError) in
                _ = try s2.updateLeafAttributes(self.limit - 0x1000, size: 0x2000, set: 0, clear: Descriptor.af.mask)
            }),
            ("mkyoung", beyond, { () throws(PgtableError) in try s2.mkyoung(self.limit + 0xabc) }),
            ("relax_perms", beyond, { () throws(PgtableError) in try s2.relaxPerms(self.limit, prot: .rwx) }),
            ("test_clear_young", across, { () throws(PgtableError) in
                _ = try s2.testClearYoung(self.limit - 0x1000, size: 0x2000, mkold: true)
            }),
            ("get_leaf", beyond, { () throws(PgtableError) in _ = try s2.getLeaf(self.limit) }),
            // kvm_pgtable_get_leaf walks [ALIGN_DOWN(addr), +PAGE_SIZE): at the top of the 64-bit space the
            // end wraps to 0, but the start is beyond the limit.
            ("get_leaf", erange(0xffff_ffff_ffff_f000, 0), { () throws(PgtableError) in
                _ = try s2.getLeaf(0xffff_ffff_ffff_ff01)
            }),
        ]
        for (op, (e, message), body) in cases {
            assertPgtableError(e, message, body)
            try f.assertState(before, op)
        }
        XCTAssertEqual(try s2.getLeaf(limit - 1).level, 3)
        // A range whose end wraps to at or below its start: kvm_pgtable_walk's end = PAGE_ALIGN(start + size)
        // is 0, which is within the limit, so there is no -ERANGE, and `data->addr < data->end` is false
        // at once: the call returns 0 having visited nothing (the page at 0x8000_0000 stays mapped).
        try s2.map(0x1000, size: UInt64.max - 0xfff, phys: 0, prot: .rw)
        try s2.unmap(0x8000_0000, size: 0 &- 0x8000_0000)
        try s2.wrprotect(0x8000_0000, size: 0 &- 0x8000_0000)
        try s2.setOwner(0x8000_0000, size: 0 &- 0x8000_0000, owner: 1)
        try f.assertState(before, "ranges that wrap to an empty walk")
    }

    /// The stage-2 operations with unaligned addresses and sizes. None is an error: kvm_pgtable_walk walks
    /// [start = ALIGN_DOWN(addr, PAGE_SIZE), PAGE_ALIGN(start + size)), so the end comes from the aligned
    /// start and a range that straddles a page boundary loses its last page; get_leaf, mkyoung and
    /// relax_perms take the page holding `addr` (size PAGE_SIZE or 1). One sequence, each step's effect
    /// derived from pgtable.c (4K, FWB, RW normal page = 0x0040_0000_xxxx_x7db: XN, AF, SH IS, S2AP RW,
    /// MemAttr 0b0110, page).
    func testUnalignedRangesForEveryOperation() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        let initial = try f.state()
        let l2: UInt64 = 0x4000_2000
        let l3: UInt64 = 0x4000_3000
        // [0x8000_0800, +0x3000) → [0x8000_0000, 0x8000_3000): three pages from ALIGN_DOWN(phys) 0x9000_0000
        // (not four, though the range touches four).
        try s2.map(0x8000_0800, size: 0x3000, phys: 0x9000_0abc, prot: .rw)
        var words: [UInt64: UInt64] = [
            r0 + 0x10: l2 | 3, l2: l3 | 3, l3: 0x0040_0000_9000_07db, l3 + 8: 0x0040_0000_9000_17db,
            l3 + 0x10: 0x0040_0000_9000_27db,
        ]
        var pages: [UInt64: Int] = [r0: 2, r1: 1, l2: 2, l3: 4]
        try f.assertState(initial.with(words, pages: pages), "map")
        // wrprotect [0x8000_1ffc, +8) → [0x8000_1000, 0x8000_2000): S2AP W (bit 7) off the second page only.
        try s2.wrprotect(0x8000_1ffc, size: 8)
        words[l3 + 8] = 0x0040_0000_9000_175b
        try f.assertState(initial.with(words, pages: pages), "wrprotect")
        // test_clear_young [0x8000_0fff, +2) → [0x8000_0000, 0x8000_1000): AF (bit 10) off the first page.
        XCTAssertTrue(try s2.testClearYoung(0x8000_0fff, size: 2, mkold: true))
        words[l3] = 0x0040_0000_9000_03db
        try f.assertState(initial.with(words, pages: pages), "test_clear_young")
        // mkyoung of 0x8000_0abc: the page holding it.
        try s2.mkyoung(0x8000_0abc)
        words[l3] = 0x0040_0000_9000_07db
        try f.assertState(initial.with(words, pages: pages), "mkyoung")
        // relax_perms(0x8000_1fff, RWX): S2AP R|W set, KVM_PTE_LEAF_ATTR_HI_S2_XN (bit 54) cleared.
        try s2.relaxPerms(0x8000_1fff, prot: .rwx)
        words[l3 + 8] = 0x0000_0000_9000_17db
        try f.assertState(initial.with(words, pages: pages), "relax_perms")
        // get_leaf(0x8000_2abc): the third page's entry.
        let leaf = try s2.getLeaf(0x8000_2abc)
        XCTAssertEqual(leaf.pte.rawValue, 0x0040_0000_9000_27db)
        XCTAssertEqual(leaf.level, 3)
        // set_owner [0x8000_2800, +0x1000) → [0x8000_2000, 0x8000_3000): owner 1 annotation
        // (FIELD_PREP(KVM_INVALID_PTE_OWNER_MASK, 1) = 0x4) replaces the third page: break (put_page), make
        // (get_page, the annotation is counted), so L3 keeps 4 references.
        try s2.setOwner(0x8000_2800, size: 0x1000, owner: 1)
        words[l3 + 0x10] = 0x4
        try f.assertState(initial.with(words, pages: pages), "set_owner")
        // unmap [0x8000_0800, +0x1000) → [0x8000_0000, 0x8000_1000): only the first page goes, though the
        // range reaches into the second; L3 keeps 3 references, so TABLE_POST keeps it.
        try s2.unmap(0x8000_0800, size: 0x1000)
        words[l3] = 0
        pages[l3] = 3
        try f.assertState(initial.with(words, pages: pages), "unmap")
    }

    /// Unaligned ranges are not an error: kvm_pgtable_walk uses start = ALIGN_DOWN(addr, PAGE_SIZE) and
    /// end = PAGE_ALIGN(start + size) (from the aligned start, so a range straddling a page boundary loses
    /// its last page), and kvm_pgtable_stage2_map uses ALIGN_DOWN(phys, PAGE_SIZE).
    func testUnalignedRangesAreAligned() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0800, size: 0x1000, phys: 0x9000_0abc, prot: .rw)
        // [0x8000_1800, 0x8000_2800) → start 0x8000_1000, end 0x8000_2000: one page, not two.
        try s2.map(0x8000_1800, size: 0x1000, phys: 0x9000_1800, prot: .rw)
        try f.assertTable(0x4000_3000, granule: .k4, [
            0x4000_3000: 0x0040_0000_9000_07db, 0x4000_3008: 0x0040_0000_9000_17db,
        ])
        // size 0: end == start, nothing is visited.
        try s2.map(0x8000_4000, size: 0, phys: 0, prot: .rw)
        try s2.unmap(0x8000_0fff, size: 1)
        try f.assertTable(0x4000_3000, granule: .k4, [0x4000_3008: 0x0040_0000_9000_17db])
        XCTAssertEqual(f.count(0x4000_3000), 2)
    }

    /// The -EINVAL returns that come before the walk (stage2_set_prot_attr, kvm_pgtable_stage2_set_owner's
    /// `owner_id > KVM_MAX_OWNER_ID`, kvm_pgtable_stage2_map's KVM_PGTABLE_S2_IDMAP WARN_ON, checked before
    /// the prot, and kvm_pgtable_stage2_relax_perms's `prot & KVM_PTE_LEAF_ATTR_HI_SW`), and a table whose
    /// geometry does not match the pool's page size: each names the argument; nothing changes.
    func testInvalidArguments() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        let idmap = try makeTable(f, flags: .idmap)
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        let before = try f.state()
        let cases: [(String, () throws(PgtableError) -> Void)] = [
            ("DEVICE and NORMAL_NC together", { () throws(PgtableError) in
                try s2.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: [.r, .device, .normalNC])
            }),
            ("executable device mapping", { () throws(PgtableError) in
                try s2.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: [.r, .device, .x])
            }),
            ("executable non-cacheable mapping", { () throws(PgtableError) in
                try s2.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: [.r, .normalNC, .x])
            }),
            ("owner id 2 > KVM_MAX_OWNER_ID (1)", { () throws(PgtableError) in
                try s2.setOwner(0x8000_0000, size: 0x1000, owner: 2)
            }),
            ("identity map with IPA 0x80000000 != PA 0x90000000", { () throws(PgtableError) in
                try idmap.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: .rw)
            }),
            ("identity map with IPA 0x80000000 != PA 0x90000000", { () throws(PgtableError) in
                try idmap.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: [.r, .device, .normalNC])
            }),
            ("relax_perms with software bits", { () throws(PgtableError) in
                try s2.relaxPerms(0x8000_0000, prot: [.r, .sw0])
            }),
        ]
        for (reason, body) in cases {
            assertPgtableError(.invalidArgument(reason), "-EINVAL: " + reason, body)
            XCTAssertEqual(PgtableError.invalidArgument(reason).errno, -KernelErrno.EINVAL)
            try f.assertState(before, reason)
        }
        let g16 = try Geometry.kernelStage2(granule: .k16, ipaBits: 40)
        assertPgtableError(
            .invalidGeometry("16K tables need a pool of 16K pages"),
            "invalid translation regime: 16K tables need a pool of 16K pages"
        ) { () throws(PgtableError) in try Stage2Table(mm: f.pool, geometry: g16) }
        try f.assertState(before, "16K table on a 4K pool")
    }

    /// A page allocator that runs dry (-ENOMEM) leaves what the kernel leaves: kvm_pgtable_stage2_map does
    /// not unwind, so every entry and table installed before zalloc_page failed stays. Derivation for a
    /// 3-page pool (two root pages + one): IPA 0x8000_0000 is R0[2] (bits 39:30 = 2) at level 1, invalid;
    /// stage2_map_walk_leaf: try_leaf gives -E2BIG (no 1G block for 4K), zalloc_page gives 0x4000_2000,
    /// stage2_make_pte writes table pte 0x4000_2003 and get_page()s R0; the walk descends to level 2, where
    /// L2[0] needs a table too and zalloc_page fails: -ENOMEM, with R0[2] installed and L2 empty.
    func testPoolRunsDryLeavesWhatTheKernelLeaves() throws {
        let f = try TableFixture(granule: .k4, pages: 3)
        let s2 = try makeTable(f)
        let initial = try f.state()
        assertPgtableError(.outOfMemory, Self.enomem) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        }
        let dry = initial.with([r0 + 0x10: 0x4000_2003], pages: [r0: 2, r1: 1, 0x4000_2000: 1])
        try f.assertState(dry, "map, pool dry at level 2")
        // set_owner takes the same path (force_pte: a table at every level) and fails at the same place,
        // now changing nothing (the level-2 table exists).
        assertPgtableError(.outOfMemory, Self.enomem) { () throws(PgtableError) in
            try s2.setOwner(0x8000_0000, size: 0x1000, owner: 1)
        }
        try f.assertState(dry, "set_owner, pool dry at level 2")
        // A 2M block below that table needs no further page.
        try s2.map(0x8000_0000, size: 0x20_0000, phys: 0x8000_0000, prot: .rw)
        try f.assertTable(0x4000_2000, granule: .k4, [0x4000_2000: 0x0040_0000_8000_07d9])

        // Running dry in the middle of a range: 5 pages. [0x7fff_f000, 0x8000_1000) is the last page of
        // R0[1]'s gigabyte (L2 0x4000_2000 entry 511 → L3 0x4000_3000 entry 511, PA 0x9000_0000) and the
        // first of R0[2]'s: L2' 0x4000_4000 installed, then no page for its level-3 table.
        let g = try TableFixture(granule: .k4, pages: 5)
        let t = try makeTable(g)
        let start = try g.state()
        assertPgtableError(.outOfMemory, Self.enomem) { () throws(PgtableError) in
            try t.map(0x7fff_f000, size: 0x2000, phys: 0x9000_0000, prot: .rw)
        }
        try g.assertState(
            start.with(
                [
                    r0 + 8: 0x4000_2003, 0x4000_2ff8: 0x4000_3003, 0x4000_3ff8: 0x0040_0000_9000_07db,
                    r0 + 0x10: 0x4000_4003,
                ], pages: [r0: 3, r1: 1, 0x4000_2000: 2, 0x4000_3000: 2, 0x4000_4000: 1]),
            "map, pool dry in the second gigabyte")

        // __kvm_pgtable_stage2_init: zalloc_pages_exact of the two concatenated root pages fails on a
        // 1-page pool; nothing is allocated.
        let one = try TableFixture(granule: .k4, pages: 1)
        let empty = try one.state()
        let g40 = try Geometry.kernelStage2(granule: .k4, ipaBits: 40)
        assertPgtableError(.outOfMemory, Self.enomem) { () throws(PgtableError) in
            _ = try Stage2Table(mm: one.pool, geometry: g40)
        }
        try one.assertState(empty, "stage2 init on a 1-page pool")
    }

    /// stage2_map_walk_leaf: `if (!data->memcache) return -ENOMEM` before any table allocation, so nothing
    /// changes. Where no table is needed (the level-3 table exists) the map succeeds without a memcache.
    func testNoMemcache() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        let before = try f.state()
        assertPgtableError(.outOfMemory, Self.enomem) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw, memcache: false)
        }
        assertPgtableError(.outOfMemory, Self.enomem) { () throws(PgtableError) in
            try s2.setOwner(0x8000_0000, size: 0x1000, owner: 1, memcache: false)
        }
        try f.assertState(before, "no memcache")
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        try s2.map(0x8000_1000, size: 0x1000, phys: 0x8000_1000, prot: .rw, memcache: false)
        try s2.setOwner(0x8000_2000, size: 0x1000, owner: 1, memcache: false)
        XCTAssertEqual(f.count(0x4000_3000), 4)
    }

    /// A device mapping (stage2_set_prot_attr, FWB: MT_S2_FWB_DEVICE_nGnRE 1 << 2 = 0x4) and a
    /// non-cacheable one (MT_S2_FWB_NORMAL_NC 5 << 2 = 0x14), both XN.
    func testDeviceAndNonCacheablePages() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x900_0000, prot: [.r, .w, .device])
        try s2.map(0x8000_1000, size: 0x1000, phys: 0x901_0000, prot: [.r, .normalNC])
        try f.assertTable(0x4000_3000, granule: .k4, [
            0x4000_3000: 0x0040_0000_0900_07c7, 0x4000_3008: 0x0040_0000_0901_0757,
        ])
    }
}
