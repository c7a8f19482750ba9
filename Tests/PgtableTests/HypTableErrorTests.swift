import Mem
import Pgtable
import XCTest

/// Bad input to the hyp stage-1 operations (`kvm_pgtable_hyp_init`, `kvm_pgtable_hyp_map`,
/// `kvm_pgtable_hyp_unmap`, `kvm_pgtable_get_leaf`), each derived from Linux v6.14 `pgtable.c`: the error
/// and its message, checked against a snapshot of every byte of the fixture's memory and every pool page's
/// count. 4K, 48-bit VA: start level 0, root 0x4000_0000 (`kvm_pgtable_hyp_init`); RW leaf attributes
/// 0x0040_0000_0000_0740 (`hyp_set_prot_attr`: XN, AF, SH IS, AP RW, AttrIndx 0).
final class HypTableErrorTests: XCTestCase {
    let root: UInt64 = 0x4000_0000
    let limit: UInt64 = 1 << 48

    func makeTable(_ f: TableFixture) throws -> HypTable<PagePool> {
        try HypTable(mm: f.pool, geometry: Geometry.kernelHyp(granule: .k4, vaBits: 48))
    }

    func erange(_ start: UInt64, _ end: UInt64) -> (PgtableError, String) {
        (
            .outOfRange(start: start, end: end, limit: limit),
            "-ERANGE: range 0x\(String(start, radix: 16))-0x\(String(end, radix: 16)) reaches past the input address"
                + " space, which ends at 0x1000000000000"
        )
    }

    /// _kvm_pgtable_walk's -ERANGE, before anything is visited, for map, unmap and get_leaf: the page below
    /// the limit is mapped and stays mapped. The kernel's kvm_pgtable_hyp_unmap ignores the walk's result
    /// and returns 0 bytes unmapped; s2emu reports the -ERANGE.
    func testOutOfRangeChangesNothing() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let hyp = try makeTable(f)
        try hyp.map(limit - 0x1000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        let before = try f.state()
        let beyond = erange(limit, limit + 0x1000)
        let across = erange(limit - 0x1000, limit + 0x1000)
        let cases: [(String, (PgtableError, String), () throws(PgtableError) -> Void)] = [
            ("map", beyond, { () throws(PgtableError) in try hyp.map(self.limit, size: 0x1000, phys: 0, prot: .rw) }),
            ("map", across, { () throws(PgtableError) in
                try hyp.map(self.limit - 0x1000, size: 0x2000, phys: 0x9000_0000, prot: .r)
            }),
            ("map", erange(0xffff_ffff_ffff_f000, 0x1000), { () throws(PgtableError) in
                try hyp.map(0xffff_ffff_ffff_f000, size: 0x2000, phys: 0, prot: .rw)
            }),
            ("unmap", across, { () throws(PgtableError) in _ = try hyp.unmap(self.limit - 0x1000, size: 0x2000) }),
            ("get_leaf", beyond, { () throws(PgtableError) in _ = try hyp.getLeaf(self.limit + 0x800) }),
        ]
        for (op, (e, message), body) in cases {
            assertPgtableError(e, message, body)
            try f.assertState(before, op)
        }
    }

    /// hyp_set_prot_attr's -EINVAL (no R; W with X; executable device memory) before the walk, and
    /// hyp_map_walker's -EINVAL at the last level when hyp_map_walker_try_leaf refuses (WARN) a valid page
    /// that differs in more than software bits: each names the reason; nothing changes. hyp_unmap_walker's
    /// -EINVAL (a hole, or a block the range only partly covers) stops the walk, and kvm_pgtable_hyp_unmap
    /// returns the bytes unmapped so far: 0 here, with nothing changed.
    func testInvalidArgumentsChangeNothing() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let hyp = try makeTable(f)
        try hyp.map(0x1000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        try hyp.map(0x4000_0000, size: 0x4000_0000, phys: 0x1_0000_0000, prot: .r)
        let before = try f.state()
        let cases: [(String, () throws(PgtableError) -> Void)] = [
            ("hyp mapping without R", { () throws(PgtableError) in
                try hyp.map(0x2000, size: 0x1000, phys: 0x8000_1000, prot: .w)
            }),
            ("hyp mapping both W and X", { () throws(PgtableError) in
                try hyp.map(0x2000, size: 0x1000, phys: 0x8000_1000, prot: .rwx)
            }),
            ("executable hyp device mapping", { () throws(PgtableError) in
                try hyp.map(0x2000, size: 0x1000, phys: 0x900_0000, prot: [.r, .x, .device])
            }),
            ("hyp map 0x1000: a valid page entry there maps something else", { () throws(PgtableError) in
                try hyp.map(0x1000, size: 0x1000, phys: 0x9000_0000, prot: .rw)
            }),
        ]
        for (reason, body) in cases {
            assertPgtableError(.invalidArgument(reason), "-EINVAL: " + reason, body)
            try f.assertState(before, reason)
        }
        XCTAssertEqual(try hyp.unmap(0x4000_1000, size: 0x1000), 0)
        XCTAssertEqual(try hyp.unmap(0x10_0000, size: 0x1000), 0)
        try f.assertState(before, "unmap of part of a block, and of a hole")
    }

    /// The page allocator running dry: kvm_pgtable_hyp_init's zalloc_page fails (-ENOMEM, nothing
    /// allocated); hyp_map_walker at level 0 allocates the level-1 table 0x4000_1000 (get_page on the root,
    /// table pte 0x4000_1003 at root entry 256 for VA 0x8000_0000_0000), then finds no page for level 2:
    /// -ENOMEM, and kvm_pgtable_hyp_map leaves the level-1 table installed.
    func testPoolRunsDryLeavesWhatTheKernelLeaves() throws {
        let f = try TableFixture(granule: .k4, pages: 2)
        let hyp = try makeTable(f)
        let initial = try f.state()
        assertPgtableError(.outOfMemory, "-ENOMEM: no memcache or no free page for a table") {
            () throws(PgtableError) in try hyp.map(0x8000_0000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        }
        let dry = initial.with([root + 0x800: 0x4000_1003], pages: [root: 2, 0x4000_1000: 1])
        try f.assertState(dry, "hyp map, pool dry at level 1")
        // No page left for another root.
        let g48 = try Geometry.kernelHyp(granule: .k4, vaBits: 48)
        assertPgtableError(.outOfMemory, "-ENOMEM: no memcache or no free page for a table") {
            () throws(PgtableError) in _ = try HypTable(mm: f.pool, geometry: g48)
        }
        try f.assertState(dry, "hyp init, pool dry")
    }

    /// Geometries kvm_pgtable_hyp_init cannot take: concatenated roots, or a granule other than the pool's.
    func testInvalidGeometryChangesNothing() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let before = try f.state()
        let concatenated = try Geometry.kernelStage2(granule: .k4, ipaBits: 40)
        assertPgtableError(
            .invalidGeometry("a hyp stage 1 has one root table, not 2 concatenated ones"),
            "invalid translation regime: a hyp stage 1 has one root table, not 2 concatenated ones"
        ) { () throws(PgtableError) in _ = try HypTable(mm: f.pool, geometry: concatenated) }
        let g16 = try Geometry.kernelHyp(granule: .k16, vaBits: 48)
        assertPgtableError(
            .invalidGeometry("16K tables need a pool of 16K pages"),
            "invalid translation regime: 16K tables need a pool of 16K pages"
        ) { () throws(PgtableError) in _ = try HypTable(mm: f.pool, geometry: g16) }
        try f.assertState(before, "refused hyp geometries")
    }

    /// Unaligned ranges are not an error (kvm_pgtable_walk: [ALIGN_DOWN(addr), PAGE_ALIGN(that + size));
    /// kvm_pgtable_hyp_map: ALIGN_DOWN(phys)). [0x1800, +0x1000) maps the one page at VA 0x1000 to
    /// 0x8000_0000 (tables 0x4000_1000, 0x4000_2000, 0x4000_3000 at levels 1 to 3, entry 1 of the last);
    /// get_leaf(0x1fff) finds it; unmap [0x1fff, +2) removes it, hyp_unmap_walker's TABLE_POST frees each
    /// table left with only its own reference, and everything is as before the map.
    func testUnalignedRanges() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let hyp = try makeTable(f)
        let initial = try f.state()
        try hyp.map(0x1800, size: 0x1000, phys: 0x8000_0abc, prot: .rw)
        try f.assertState(
            initial.with(
                [root: 0x4000_1003, 0x4000_1000: 0x4000_2003, 0x4000_2000: 0x4000_3003, 0x4000_3008: 0x0040_0000_8000_0743],
                pages: [root: 2, 0x4000_1000: 2, 0x4000_2000: 2, 0x4000_3000: 2]),
            "hyp map")
        let leaf = try hyp.getLeaf(0x1fff)
        XCTAssertEqual(leaf.pte.rawValue, 0x0040_0000_8000_0743)
        XCTAssertEqual(leaf.level, 3)
        XCTAssertEqual(try hyp.unmap(0x1fff, size: 2), 0x1000)
        try f.assertState(initial, "hyp unmap")
    }
}
