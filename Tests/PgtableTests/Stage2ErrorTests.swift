import Mem
import Pgtable
import XCTest

/// The kernel's error returns of the stage-2 operations, each derived from Linux v6.14 `pgtable.c`, and the
/// table state the kernel leaves behind (4K, 40-bit IPA: roots 0x4000_0000 and 0x4000_1000).
final class Stage2ErrorTests: XCTestCase {
    let r0: UInt64 = 0x4000_0000

    func makeTable(_ f: TableFixture, flags: Stage2Flags = []) throws -> Stage2Table<PagePool> {
        try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40), flags: flags)
    }

    func assertThrows(
        _ expected: PgtableError, file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws(PgtableError) -> Void
    ) {
        do {
            try body()
            XCTFail("no error, expected \(expected)", file: file, line: line)
        } catch {
            switch (error, expected) {
            case (.invalidArgument, .invalidArgument), (.invalidGeometry, .invalidGeometry):
                break
            default:
                XCTAssertEqual(error, expected, file: file, line: line)
            }
            XCTAssertEqual(error.errno, expected.errno, file: file, line: line)
        }
    }

    /// stage2_map_walker_try_leaf: `!stage2_pte_needs_update(old, new)` → -EAGAIN for an identical entry;
    /// kvm_pgtable_walk_continue stops the walk on -EAGAIN only with KVM_PGTABLE_WALK_HANDLE_FAULT, and
    /// otherwise the walk returns 0. Nothing changes either way.
    func testRemapIdenticalIsEAGAINOnlyWhenHandlingAFault() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        let before = f.allocated
        assertThrows(.tryAgain) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw, walkFlags: .handleFault)
        }
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        // Only the permissions differ: stage2_pte_needs_update masks KVM_PTE_LEAF_ATTR_S2_PERMS, so a map with
        // other permissions is also "no update" (the fault path relaxes permissions instead).
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rwx)
        assertThrows(.tryAgain) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .r, walkFlags: .handleFault)
        }
        XCTAssertEqual(try f.entry(0x4000_3000), 0x0040_0000_8000_07db)
        XCTAssertEqual(f.allocated, before)
    }

    /// stage2_attr_walker returns -EAGAIN for an invalid entry; kvm_pgtable_stage2_relax_perms (v6.14: walk
    /// flags from the caller) fails with -EAGAIN only for a fault-handling walk; pKVM passes no flags → 0.
    func testRelaxOnUnmappedIsEAGAINOnlyWhenHandlingAFault() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        assertThrows(.tryAgain) { () throws(PgtableError) in
            try s2.relaxPerms(0x8000_0000, prot: .rw, walkFlags: .handleFault)
        }
        try s2.relaxPerms(0x8000_0000, prot: .rw)
        // kvm_pgtable_stage2_relax_perms: `prot & KVM_PTE_LEAF_ATTR_HI_SW` → -EINVAL.
        assertThrows(.invalidArgument("")) { () throws(PgtableError) in
            try s2.relaxPerms(0x8000_0000, prot: [.r, .sw0])
        }
        XCTAssertEqual(f.allocated, [r0: 1, 0x4000_1000: 1])
    }

    /// v6.14 kvm_pgtable_stage2_mkyoung walks with the caller's flags only: without HANDLE_FAULT an unmapped
    /// address is not an error (the kernel function returns void; stage2_update_leaf_attrs returns 0).
    func testMkyoungUsesTheCallersFlags() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        try s2.mkyoung(0x8000_0000)
        assertThrows(.tryAgain) { () throws(PgtableError) in
            try s2.mkyoung(0x8000_0000, walkFlags: [.handleFault, .shared])
        }
        XCTAssertEqual(f.allocated, [r0: 1, 0x4000_1000: 1])
    }

    /// stage2_map_walk_leaf: `if (!data->memcache) return -ENOMEM` before any table allocation. Where no
    /// table is needed (the level-3 table exists) the map succeeds without a memcache.
    func testNoMemcache() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        assertThrows(.outOfMemory) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw, memcache: false)
        }
        assertThrows(.outOfMemory) { () throws(PgtableError) in
            try s2.setOwner(0x8000_0000, size: 0x1000, owner: 1, memcache: false)
        }
        XCTAssertEqual(try f.nonZeroEntries(r0, granule: .k4), [:])
        XCTAssertEqual(f.allocated, [r0: 1, 0x4000_1000: 1])
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        try s2.map(0x8000_1000, size: 0x1000, phys: 0x8000_1000, prot: .rw, memcache: false)
        try s2.setOwner(0x8000_2000, size: 0x1000, owner: 1, memcache: false)
        XCTAssertEqual(f.count(0x4000_3000), 4)
    }

    /// zalloc_page failing mid-walk: stage2_map_walk_leaf returns -ENOMEM; the table installed one level up
    /// stays (the kernel does not unwind), holding no entries.
    func testPoolRunsDry() throws {
        let f = try TableFixture(granule: .k4, pages: 3)  // two roots + one page
        let s2 = try makeTable(f)
        assertThrows(.outOfMemory) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        }
        try f.assertTable(r0, granule: .k4, [r0 + 0x10: 0x4000_2003])
        try f.assertTable(0x4000_2000, granule: .k4, [:])
        XCTAssertEqual(f.allocated, [r0: 2, 0x4000_1000: 1, 0x4000_2000: 1])
        // A 2M block below that table needs no further page.
        try s2.map(0x8000_0000, size: 0x20_0000, phys: 0x8000_0000, prot: .rw)
        try f.assertTable(0x4000_2000, granule: .k4, [0x4000_2000: 0x0040_0000_8000_07d9])
    }

    /// _kvm_pgtable_walk: `data->addr > limit || data->end > limit` → -ERANGE, before anything is visited.
    func testRangeBeyondIPASize() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        let limit: UInt64 = 1 << 40
        assertThrows(.outOfRange(start: limit, end: limit + 0x1000, limit: limit)) { () throws(PgtableError) in
            try s2.map(limit, size: 0x1000, phys: 0, prot: .rw)
        }
        assertThrows(.outOfRange(start: limit - 0x1000, end: limit + 0x1000, limit: limit)) {
            () throws(PgtableError) in
            try s2.unmap(limit - 0x1000, size: 0x2000)
        }
        // end == limit is inside.
        try s2.map(limit - 0x1000, size: 0x1000, phys: 0, prot: .rw)
        XCTAssertEqual(f.pool.usedPages, 4)
        // kvm_pgtable_get_leaf walks [ALIGN_DOWN(addr), +PAGE_SIZE): at the top of the 64-bit space the end
        // wraps to 0, but the start is beyond the limit, so -ERANGE (found by FuzzStage2Ops: the descent's own
        // range check used to wrap and walk a root index far outside the pgd).
        assertThrows(.outOfRange(start: 0xffff_ffff_ffff_f000, end: 0, limit: limit)) { () throws(PgtableError) in
            _ = try s2.getLeaf(0xffff_ffff_ffff_ff01)
        }
        assertThrows(.outOfRange(start: limit, end: limit + 0x1000, limit: limit)) { () throws(PgtableError) in
            _ = try s2.getLeaf(limit)
        }
        XCTAssertEqual(try s2.getLeaf(limit - 1).level, 3)
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

    /// stage2_set_prot_attr, kvm_pgtable_stage2_set_owner and the KVM_PGTABLE_S2_IDMAP check: -EINVAL,
    /// nothing changed.
    func testInvalidArguments() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try makeTable(f)
        for prot: Prot in [[.r, .device, .normalNC], [.r, .device, .x], [.r, .normalNC, .x]] {
            assertThrows(.invalidArgument("")) { () throws(PgtableError) in
                try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: prot)
            }
        }
        // owner_id > KVM_MAX_OWNER_ID (1).
        assertThrows(.invalidArgument("")) { () throws(PgtableError) in
            try s2.setOwner(0x8000_0000, size: 0x1000, owner: 2)
        }
        let idmap = try Stage2Table(
            mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40), flags: .idmap)
        assertThrows(.invalidArgument("")) { () throws(PgtableError) in
            try idmap.map(0x8000_0000, size: 0x1000, phys: 0x9000_0000, prot: .rw)
        }
        XCTAssertEqual(f.pool.usedPages, 4)  // two root pages each for s2 and idmap, nothing else
        try f.assertTable(r0, granule: .k4, [:])
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
