import Mem
import Pgtable
import XCTest

/// Tables reached through descriptors that point outside backed memory (a corrupted or foreign image): the
/// kernel would take an abort; s2emu reports `PgtableError.unbackedTable` and never crashes.
final class Stage2UnbackedTableTests: XCTestCase {
    static let unbacked = PgtableError.unbackedTable(.outOfRange(address: PhysAddr(0x9000_0000), size: 0x1000))
    static let message =
        "walk left backed memory: physical access of 4096 bytes at 0x90000000 is outside backed memory"

    /// Every operation whose walk reaches the unbacked table reports it (no kernel errno: the kernel would
    /// take an abort) and, having written nothing before the descent, leaves every byte and count as it was.
    func testEveryOperationReportsTheUnbackedTable() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40))
        // R0[2] → a "table" at 0x9000_0000, which no region backs.
        try f.mem.write64(PhysAddr(0x4000_0010), 0x9000_0003)
        f.pool.getPage(PhysAddr(0x4000_0000))  // the entry's reference on R0, as stage2_make_pte would take
        let before = try f.state()
        XCTAssertNil(Self.unbacked.errno)
        let ops: [(String, () throws(PgtableError) -> Void)] = [
            ("map", { () throws(PgtableError) in try s2.map(0x8000_0000, size: 0x1000, phys: 0, prot: .rw) }),
            ("unmap", { () throws(PgtableError) in try s2.unmap(0x8000_0000, size: 0x1000) }),
            ("set_owner", { () throws(PgtableError) in try s2.setOwner(0x8000_0000, size: 0x1000, owner: 1) }),
            ("wrprotect", { () throws(PgtableError) in try s2.wrprotect(0x8000_0000, size: 0x1000) }),
            ("mkyoung", { () throws(PgtableError) in try s2.mkyoung(0x8000_0000) }),
            ("relax_perms", { () throws(PgtableError) in try s2.relaxPerms(0x8000_0000, prot: .rwx) }),
            ("get_leaf", { () throws(PgtableError) in _ = try s2.getLeaf(0x8000_0000) }),
            ("test_clear_young", { () throws(PgtableError) in
                _ = try s2.testClearYoung(0x8000_0000, size: 0x1000, mkold: true)
            }),
        ]
        for (op, body) in ops {
            assertPgtableError(Self.unbacked, Self.message, body)
            try f.assertState(before, op)
        }
        // A 1G block over it: stage2_map_walk_table_pre installs the block (break: put_page(R0), make:
        // get_page(R0), so R0 keeps 2), then freeing the unlinked subtree cannot read it.
        assertPgtableError(Self.unbacked, Self.message) { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x4000_0000, phys: 0x4000_0000, prot: .rw)
        }
        try f.assertState(
            before.with([0x4000_0010: 0x0040_0000_4000_07d9], pages: [0x4000_0000: 2, 0x4000_1000: 1]), "1G block")
    }
}
