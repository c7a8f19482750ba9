import Mem
import Pgtable
import XCTest

/// Bit-exact stage-2 vectors for the 64K granule, derived by hand from Linux v6.14 `pgtable.c` and the
/// 64K address layout of `kvm_phys_to_pte` (`KVM_PTE_ADDR_MASK` = GENMASK(47, 16) in place, PA[51:48] in
/// `KVM_PTE_ADDR_51_48` = GENMASK(15, 12)).
///
/// Regime: `kvm_get_vtcr(.., 44)`: `stage2_pgtable_levels(44) = (44 - 8) / 13 = 2` levels, SL0 = 1, start
/// level 2; `kvm_pgd_pages(44, 2) = ((2^44 - 1) >> kvm_granule_shift(1) = 42) + 1 = 4` concatenated roots,
/// `zalloc_pages_exact(4 * 64K)` at 0x4000_0000: R0..R3 = 0x4000_0000, 0x4001_0000, 0x4002_0000,
/// 0x4003_0000; tables then from 0x4004_0000. Level shifts: L2 29 (512 MiB blocks), L3 16. 8192 entries.
/// Attributes as for 4K (FWB): RW = 0x0040_0000_0000_07d8.
final class Stage2Vectors64KTests: XCTestCase {
    let r1: UInt64 = 0x4001_0000
    let ta: UInt64 = 0x4004_0000
    let tb: UInt64 = 0x4005_0000

    func testMapUnmapSequence() throws {
        let f = try TableFixture(granule: .k64, pages: 32)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k64, ipaBits: 44))
        XCTAssertEqual(s2.geometry.rootPages, 4)
        XCTAssertEqual(
            f.allocated, [0x4000_0000: 1, 0x4001_0000: 1, 0x4002_0000: 1, 0x4003_0000: 1])

        // Step A — two pages at IPA 0x400_2000_0000: root page (addr >> 42) = 1, level-2 entry
        // (addr >> 29) & 8191 = 1 (R1 + 8) gets table 0x4004_0000; level-3 entries 0, 1 get PA
        // 0xf_0000_1234_0000 and 0xf_0000_1235_0000: bits 47:16 in place, PA[51:48] = 0xf in bits 15:12.
        try s2.map(0x400_2000_0000, size: 0x2_0000, phys: 0xf_0000_1234_0000, prot: .rw)
        try f.assertTable(r1, granule: .k64, [r1 + 8: 0x4004_0003])
        try f.assertTable(ta, granule: .k64, [ta: 0x0040_0000_1234_f7db, ta + 8: 0x0040_0000_1235_f7db])
        XCTAssertEqual(f.count(r1), 2)
        XCTAssertEqual(f.count(ta), 3)
        // kvm_pte_to_phys gives the 52-bit address back.
        let leaf = try s2.getLeaf(0x400_2001_0000)
        XCTAssertEqual(leaf.level, 3)
        XCTAssertEqual(leaf.pte.outputAddress(granule: .k64, format: .lpa), 0xf_0000_1235_0000)

        // Step B — a 512M block at IPA 0x400_4000_0000 (level-2 entry 2) to 0x1_0000_0000.
        try s2.map(0x400_4000_0000, size: 0x2000_0000, phys: 0x1_0000_0000, prot: .rw)
        try f.assertTable(r1, granule: .k64, [r1 + 8: 0x4004_0003, r1 + 16: 0x0040_0001_0000_07d9])
        XCTAssertEqual(f.count(r1), 3)

        // Step C — a page inside the block: a new table 0x4005_0000 replaces it, holding only level-3 entry
        // (0x400_4001_0000 >> 16) & 8191 = 1.
        try s2.map(0x400_4001_0000, size: 0x1_0000, phys: 0x2_0000_0000, prot: .rw)
        try f.assertTable(r1, granule: .k64, [r1 + 8: 0x4004_0003, r1 + 16: 0x4005_0003])
        try f.assertTable(tb, granule: .k64, [tb + 8: 0x0040_0002_0000_07db])
        XCTAssertEqual(f.count(r1), 3)
        XCTAssertEqual(f.count(tb), 2)

        // Step D — a 512M block over the table at R1[1]: its two pages are put and the table freed.
        try s2.map(0x400_2000_0000, size: 0x2000_0000, phys: 0x2_2000_0000, prot: .rw)
        try f.assertTable(r1, granule: .k64, [r1 + 8: 0x0040_0002_2000_07d9, r1 + 16: 0x4005_0003])
        XCTAssertEqual(f.count(ta), 0)
        XCTAssertEqual(f.pool.usedPages, 5)

        // Step E — a partial unmap of the block at R1[2]'s table page and of the whole R1 range: the block at
        // R1[1] goes whole, TB's page goes, TB is freed by the TABLE_POST visit of R1[2].
        try s2.unmap(0x400_2000_0000, size: 0x1000)
        try f.assertTable(r1, granule: .k64, [r1 + 16: 0x4005_0003])
        try s2.unmap(0x400_0000_0000, size: 0x400_0000_0000)
        try f.assertTable(r1, granule: .k64, [:])
        XCTAssertEqual(
            f.allocated, [0x4000_0000: 1, 0x4001_0000: 1, 0x4002_0000: 1, 0x4003_0000: 1])

        // Step F — lowest-first reuse, and set_owner over a fresh page in root page 3 (IPA 0xc00_0000_0000):
        // table 0x4004_0000 at R3[0], owner annotation 0x4 at its entry 0.
        try s2.setOwner(0xc00_0000_0000, size: 0x1_0000, owner: 1)
        try f.assertTable(0x4003_0000, granule: .k64, [0x4003_0000: 0x4004_0003])
        try f.assertTable(ta, granule: .k64, [ta: 4])
        XCTAssertEqual(f.count(ta), 2)
    }
}
