import Mem
import Pgtable
import XCTest

/// Tables reached through descriptors that point outside backed memory (a corrupted or foreign image): the
/// kernel would take an abort; s2emu reports `PgtableError.unbackedTable` and never crashes.
final class Stage2UnbackedTableTests: XCTestCase {
    func assertUnbacked(_ body: () throws(PgtableError) -> Void, line: UInt = #line) {
        do {
            try body()
            XCTFail("no error", line: line)
        } catch {
            guard case .unbackedTable = error else { return XCTFail("\(error)", line: line) }
            XCTAssertNil(error.errno, line: line)
        }
    }

    func testEveryOperationReportsTheUnbackedTable() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40))
        // R0[2] → a "table" at 0x9000_0000, which no region backs.
        try f.mem.write64(PhysAddr(0x4000_0010), 0x9000_0003)
        f.pool.getPage(PhysAddr(0x4000_0000))  // the entry's reference on R0, as stage2_make_pte would take
        assertUnbacked { () throws(PgtableError) in try s2.map(0x8000_0000, size: 0x1000, phys: 0, prot: .rw) }
        assertUnbacked { () throws(PgtableError) in try s2.unmap(0x8000_0000, size: 0x1000) }
        assertUnbacked { () throws(PgtableError) in try s2.setOwner(0x8000_0000, size: 0x1000, owner: 1) }
        assertUnbacked { () throws(PgtableError) in try s2.wrprotect(0x8000_0000, size: 0x1000) }
        assertUnbacked { () throws(PgtableError) in _ = try s2.getLeaf(0x8000_0000) }
        assertUnbacked { () throws(PgtableError) in
            _ = try s2.testClearYoung(0x8000_0000, size: 0x1000, mkold: true)
        }
        // A 1G block over it: stage2_map_walk_table_pre installs the block, then freeing the unlinked
        // subtree cannot read it.
        assertUnbacked { () throws(PgtableError) in
            try s2.map(0x8000_0000, size: 0x4000_0000, phys: 0x4000_0000, prot: .rw)
        }
        XCTAssertEqual(try f.entry(0x4000_0010), 0x0040_0000_4000_07d9)
        XCTAssertEqual(f.allocated, [0x4000_0000: 2, 0x4000_1000: 1])
    }
}
