import Mem
import Pgtable
import XCTest

@testable import Hyp

/// `migrateToVmemmap`: a live v6.13 (`pte`) machine becomes a v6.14 (`vmemmap`) one.
final class MigrationTests: XCTestCase {
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]
    static let script = """
        share_hyp 0x40100
        share_ffa 0x40101 3
        donate_hyp 0x40104 2
        topup 0x1000 0x40900
        topup 0x1000 0x40901
        share_guest 0x40108 0x10 0x1000 RW
        share_guest 0x40108 0x11 0x1000 R
        """.split(separator: "\n").compactMap { Transition(parsing: $0) }

    func testMigratedMachineMatchesV614() throws {
        let c = try EquivalenceChecker(
            PKVMConfig(storage: .pte, ram: Self.ram), PKVMConfig(storage: .vmemmap, ram: Self.ram), guests: 1)
        XCTAssertTrue(c.run(script: Self.script).isEquivalent)
        let m = c.a
        XCTAssertEqual(try m.mem.read64(PhysAddr(0x43DC_D000 + 0x100 * 8)), 0x0080_0000_4010_07FF)  // v6.13 SW0
        let hypTableRefs = m.vmemmap.refcount(0x43D97)
        XCTAssertEqual(m.vmemmap.order(0x43DA1), 0xffff)  // v6.13 HYP_NO_ORDER = USHRT_MAX
        let report = try m.migrateToVmemmap()
        XCTAssertEqual(m.storage, .vmemmap)
        XCTAssertEqual(report.uncarried, [])
        // SHARED_OWNED: 0x40100 (hyp), 0x40101-3 (FF-A), 0x40108 (guests).
        XCTAssertEqual(report.carried[.sharedOwned], 5)
        // host_state = PKVM_PAGE_SHARED_OWNED (1); host_share_guest_count = 2; NOPAGE (4) for donated pages.
        XCTAssertEqual(m.vmemmap.bytes(0x40100), [0, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(m.vmemmap.bytes(0x40108), [0, 0, 0, 1, 2, 0, 0, 0])
        XCTAssertEqual(m.vmemmap.bytes(0x40105), [0, 0, 0, 4, 0, 0, 0, 0])
        XCTAssertEqual(m.vmemmap.refcount(0x43D97), hypTableRefs)
        XCTAssertEqual(m.vmemmap.order(0x43DA1), 0xff)  // inside the free order-5 block 0x43DA0: HYP_NO_ORDER, now u8
        // v6.14 keeps no state in the host PTEs: SW0 cleared in place.
        XCTAssertEqual(try m.mem.read64(PhysAddr(0x43DC_D000 + 0x100 * 8)), 0x4010_07FF)
        XCTAssertGreaterThanOrEqual(report.clearedPTEs, 5)
        // Every vmemmap entry outside the host stage-2 pool equals the v6.14 machine's.
        for pfn in c.b.vmemmap.pfnRanges[0] where !(0x43DC8..<0x44000).contains(pfn) {
            XCTAssertEqual(m.vmemmap.bytes(pfn), c.b.vmemmap.bytes(pfn), "pfn 0x\(String(pfn, radix: 16))")
        }
        // And both keep behaving the same.
        XCTAssertNil(m.checkAllInvariants())
        var g = c.generator(seed: 7, hotPages: 256)
        c.fullEvery = 500
        XCTAssertEqual("\(c.run(steps: 1500, generator: &g))", "equivalent over 1500 steps")
    }

    func testReservedStateIsReported() throws {
        let m = try PKVMMachine(PKVMConfig(storage: .pte, ram: Self.ram))
        try m.host.map(0x4020_0000, size: 0x1000, phys: 0x4020_0000, prot: [.r, .w, .x, .sw0, .sw1])
        let r = try m.migrateToVmemmap()
        XCTAssertEqual(r.uncarried, [.init(phys: 0x4020_0000, reason: "reserved state encoding (SW0|SW1)")])
        XCTAssertThrowsError(try m.migrateToVmemmap())
    }
}
