import Pgtable
import XCTest

/// Granule and geometry facts from Linux v6.14 (`kvm_pgd_pages`, `kvm_get_vtcr`, `stage2_pgtable_levels`,
/// `VTCR_EL2_LVLS_TO_SL0`, `kvm_granule_shift`) and the Arm ARM (`AArch64.S2InvalidSL`,
/// `AArch64.S2InconsistentSL`, VTCR_EL2 field encodings).
final class GeometryTests: XCTestCase {
    /// `kvm_granule_shift(level) = (PAGE_SHIFT - 3) * (4 - level) + 3`.
    func testGranuleShifts() {
        XCTAssertEqual([0, 1, 2, 3].map { Granule.k4.levelShift($0) }, [39, 30, 21, 12])
        XCTAssertEqual(Granule.k4.levelShift(-1), 48)
        XCTAssertEqual([1, 2, 3].map { Granule.k16.levelShift($0) }, [36, 25, 14])
        XCTAssertEqual([1, 2, 3].map { Granule.k64.levelShift($0) }, [42, 29, 16])
        XCTAssertEqual(Granule.k16.entries, 2048)
        XCTAssertEqual(Granule.k64.entries, 8192)
        // KVM_PGTABLE_MIN_BLOCK_LEVEL: 1 for 4K, 2 otherwise.
        XCTAssertTrue(Granule.k4.supportsBlock(at: 1))
        XCTAssertFalse(Granule.k4.supportsBlock(at: 0))
        XCTAssertFalse(Granule.k16.supportsBlock(at: 1))
        XCTAssertTrue(Granule.k64.supportsBlock(at: 2))
    }

    /// `kvm_pgd_pages(ia_bits, start_level) = ((BIT(ia_bits) - 1) >> kvm_granule_shift(start_level - 1)) + 1`,
    /// with the start level `kvm_get_vtcr` picks: levels = max(2, (ia_bits - 8) / (PAGE_SHIFT - 3)),
    /// start = 4 - levels. Each row: (ia_bits, start level, root pages, SL0 = TGRAN_SL0_BASE - start,
    /// where the base is 2 for 4K and 3 for 16K/64K).
    func testKernelStage2RootPagesAndSL0() throws {
        let rows: [(Granule, Int, Int, Int, UInt64)] = [
            (.k4, 32, 2, 4, 0),  // levels (32-8)/9 = 2; (2^32-1) >> 30 = 3
            (.k4, 36, 1, 1, 1),  // levels 3; (2^36-1) >> 39 = 0
            (.k4, 40, 1, 2, 1),  // (2^40-1) >> 39 = 1
            (.k4, 42, 1, 8, 1),  // (2^42-1) >> 39 = 7
            (.k4, 44, 0, 1, 2),  // levels (44-8)/9 = 4; (2^44-1) >> 48 = 0
            (.k4, 48, 0, 1, 2),
            (.k16, 32, 2, 1, 1),  // levels max(2, 24/11 = 2); (2^32-1) >> 36 = 0
            (.k16, 36, 2, 1, 1),
            (.k16, 40, 2, 16, 1),  // (2^40-1) >> 36 = 15
            (.k16, 42, 1, 1, 2),  // levels 34/11 = 3; (2^42-1) >> 47 = 0
            (.k16, 48, 1, 2, 2),  // (2^48-1) >> 47 = 1
            (.k64, 32, 2, 1, 1),  // levels max(2, 24/13 = 1)
            (.k64, 40, 2, 1, 1),  // (2^40-1) >> 42 = 0
            (.k64, 44, 2, 4, 1),  // (2^44-1) >> 42 = 3
            (.k64, 46, 2, 16, 1),  // (2^46-1) >> 42 = 15
            (.k64, 48, 1, 1, 2),  // levels 40/13 = 3; (2^48-1) >> 55 = 0
            (.k64, 52, 1, 1, 2),  // (2^52-1) >> 55 = 0
        ]
        for (g, ipa, start, pages, sl0) in rows {
            let geo = try Geometry.kernelStage2(granule: g, ipaBits: ipa)
            XCTAssertEqual(geo.startLevel, start, "\(g) \(ipa)")
            XCTAssertEqual(geo.rootPages, pages, "\(g) \(ipa)")
            XCTAssertEqual(geo.vtcr[VTCR.sl0], sl0, "\(g) \(ipa)")
            XCTAssertEqual(geo.vtcr[VTCR.t0sz], UInt64(64 - ipa), "\(g) \(ipa)")
        }
        // LPA2: 4K 52 → levels 4, start 0, (2^52-1) >> 48 = 15 → 16 pages; 16K 52 → levels 44/11 = 4, start 0,
        // (2^52-1) >> kvm_granule_shift(-1) = 58 → 1 page.
        let l4 = try Geometry.kernelStage2(granule: .k4, ipaBits: 52, lpa2: true)
        XCTAssertEqual([l4.startLevel, l4.rootPages], [0, 16])
        let l16 = try Geometry.kernelStage2(granule: .k16, ipaBits: 52, lpa2: true)
        XCTAssertEqual([l16.startLevel, l16.rootPages], [0, 1])
    }

    /// Geometry(vtcr:) of valid VTCR_EL2 values (T0SZ[5:0], SL0[7:6], TG0[15:14] 0=4K 1=64K 2=16K, PS[18:16]).
    func testGeometryFromValidVTCR() throws {
        // 4K, T0SZ 24, SL0 1 (start 1), PS 2 (40 bits): 24 | 1 << 6 | 2 << 16.
        let a = try Geometry(vtcr: VTCR(0x2_0058))
        XCTAssertEqual(a.granule, .k4)
        XCTAssertEqual([a.iaBits, a.startLevel, a.rootPages, a.oaBits], [40, 1, 2, 40])
        // 16K, T0SZ 24, SL0 1 (start 2), PS 5: 24 | 1 << 6 | 2 << 14 | 5 << 16.
        let b = try Geometry(vtcr: VTCR(0x5_8058))
        XCTAssertEqual(b.granule, .k16)
        XCTAssertEqual([b.iaBits, b.startLevel, b.rootPages, b.oaBits], [40, 2, 16, 48])
        // 64K, T0SZ 20, SL0 1 (start 2), PS 5: 20 | 1 << 6 | 1 << 14 | 5 << 16.
        let c = try Geometry(vtcr: VTCR(0x5_4054))
        XCTAssertEqual(c.granule, .k64)
        XCTAssertEqual([c.iaBits, c.startLevel, c.rootPages], [44, 2, 4])
        // 4K with DS=1 (bit 32), T0SZ 12, SL0 2 (start 0), PS 6 (52 bits): 16 concatenated roots.
        let d = try Geometry(vtcr: VTCR(1 << 32 | 6 << 16 | 2 << 6 | 12))
        XCTAssertTrue(d.lpa2)
        XCTAssertEqual([d.iaBits, d.startLevel, d.rootPages, d.oaBits], [52, 0, 16, 52])
        XCTAssertEqual(d.format, .lpa2)
        // 4K, DS=1, SL2=1 (bit 33) with SL0=0: start level -1 (AArch64.S2StartLevel); 52-bit IPA in one root
        // table (kvm_granule_shift(-2) = 57 > 51).
        let e = try Geometry(vtcr: VTCR(1 << 33 | 1 << 32 | 6 << 16 | 12))
        XCTAssertEqual([e.iaBits, e.startLevel, e.rootPages], [52, -1, 1])
        // The geometry kvm_get_vtcr builds reads back the same.
        for (g, ipa) in [(Granule.k4, 40), (.k16, 40), (.k64, 44), (.k4, 48)] {
            let k = try Geometry.kernelStage2(granule: g, ipaBits: ipa)
            let back = try Geometry(vtcr: k.vtcr)
            XCTAssertEqual([back.iaBits, back.startLevel, back.rootPages], [k.iaBits, k.startLevel, k.rootPages])
        }
    }

    /// Asserts that `body` is refused with `invalidGeometry` and the message `reason` (after the prefix the
    /// CLI prints for every such error). A geometry is a value: a refused one leaves no state to check.
    func assertInvalid(
        _ reason: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws(PgtableError) -> Geometry
    ) {
        do {
            let g = try body()
            XCTFail("accepted: \(g)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, .invalidGeometry(reason), file: file, line: line)
            XCTAssertEqual(error.description, "invalid translation regime: " + reason, file: file, line: line)
            XCTAssertEqual(error.errno, -KernelErrno.EINVAL, file: file, line: line)
        }
    }

    func assertInvalid(
        _ raw: UInt64, paMax: Int = 52, ttst: Bool = true, _ reason: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        assertInvalid(reason, file: file, line: line) { () throws(PgtableError) in
            try Geometry(vtcr: VTCR(raw), paMax: paMax, smallTranslationTables: ttst)
        }
    }

    /// Illegal VTCR_EL2 values (#2 [core]): reserved encodings, `AArch64.S2InvalidSL`,
    /// `AArch64.S2InconsistentSL` and T0SZ outside `AArch64.S2MinTxSZ`...`AArch64.MaxTxSZ`, each with the
    /// message naming the field, its value and the rule.
    func testGeometryFromInvalidVTCR() {
        assertInvalid(3 << 14 | 5 << 16 | 1 << 6 | 24, "VTCR_EL2.TG0 is the reserved 0b11")
        assertInvalid(7 << 16 | 1 << 6 | 24, "VTCR_EL2.PS is the reserved 0b111")
        // AArch64.S2InvalidSL: 64K SL0=3 is reserved; 16K SL0=3 (level 0) needs DS; 4K SL0=2 (level 0) needs
        // PAMax >= 44, 16K SL0=2 (level 1) PAMax >= 42, 64K SL0=2 (level 1) PAMax >= 44; 4K SL0=3 (level 3)
        // needs FEAT_TTST; SL2=1 (4K, DS=1: level -1) needs SL0=0.
        assertInvalid(1 << 14 | 5 << 16 | 3 << 6 | 20, "SL0=3 is reserved with 64K (S2InvalidSL)")
        assertInvalid(2 << 14 | 5 << 16 | 3 << 6 | 24, "SL0=3 with 16K needs DS=1 (S2InvalidSL)")
        assertInvalid(5 << 16 | 2 << 6 | 24, paMax: 40, "SL0=2 with 4K needs PAMax >= 44 (S2InvalidSL)")
        assertInvalid(2 << 14 | 2 << 16 | 2 << 6 | 24, paMax: 40, "SL0=2 with 16K needs PAMax >= 42 (S2InvalidSL)")
        assertInvalid(1 << 14 | 2 << 16 | 2 << 6 | 24, paMax: 40, "SL0=2 with 64K needs PAMax >= 44 (S2InvalidSL)")
        assertInvalid(0 << 16 | 3 << 6 | 42, ttst: false, "SL0=3 with 4K needs FEAT_TTST (S2InvalidSL)")
        assertInvalid(1 << 33 | 1 << 32 | 6 << 16 | 1 << 6 | 12, "VTCR_EL2.SL2=1 needs SL0=0 (S2InvalidSL)")
        // AArch64.S2InconsistentSL with 4K (stride 9, granule bits 12): from level L the IPA must be
        // (3 - L) * 9 + 12 + 1 ... that + 8 + 4 (16 concatenated tables) bits. Level 2: 22...34, so a 48-bit
        // IPA (T0SZ 16) is too wide; level 1: 31...43, so a 30-bit IPA (T0SZ 34) is too narrow.
        assertInvalid(
            5 << 16 | 0 << 6 | 16,
            "start level 2 with 4K pages resolves 22...34-bit inputs (up to 16 concatenated root tables), not 48 bits (S2InconsistentSL)"
        )
        assertInvalid(
            5 << 16 | 1 << 6 | 34,
            "start level 1 with 4K pages resolves 31...43-bit inputs (up to 16 concatenated root tables), not 30 bits (S2InconsistentSL)"
        )
        // 64K (stride 13, granule bits 16) from level 2: 30...46 bits; T0SZ 16 (48 bits) is too wide.
        assertInvalid(
            1 << 14 | 5 << 16 | 1 << 6 | 16,
            "start level 2 with 64K pages resolves 30...46-bit inputs (up to 16 concatenated root tables), not 48 bits (S2InconsistentSL)"
        )
        // T0SZ: at least 64 - 48 = 16 without DS (64 - 52 = 12 with DS, or 64K with PAMax 52); at most 48 with
        // FEAT_TTST (47 for 64K), 39 without (AArch64.MaxTxSZ).
        assertInvalid(
            5 << 16 | 2 << 6 | 10, "VTCR_EL2.T0SZ=10 (a 54-bit IPA) is out of range for 4K pages: 16...48 allowed")
        assertInvalid(
            1 << 14 | 5 << 16 | 1 << 6 | 12, paMax: 48,
            "VTCR_EL2.T0SZ=12 (a 52-bit IPA) is out of range for 64K pages: 16...47 allowed")
        assertInvalid(
            1 << 32 | 6 << 16 | 2 << 6 | 11, "VTCR_EL2.T0SZ=11 (a 53-bit IPA) is out of range for 4K pages: 12...48 allowed")
        assertInvalid(
            0 << 16 | 3 << 6 | 49, "VTCR_EL2.T0SZ=49 (a 15-bit IPA) is out of range for 4K pages: 16...48 allowed")
        assertInvalid(
            1 << 14 | 0 << 6 | 48, "VTCR_EL2.T0SZ=48 (a 16-bit IPA) is out of range for 64K pages: 12...47 allowed")
        assertInvalid(
            0 << 16 | 0 << 6 | 40, ttst: false,
            "VTCR_EL2.T0SZ=40 (a 24-bit IPA) is out of range for 4K pages: 16...39 allowed")
        // Not refusals: DS applies to 4K and 16K only (64K with DS=1 is a plain 64K regime), and SL2 only to
        // 4K with DS=1 (16K with SL2=1 starts where SL0 says).
        let ds64 = try? Geometry(vtcr: VTCR(1 << 32 | 1 << 14 | 5 << 16 | 1 << 6 | 20))
        XCTAssertEqual(ds64?.lpa2, false)
        XCTAssertEqual(ds64?.startLevel, 2)
        let sl2on16 = try? Geometry(vtcr: VTCR(1 << 33 | 1 << 32 | 2 << 14 | 6 << 16 | 2 << 6 | 16))
        XCTAssertEqual(sl2on16?.startLevel, 1)
    }

    /// Geometry(granule:iaBits:startLevel:) as kvm_pgtable_stage2_init accepts it; invalid shapes are typed,
    /// each with its reason.
    func testGeometryFromLevels() {
        XCTAssertNoThrow(try Geometry(granule: .k4, iaBits: 40, startLevel: 1))
        // Level 3 with 4K: 13...25 bits.
        assertInvalid(
            "start level 3 with 4K pages resolves 13...25-bit inputs (up to 16 concatenated root tables), not 40 bits (S2InconsistentSL)"
        ) { () throws(PgtableError) in try Geometry(granule: .k4, iaBits: 40, startLevel: 3) }
        // A hyp stage 1 has one root table: level 0 with 4K resolves 40...48 bits.
        assertInvalid("start level 0 with 4K pages resolves 40...48-bit inputs (one root table), not 39 bits") {
            () throws(PgtableError) in try Geometry(granule: .k4, iaBits: 39, startLevel: 0, concatenation: false)
        }
        assertInvalid("start level -1 needs FEAT_LPA2 (DS=1)") { () throws(PgtableError) in
            try Geometry(granule: .k4, iaBits: 52, startLevel: -1)
        }
        assertInvalid("start level -1 is not available with the 16K granule") { () throws(PgtableError) in
            try Geometry(granule: .k16, iaBits: 52, startLevel: -1, lpa2: true)
        }
        assertInvalid("start level 4 is not available with the 4K granule") { () throws(PgtableError) in
            try Geometry(granule: .k4, iaBits: 12, startLevel: 4)
        }
        assertInvalid("LPA2 (DS=1) does not apply to 64K pages") { () throws(PgtableError) in
            try Geometry(granule: .k64, iaBits: 48, startLevel: 1, lpa2: true)
        }
        assertInvalid("52-bit output addresses need FEAT_LPA (64K) or FEAT_LPA2 (DS=1) descriptors; these hold 48 bits") {
            () throws(PgtableError) in try Geometry(granule: .k4, iaBits: 40, startLevel: 1, oaBits: 52)
        }
        assertInvalid("a 31-bit output size is below the smallest PS, 32 bits") { () throws(PgtableError) in
            try Geometry(granule: .k4, iaBits: 40, startLevel: 1, oaBits: 31)
        }
        // 4K from level 0: 40...52 bits; a 52-bit input needs LPA2. 64K from level 1: 43...59 bits, but no
        // input is wider than 52 bits.
        assertInvalid("52-bit input needs FEAT_LPA2 or the 64K granule") { () throws(PgtableError) in
            try Geometry(granule: .k4, iaBits: 52, startLevel: 0)
        }
        assertInvalid("a 56-bit input is wider than the architecture's 52 bits") { () throws(PgtableError) in
            try Geometry(granule: .k64, iaBits: 56, startLevel: 1)
        }
    }
}
