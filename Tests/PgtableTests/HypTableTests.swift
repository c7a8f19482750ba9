import Mem
import Pgtable
import XCTest

/// Hyp stage-1 vectors derived by hand from Linux v6.14 `pgtable.c` (`kvm_pgtable_hyp_init`,
/// `hyp_map_walker`, `hyp_unmap_walker`, `kvm_pgtable_hyp_destroy`, `hyp_set_prot_attr`).
///
/// `kvm_pgtable_hyp_init(48)`: start level 4 - ARM64_HW_PGTABLE_LEVELS(48) = 4 - (48 - 4) / 9 = 0, one root
/// page from zalloc_page at 0x4000_0000. `hyp_set_prot_attr` (no hVHE, no BTI): AttrIndx MT_NORMAL 0,
/// AP RW 1 << 6 = 0x40 or RO 3 << 6 = 0xc0, SH_IS 0x300, AF 0x400, XN BIT(54) unless X.
/// RW = 0x0040_0000_0000_0740, RX = 0x7c0.
final class HypTableTests: XCTestCase {
    let root: UInt64 = 0x4000_0000
    let l1: UInt64 = 0x4000_1000
    let l2: UInt64 = 0x4000_2000
    let l3: UInt64 = 0x4000_3000

    func testMapUnmapDestroy() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let hyp = try HypTable(mm: f.pool, geometry: Geometry.kernelHyp(granule: .k4, vaBits: 48))
        XCTAssertEqual(hyp.geometry.startLevel, 0)
        XCTAssertEqual(f.allocated, [root: 1])

        // Two pages at VA 0x8000_0000_0000: level-0 entry (va >> 39) & 511 = 256 (offset 0x800). hyp_map_walker:
        // try_leaf fails below block levels, so zalloc_page + get_page(ptep) + table pte at levels 0, 1, 2.
        let va: UInt64 = 0x8000_0000_0000
        try hyp.map(va, size: 0x2000, phys: 0x8000_0000, prot: .rw)
        try f.assertTable(root, granule: .k4, [root + 0x800: 0x4000_1003])
        try f.assertTable(l1, granule: .k4, [l1: 0x4000_2003])
        try f.assertTable(l2, granule: .k4, [l2: 0x4000_3003])
        try f.assertTable(l3, granule: .k4, [l3: 0x0040_0000_8000_0743, l3 + 8: 0x0040_0000_8000_1743])
        XCTAssertEqual(f.allocated, [root: 2, l1: 2, l2: 2, l3: 3])

        // A 1G RX block at level 1, entry 1: 0x1_0000_0000 | 0x7c0 | 1.
        try hyp.map(va + 0x4000_0000, size: 0x4000_0000, phys: 0x1_0000_0000, prot: [.r, .x])
        XCTAssertEqual(try f.entry(l1 + 8), 0x1_0000_07c1)
        XCTAssertEqual(f.count(l1), 3)
        // Re-mapping the same leaf is a no-op (old == new).
        try hyp.map(va + 0x4000_0000, size: 0x4000_0000, phys: 0x1_0000_0000, prot: [.r, .x])
        XCTAssertEqual(f.count(l1), 3)

        // hyp_unmap_walker: a range covering only part of a block is -EINVAL (`end - addr < granule`); the
        // kernel's kvm_pgtable_hyp_unmap ignores the walk's result and returns the bytes unmapped: 0.
        XCTAssertEqual(try hyp.unmap(va + 0x4000_1000, size: 0x1000), 0)
        XCTAssertEqual(try f.entry(l1 + 8), 0x1_0000_07c1)

        // Unmapping the two pages: both leaves cleared (L3 3 → 1); TABLE_POST of L2[0] frees L3 (page_count
        // 1), of L1[0] frees L2; L1 keeps the block (count 3 → 2), so the root entry stays.
        XCTAssertEqual(try hyp.unmap(va, size: 0x2000), 0x2000)
        try f.assertTable(l1, granule: .k4, [l1 + 8: 0x1_0000_07c1])
        XCTAssertEqual(f.allocated, [root: 2, l1: 2])

        // kvm_pgtable_hyp_destroy: hyp_free_walker puts L1 for the block and the root for the table entry,
        // frees L1, then put_page(pgd) frees the root.
        try hyp.destroy()
        XCTAssertEqual(f.pool.usedPages, 0)
    }

    /// hyp_map_walker_try_leaf refuses to change anything but software bits of a valid leaf (WARN, false);
    /// at the last level hyp_map_walker then returns -EINVAL.
    func testRemapWithOtherAttributesIsEINVAL() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let hyp = try HypTable(mm: f.pool, geometry: Geometry.kernelHyp(granule: .k4, vaBits: 48))
        try hyp.map(0x1000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        XCTAssertThrowsError(try hyp.map(0x1000, size: 0x1000, phys: 0x9000_0000, prot: .rw)) {
            XCTAssertEqual(($0 as? PgtableError)?.errno, -22)
        }
        // Software bits alone may change: the page's reference is not taken again.
        try hyp.map(0x1000, size: 0x1000, phys: 0x8000_0000, prot: [.r, .w, .sw0])
        XCTAssertEqual(try f.entry(l3 + 8), 0x00c0_0000_8000_0743)
        XCTAssertEqual(f.count(l3), 2)
    }

    /// hyp_set_prot_attr: -EINVAL without R, for W|X, and for executable device memory; device memory uses
    /// MT_DEVICE_nGnRE (AttrIndx 4 → 0x10).
    func testHypProtAttributes() throws {
        XCTAssertThrowsError(try HypAttributes.attributes(for: .w, lpa2: false))
        XCTAssertThrowsError(try HypAttributes.attributes(for: .rwx, lpa2: false))
        XCTAssertThrowsError(try HypAttributes.attributes(for: [.r, .x, .device], lpa2: false))
        XCTAssertEqual(try HypAttributes.attributes(for: .rw, lpa2: false), 0x0040_0000_0000_0740)
        XCTAssertEqual(try HypAttributes.attributes(for: [.r, .x], lpa2: false), 0x0000_0000_0000_07c0)
        XCTAssertEqual(try HypAttributes.attributes(for: .r, lpa2: false), 0x0040_0000_0000_07c0)
        XCTAssertEqual(try HypAttributes.attributes(for: [.r, .w, .device], lpa2: false), 0x0040_0000_0000_0750)
        // LPA2: no SH field (bits 9:8 carry PA[51:50]).
        XCTAssertEqual(try HypAttributes.attributes(for: .rw, lpa2: true), 0x0040_0000_0000_0440)
        // Software bits pass through (`prot & KVM_PTE_LEAF_ATTR_HI_SW`).
        XCTAssertEqual(try HypAttributes.attributes(for: [.r, .sw3], lpa2: false), 0x0440_0000_0000_07c0)
    }

    /// 64K hyp stage 1: kvm_pgtable_hyp_init(48) → start level 4 - (48 - 4) / 13 = 1, root 0x4000_0000; a
    /// 512M block (level 2) at VA 0x2000_0000: level-1 entry 0 gets table 0x4001_0000 whose entry 1 is
    /// 0x3_2000_0000 | RW | 1; the 64K layout keeps PA[51:48] (here 0) in bits 15:12.
    func testHyp64KBlock() throws {
        let f = try TableFixture(granule: .k64, pages: 8)
        let hyp = try HypTable(mm: f.pool, geometry: Geometry.kernelHyp(granule: .k64, vaBits: 48))
        XCTAssertEqual(hyp.geometry.startLevel, 1)
        try hyp.map(0x2000_0000, size: 0x2000_0000, phys: 0x3_2000_0000, prot: .rw)
        try f.assertTable(0x4000_0000, granule: .k64, [0x4000_0000: 0x4001_0003])
        try f.assertTable(0x4001_0000, granule: .k64, [0x4001_0008: 0x0040_0003_2000_0741])
        XCTAssertEqual(f.allocated, [0x4000_0000: 2, 0x4001_0000: 2])
        XCTAssertEqual(try hyp.unmap(0x2000_0000, size: 0x2000_0000), 0x2000_0000)
        XCTAssertEqual(f.allocated, [0x4000_0000: 1])
    }
}
