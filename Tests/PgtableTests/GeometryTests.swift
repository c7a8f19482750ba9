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

    func assertInvalid(_ raw: UInt64, paMax: Int = 52, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Geometry(vtcr: VTCR(raw), paMax: paMax), file: file, line: line) { e in
            guard case .invalidGeometry = e as? PgtableError else {
                return XCTFail("\(e) is not invalidGeometry", file: file, line: line)
            }
        }
    }

    func testGeometryFromInvalidVTCR() {
        assertInvalid(3 << 14 | 5 << 16 | 1 << 6 | 24)  // TG0 0b11 reserved
        assertInvalid(7 << 16 | 1 << 6 | 24)  // PS 0b111 reserved
        assertInvalid(1 << 14 | 5 << 16 | 3 << 6 | 20)  // 64K SL0 3: S2InvalidSL
        assertInvalid(2 << 14 | 5 << 16 | 3 << 6 | 24)  // 16K SL0 3 without DS: S2InvalidSL
        assertInvalid(5 << 16 | 2 << 6 | 24, paMax: 40)  // 4K SL0 2 (level 0) needs PAMax >= 44
        assertInvalid(5 << 16 | 0 << 6 | 16)  // 4K 48-bit at level 2: 16 roots of 1G cover only 34 bits
        assertInvalid(1 << 33 | 1 << 32 | 6 << 16 | 1 << 6 | 12)  // SL2=1 needs SL0=0: S2InvalidSL
        assertInvalid(5 << 16 | 1 << 6 | 34)  // 4K 30-bit at level 1: smaller than one level-1 table's range
        assertInvalid(5 << 16 | 2 << 6 | 10)  // T0SZ 10 (54-bit IPA) out of range
        assertInvalid(1 << 14 | 5 << 16 | 1 << 6 | 12, paMax: 48)  // 64K 52-bit IPA needs PAMax 52
    }

    /// Geometry(granule:iaBits:startLevel:) as kvm_pgtable_stage2_init accepts it; invalid shapes are typed.
    func testGeometryFromLevels() {
        XCTAssertNoThrow(try Geometry(granule: .k4, iaBits: 40, startLevel: 1))
        XCTAssertThrowsError(try Geometry(granule: .k4, iaBits: 40, startLevel: 3))
        XCTAssertThrowsError(try Geometry(granule: .k4, iaBits: 52, startLevel: -1))  // -1 needs LPA2
        XCTAssertThrowsError(try Geometry(granule: .k64, iaBits: 48, startLevel: 1, lpa2: true))
        XCTAssertThrowsError(try Geometry(granule: .k4, iaBits: 40, startLevel: 1, oaBits: 52))
    }
}
