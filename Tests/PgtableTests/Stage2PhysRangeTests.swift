import Mem
import Pgtable
import XCTest

/// Output addresses the descriptors cannot hold, in Linux v6.14 `pgtable.c`: v6.14 no longer has
/// `kvm_phys_is_valid` (Ard Biesheuvel's "Avoid invalid physical addresses to signal owner updates" made
/// set_owner use `stage2_map_data.annotation` instead), so `kvm_block_mapping_supported` always checks the PA's
/// alignment and `stage2_map_walker_try_leaf` always builds `kvm_init_valid_leaf_pte(phys, ..)`, whose
/// `kvm_phys_to_pte` keeps only the bits the format holds: GENMASK(47, PAGE_SHIFT) for 4K/16K without LPA2,
/// plus PA[51:48] in bits 15:12 for 64K. No error is returned; the high bits are silently dropped.
final class Stage2PhysRangeTests: XCTestCase {
    func testPABeyond48BitsIsTruncated4K() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        var s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40))
        s2.truncatesOutputAddress = true
        // IPA 0x8000_0000, 2M, PA 2^48 (2M aligned): table 0x4000_2000 at R0[2]; level-2 block whose address
        // bits are 2^48 & GENMASK(47, 12) = 0: 0x0040_0000_0000_07d9.
        try s2.map(0x8000_0000, size: 0x20_0000, phys: 1 << 48, prot: .rw)
        try f.assertTable(0x4000_0000, granule: .k4, [0x4000_0010: 0x4000_2003])
        try f.assertTable(0x4000_2000, granule: .k4, [0x4000_2000: 0x0040_0000_0000_07d9])
        // An unaligned PA beyond 48 bits gets no block: a level-3 table (0x4000_3000) and the page
        // (2^48 + 0x1234_5000) & GENMASK(47, 12) = 0x1234_5000.
        try s2.map(0x8020_0000, size: 0x20_0000, phys: (1 << 48) + 0x1234_5000, prot: .rw)
        try f.assertTable(0x4000_2000, granule: .k4, [
            0x4000_2000: 0x0040_0000_0000_07d9, 0x4000_2008: 0x4000_3003,
        ])
        XCTAssertEqual(try f.entry(0x4000_3000), 0x0040_0000_1234_57db)
        XCTAssertEqual(try f.entry(0x4000_3ff8), 0x0040_0000_1254_47db)  // + 511 pages
        XCTAssertEqual(f.count(0x4000_3000), 513)
    }

    /// With 64K pages PA[51:48] is representable (bits 15:12); bit 52 and above are dropped.
    func testPABeyond52BitsIsTruncated64K() throws {
        let f = try TableFixture(granule: .k64, pages: 16)
        var s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k64, ipaBits: 44, oaBits: 52))
        s2.truncatesOutputAddress = true
        try s2.map(0, size: 0x2_0000, phys: 0x1f_ffff_ffff_0000, prot: .rw)
        try f.assertTable(0x4000_0000, granule: .k64, [0x4000_0000: 0x4004_0003])
        // 0x1f_ffff_ffff_0000: bits 47:16 0xffff_ffff_0000, PA[51:48] 0xf → bits 15:12; bit 52 dropped.
        // The second page, 0x20_0000_0000_0000, keeps nothing.
        try f.assertTable(0x4004_0000, granule: .k64, [
            0x4004_0000: 0x0040_ffff_ffff_f7db, 0x4004_0008: 0x0040_0000_0000_07db,
        ])
    }

    /// hyp_map_walker_try_leaf: kvm_block_mapping_supported checks the PA's alignment as is; the leaf keeps
    /// the bits kvm_phys_to_pte holds.
    func testHypBlockBeyond48Bits() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        var hyp = try HypTable(mm: f.pool, geometry: Geometry.kernelHyp(granule: .k4, vaBits: 48))
        hyp.truncatesOutputAddress = true
        try hyp.map(0x4000_0000, size: 0x4000_0000, phys: (1 << 48) + 0x4000_0000, prot: .rw)
        try f.assertTable(0x4000_1000, granule: .k4, [0x4000_1008: 0x0040_0000_4000_0741])
    }

    /// By default s2emu refuses what the kernel would silently truncate (#2 [core] "a physical address beyond
    /// PS"): an output range reaching past `BIT(oaBits)` gets `outputBeyondPS` naming the range and PS (no
    /// kernel errno: the kernel has no such check), and no byte, table page or reference changes. The range
    /// is the one the walk maps: from ALIGN_DOWN(phys), as many pages as [ALIGN_DOWN(addr),
    /// PAGE_ALIGN(ALIGN_DOWN(addr) + size)) holds.
    func testOutputBeyondPSIsRefusedByDefault() throws {
        let f = try TableFixture(granule: .k4, pages: 16)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40))
        let ps40 = try Stage2Table(
            mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40, oaBits: 40))
        let hyp = try HypTable(mm: f.pool, geometry: Geometry.kernelHyp(granule: .k4, vaBits: 48))
        try s2.map(0x8000_0000, size: 0x1000, phys: 0x8000_0000, prot: .rw)
        let before = try f.state()
        let cases: [(PgtableError, String, () throws(PgtableError) -> Void)] = [
            (
                .outputBeyondPS(phys: 1 << 48, size: 0x20_0000, oaBits: 48),
                "output range 0x1000000000000+0x200000 exceeds the 48-bit PS",
                { () throws(PgtableError) in try s2.map(0x8000_0000, size: 0x20_0000, phys: 1 << 48, prot: .rw) }
            ),
            // The last page below 2^48 is fine; one more page crosses PS.
            (
                .outputBeyondPS(phys: (1 << 48) - 0x1000, size: 0x2000, oaBits: 48),
                "output range 0xfffffffff000+0x2000 exceeds the 48-bit PS",
                { () throws(PgtableError) in
                    try s2.map(0x8000_0000, size: 0x2000, phys: (1 << 48) - 0x1000, prot: .rw)
                }
            ),
            // ALIGN_DOWN(phys) is 2^48 itself.
            (
                .outputBeyondPS(phys: (1 << 48) + 0xabc, size: 0x1000, oaBits: 48),
                "output range 0x1000000000abc+0x1000 exceeds the 48-bit PS",
                { () throws(PgtableError) in try s2.map(0x8000_1000, size: 0x1000, phys: (1 << 48) + 0xabc, prot: .rw) }
            ),
            // A regime whose VTCR_EL2.PS is 40 bits: 2^40 is beyond it (the kernel would write it unchanged).
            (
                .outputBeyondPS(phys: 1 << 40, size: 0x1000, oaBits: 40),
                "output range 0x10000000000+0x1000 exceeds the 40-bit PS",
                { () throws(PgtableError) in try ps40.map(0x8000_0000, size: 0x1000, phys: 1 << 40, prot: .rw) }
            ),
            (
                .outputBeyondPS(phys: 1 << 48, size: 0x1000, oaBits: 48),
                "output range 0x1000000000000+0x1000 exceeds the 48-bit PS",
                { () throws(PgtableError) in try hyp.map(0, size: 0x1000, phys: 1 << 48, prot: .rw) }
            ),
            // An IPA range beyond ia_bits is the walk's -ERANGE, as on the kernel, whatever the PA.
            (
                .outOfRange(start: 1 << 40, end: (1 << 40) + 0x1000, limit: 1 << 40),
                "-ERANGE: range 0x10000000000-0x10000001000 reaches past the input address space, which ends at 0x10000000000",
                { () throws(PgtableError) in try s2.map(1 << 40, size: 0x1000, phys: 1 << 48, prot: .rw) }
            ),
        ]
        for (e, message, body) in cases {
            assertPgtableError(e, message, body)
            try f.assertState(before, message)
        }
        XCTAssertNil(PgtableError.outputBeyondPS(phys: 1 << 48, size: 0x1000, oaBits: 48).errno)
        // A range whose end wraps below its start visits nothing (kvm_pgtable_walk): nothing to check or map.
        try s2.map(0x1000, size: UInt64.max - 0xfff, phys: 1 << 48, prot: .rw)
        try f.assertState(before, "empty walk")
        // [0x8000_1800, +0x1000) maps one page (end = PAGE_ALIGN(0x8000_1000 + 0x1000)), the last below 2^48:
        // accepted (the check used to round the end up from the unaligned address, counting two pages).
        try s2.map(0x8000_1800, size: 0x1000, phys: (1 << 48) - 0x1000, prot: .rw)
        // Roots: s2 0x4000_0000-0x4000_1fff, ps40 0x4000_2000-0x4000_3fff, hyp 0x4000_4000; the first map put
        // s2's level-2 table at 0x4000_5000 and its level-3 table at 0x4000_6000.
        XCTAssertEqual(try f.entry(0x4000_6008), 0x0040_ffff_ffff_f7db)
        XCTAssertEqual(try s2.getLeaf(0x8000_1000).pte.outputAddress(granule: .k4, format: .pa48), (1 << 48) - 0x1000)
    }

    /// 64K with FEAT_LPA: PS 52 bits; 2^52 is beyond it.
    func testOutputBeyond52BitPS64K() throws {
        let f = try TableFixture(granule: .k64, pages: 16)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k64, ipaBits: 44, oaBits: 52))
        let before = try f.state()
        assertPgtableError(
            .outputBeyondPS(phys: 1 << 52, size: 0x1_0000, oaBits: 52),
            "output range 0x10000000000000+0x10000 exceeds the 52-bit PS"
        ) { () throws(PgtableError) in try s2.map(0, size: 0x1_0000, phys: 1 << 52, prot: .rw) }
        try f.assertState(before, "64K, PA 2^52")
        try s2.map(0, size: 0x1_0000, phys: (1 << 52) - 0x1_0000, prot: .rw)
        XCTAssertEqual(
            try s2.getLeaf(0).pte.outputAddress(granule: .k64, format: .lpa), (1 << 52) - 0x1_0000)
    }
}
