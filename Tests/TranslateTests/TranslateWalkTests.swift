import Mem
import Pgtable
import XCTest

/// Hand-built tables with answers derived from the Arm ARM pseudocode (`AArch64.S2Walk`,
/// `AArch64.S2Translate`, `AArch64.S1Walk`); each test names the step it exercises.
final class TranslateWalkTests: XCTestCase {
    let af: UInt64 = 1 << 10

    func memory() throws -> PhysMem { try PhysMem(base: PhysAddr(0x4000_0000), size: 16 << 20) }

    /// VTCR_EL2 with T0SZ, SL0, TG0, PS and any extra bits (HA 21, HD 22, DS 32, SL2 33).
    func vtcr(t0sz: UInt64, sl0: UInt64, tg0: UInt64 = 0, ps: UInt64, extra: UInt64 = 0) -> UInt64 {
        t0sz | sl0 << 6 | tg0 << 14 | ps << 16 | extra
    }

    /// 4K, 39-bit IPA, start level 1, 40-bit PS; root 0x4000_0000:
    ///   L1[1] -> table 0x4000_1000; L2[1] = 2 MiB block at 0x8000_0000 (S2AP=01 read-only, XN=0b10);
    ///   L2[2] -> table 0x4000_2000; L3[5] = page 0x9000_5000 (S2AP=11, SH=3, contiguous, DBM, SW=0b1010).
    func threeLevel4K(_ mem: PhysMem, blockAttrs: UInt64? = nil) throws -> TranslationRegime {
        try mem.write64(PhysAddr(0x4000_0008), 0x4000_1000 | 3)
        try mem.write64(PhysAddr(0x4000_1008), blockAttrs ?? (0x8000_0000 | af | 1 << 6 | 1 << 54 | 0xf << 2 | 1))
        try mem.write64(PhysAddr(0x4000_1010), 0x4000_2000 | 3)
        try mem.write64(
            PhysAddr(0x4000_2028), 0x9000_5000 | af | 3 << 6 | 3 << 8 | 1 << 52 | 1 << 51 | 0b1010 << 55 | 3)
        return TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, ps: 2), vttbr: 0x4000_0000)
    }

    func testBlockAndPage() throws {
        let mem = try memory()
        let r = try threeLevel4K(mem)
        XCTAssertEqual(r.geometry?.startLevel, 1)
        // Block: IPA 0x4020_1234 -> L1 index 1, L2 index 1, offset 0x1234 in the 2 MiB block.
        let block = try XCTUnwrap(r.translate(0x4020_1234, .read, in: mem).result)
        XCTAssertEqual(block.outputAddress, 0x8000_1234)
        XCTAssertEqual(block.level, 2)
        XCTAssertEqual(block.blockSize, 2 << 20)
        XCTAssertEqual(block.memAttr, 0xf)
        XCTAssertEqual(
            block.permissions, TranslationPermissions(read: true, write: false, executeEL1: false, executeEL0: false))
        // Page: IPA 0x4040_5678 -> L2 index 2, L3 index 5.
        let page = try XCTUnwrap(r.translate(0x4040_5678, .write, in: mem).result)
        XCTAssertEqual(page.outputAddress, 0x9000_5678)
        XCTAssertEqual(page.level, 3)
        XCTAssertEqual(page.blockSize, 4096)
        XCTAssertEqual(page.shareability, 3)
        XCTAssertTrue(page.contiguous)
        XCTAssertTrue(page.dirtyBitModifier)
        XCTAssertEqual(page.softwareBits, 0b1010)
        XCTAssertEqual(page.descriptorAddress, PhysAddr(0x4000_2028))
        XCTAssertFalse(page.descriptorUpdated)
    }

    func testTraceStepsPerLevel() throws {
        let mem = try memory()
        let r = try threeLevel4K(mem)
        let t = r.trace(0x4040_5678, .read, in: mem)
        XCTAssertEqual(t.steps.map(\.level), [1, 2, 3])
        XCTAssertEqual(
            t.steps.map(\.tableAddress), [PhysAddr(0x4000_0000), PhysAddr(0x4000_1000), PhysAddr(0x4000_2000)])
        XCTAssertEqual(t.steps.map(\.index), [1, 2, 5])
        XCTAssertEqual(
            t.steps.map(\.entryAddress), [PhysAddr(0x4000_0008), PhysAddr(0x4000_1010), PhysAddr(0x4000_2028)])
        XCTAssertEqual(t.steps.map(\.kind), [.table, .table, .page])
        XCTAssertEqual(t.translation, r.translate(0x4040_5678, .read, in: mem))
    }

    func testPermissionFaultIsReportedAtTheLeafLevel() throws {
        let mem = try memory()
        let r = try threeLevel4K(mem)
        // S2AP=01: AArch64.S2CheckPermissions faults the write; XN=0b10 faults any fetch.
        let w = try XCTUnwrap(r.translate(0x4020_0000, .at(write: true), in: mem).fault)
        XCTAssertEqual(
            w, FaultRecord(kind: .permission, level: 2, secondStage: true, write: true, address: 0x4020_0000))
        XCTAssertEqual(w.statusCode, 0x0e)
        XCTAssertEqual(r.translate(0x4020_0000, .execute, in: mem).fault?.kind, .permission)
    }

    func testExecuteNeverEncodings() throws {
        // AArch64.S2DirectBasePermissions: XN:XNX 00 -> EL1 and EL0 may execute, 01 -> EL0 only,
        // 10 -> neither, 11 -> EL1 only.
        let expected: [(UInt64, Bool, Bool)] = [
            (0b00, true, true), (0b01, false, true), (0b10, false, false), (0b11, true, false),
        ]
        for (xn, el1, el0) in expected {
            let mem = try memory()
            let r = try threeLevel4K(mem, blockAttrs: 0x8000_0000 | af | 3 << 6 | xn << 53 | 1)
            let p = try XCTUnwrap(r.translate(0x4020_0000, .read, in: mem).result).permissions
            XCTAssertEqual(p.executeEL1, el1, "XN 0b\(String(xn, radix: 2))")
            XCTAssertEqual(p.executeEL0, el0, "XN 0b\(String(xn, radix: 2))")
            XCTAssertEqual(r.translate(0x4020_0000, TranslationAccess(.execute, el0: true), in: mem).result != nil, el0)
        }
    }

    func testAccessFlagFaultAndHardwareUpdate() throws {
        let mem = try memory()
        let noAF: UInt64 = 0x8000_0000 | 1 << 6 | 1 << 51 | 1  // S2AP=01, DBM, AF=0
        _ = try threeLevel4K(mem, blockAttrs: noAF)
        // HA=0: Fault_AccessFlag at the leaf's level (FST 0b001010).
        let plain = TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, ps: 2), vttbr: 0x4000_0000)
        let f = try XCTUnwrap(plain.translate(0x4020_0000, .read, in: mem).fault)
        XCTAssertEqual(f.kind, .accessFlag)
        XCTAssertEqual(f.statusCode, 0x0a)
        XCTAssertEqual(try mem.read64(PhysAddr(0x4000_1008)), noAF, "a fault writes nothing")
        // HA=1, HD=1: AT S12E1W sets AF but not the dirty state (AArch64.S2Translate excludes AT).
        let hahd = TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, ps: 2, extra: 1 << 21 | 1 << 22), vttbr: 0x4000_0000)
        let at = try XCTUnwrap(hahd.translate(0x4020_0000, .at(write: true), in: mem).result)
        XCTAssertTrue(at.descriptorUpdated)
        XCTAssertEqual(try mem.read64(PhysAddr(0x4000_1008)), noAF | af)
        XCTAssertTrue(at.permissions.write, "DBM with HA and HD makes the block writable")
        // A real write sets S2AP[1] (bit 7).
        let store = try XCTUnwrap(hahd.translate(0x4020_0000, .write, in: mem).result)
        XCTAssertTrue(store.descriptorUpdated)
        XCTAssertEqual(try mem.read64(PhysAddr(0x4000_1008)), noAF | af | 1 << 7)
        // HA alone: no dirty state; the read-only block faults a write and AF is not set by the faulting
        // access (QEMU's choice for the CONSTRAINED UNPREDICTABLE AF update on a permission fault).
        try mem.write64(PhysAddr(0x4000_1008), noAF)
        let ha = TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, ps: 2, extra: 1 << 21), vttbr: 0x4000_0000)
        XCTAssertEqual(ha.translate(0x4020_0000, .write, in: mem).fault?.kind, .permission)
        XCTAssertEqual(try mem.read64(PhysAddr(0x4000_1008)), noAF)
    }

    func testReservedEncodings() throws {
        let mem = try memory()
        let r = try threeLevel4K(mem)
        // 0b01 at level 3 is invalid (AArch64.DecodeDescriptorType): translation fault level 3.
        try mem.write64(PhysAddr(0x4000_2030), 0x9000_6000 | af | 3 << 6 | 1)
        let t = r.trace(0x4040_6000, .read, in: mem)
        XCTAssertEqual(t.translation.fault?.statusCode, 0x07)
        XCTAssertEqual(t.steps.last?.kind, .reserved)
        // A 4K block at level 0 without DS (AArch64.BlockDescSupported): translation fault level 0.
        let l0 = TranslationRegime(vtcr: vtcr(t0sz: 16, sl0: 2, ps: 5), vttbr: 0x4010_0000)
        try mem.write64(PhysAddr(0x4010_0000), af | 3 << 6 | 1)
        XCTAssertEqual(l0.translate(0x1234, .read, in: mem).fault?.statusCode, 0x04)
        // With DS=1 the same descriptor is a 512 GiB block.
        let ds = TranslationRegime(vtcr: vtcr(t0sz: 16, sl0: 2, ps: 6, extra: 1 << 32), vttbr: 0x4010_0000)
        XCTAssertEqual(ds.translate(0x12_3456_789a, .read, in: mem).result?.blockSize, 1 << 39)
    }

    func testAddressSizeFaults() throws {
        let mem = try memory()
        let r = try threeLevel4K(mem)
        // Table descriptor whose next table is beyond the 40-bit PS: fault at the table's level (1).
        try mem.write64(PhysAddr(0x4000_0010), 0x100_0000_0000 | 3)
        XCTAssertEqual(r.translate(0x8000_0000, .read, in: mem).fault?.statusCode, 0x01)
        // Leaf beyond PS: fault at the leaf's level.
        try mem.write64(PhysAddr(0x4000_1018), 0x200_0000_0000 | af | 3 << 6 | 1)
        XCTAssertEqual(r.translate(0x4060_0000, .read, in: mem).fault?.statusCode, 0x02)
        // VTTBR_EL2 beyond PS: level 0.
        let far = TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, ps: 2), vttbr: 0x100_0000_0000)
        XCTAssertEqual(far.translate(0, .read, in: mem).fault?.statusCode, 0x00)
    }

    func test64KLPAOutputAddressBits() throws {
        // 64K, 42-bit IPA from level 2. AArch64.LeafBase takes OA[51:48] from bits 15:12 whenever FEAT_LPA
        // is implemented, so with PS = 48 a descriptor with bits 15:12 set is an address size fault (QEMU
        // 7.2 ignores those bits unless PS = 52).
        let mem = try memory()
        let desc: UInt64 = 0x1_0000_0000 | 0x3 << 12 | af | 3 << 6 | 1 | 2
        try mem.write64(PhysAddr(0x4000_0000), 0x4001_0000 | 3)
        try mem.write64(PhysAddr(0x4001_0000), desc)
        let ps48 = TranslationRegime(vtcr: vtcr(t0sz: 22, sl0: 1, tg0: 1, ps: 5), vttbr: 0x4000_0000)
        XCTAssertEqual(ps48.translate(0x1234, .read, in: mem).fault?.statusCode, 0x03)
        let ps52 = TranslationRegime(vtcr: vtcr(t0sz: 22, sl0: 1, tg0: 1, ps: 6), vttbr: 0x4000_0000)
        XCTAssertEqual(ps52.translate(0x1234, .read, in: mem).result?.outputAddress, 0x3_0001_0000_1234)
    }

    func test64KLevel1BlockAndContiguousBit() throws {
        // 64K with PAMax 52: level-1 blocks are supported (AArch64.BlockDescSupported) and map 4 TiB; the
        // contiguous bit is RES0 there (AArch64.ContiguousBit) but used at level 2.
        let mem = try memory()
        let r = TranslationRegime(vtcr: vtcr(t0sz: 12, sl0: 2, tg0: 1, ps: 6), vttbr: 0x4000_0000)
        XCTAssertEqual(r.geometry?.startLevel, 1)
        try mem.write64(PhysAddr(0x4000_0000), 1 << 42 | af | 3 << 6 | 1 << 52 | 1)
        let block = try XCTUnwrap(r.translate(0x123_4567_89ab, .read, in: mem).result)
        XCTAssertEqual(block.blockSize, 1 << 42)
        XCTAssertEqual(block.outputAddress, 1 << 42 | 0x123_4567_89ab)
        XCTAssertFalse(block.contiguous)
        try mem.write64(PhysAddr(0x4000_0008), 0x4001_0000 | 3)
        try mem.write64(PhysAddr(0x4001_0000), 0x2000_0000 | af | 3 << 6 | 1 << 52 | 1)
        let l2 = try XCTUnwrap(r.translate(1 << 42 | 0x1234, .read, in: mem).result)
        XCTAssertEqual(l2.blockSize, 512 << 20)
        XCTAssertTrue(l2.contiguous)
    }

    func testOutputSizeFollowsPhysicalAddressSize() {
        // AArch64.PhysicalAddressSize: with FEAT_LPA and FEAT_LPA2 implemented, PS = 52 gives 52 bits even for
        // 4K with DS = 0 (the descriptors still only hold 48); PS = 0b111 (56) is bounded by PAMax.
        XCTAssertEqual(TranslationRegime(hypTCR: 16 | 6 << 16, ttbr0: 0).oaBits, 52)
        XCTAssertNotNil(TranslationRegime(hypTCR: 16 | 6 << 16, ttbr0: 0).geometry)
        XCTAssertEqual(TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, ps: 7), vttbr: 0).oaBits, 52)
        var noLPA2 = ArchFeatures.qemuMax
        noLPA2.lpa2 = false
        XCTAssertEqual(TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, ps: 6), vttbr: 0, features: noLPA2).oaBits, 48)
        XCTAssertEqual(
            TranslationRegime(vtcr: vtcr(t0sz: 25, sl0: 1, tg0: 1, ps: 6), vttbr: 0, features: noLPA2).oaBits, 52)
    }

    func testLPA2LevelMinusOne() throws {
        // 4K, DS=1, SL2=1: 52-bit IPA from level -1; root index is IPA[51:48].
        let mem = try memory()
        let regime = TranslationRegime(
            vtcr: vtcr(t0sz: 12, sl0: 0, ps: 6, extra: 1 << 32 | 1 << 33), vttbr: 0x4000_0000)
        XCTAssertEqual(regime.geometry?.startLevel, -1)
        XCTAssertEqual(regime.translate(0xf_0000_0000_0000, .read, in: mem).fault?.statusCode, 0b10_1011)
        // Table at level -1 pointing at OA[49:48] = 0b11 with PS = 48 (IPA wider than PS allowed):
        // address size fault at level -1.
        var loose = ArchFeatures.qemuMax
        loose.faultOnIPAWiderThanPS = false
        let ps48 = TranslationRegime(
            vtcr: vtcr(t0sz: 12, sl0: 0, ps: 5, extra: 1 << 32 | 1 << 33), vttbr: 0x4000_0000, features: loose)
        try mem.write64(PhysAddr(0x4000_0000), 0x3_0000_4000_1000 | 3)
        XCTAssertEqual(ps48.translate(0x1000, .read, in: mem).fault?.statusCode, 0b10_1001)
        // With QEMU's choice the 52-bit IPA over a 48-bit PS is itself a translation fault at level 0.
        let strict = TranslationRegime(
            vtcr: vtcr(t0sz: 12, sl0: 0, ps: 5, extra: 1 << 32 | 1 << 33), vttbr: 0x4000_0000)
        XCTAssertEqual(strict.translate(0x1000, .read, in: mem).fault?.statusCode, 0x04)
    }

    func testStartLevelsTheArchitectureAllows() {
        // AArch64.S2InvalidSL: 16K SL0=3 needs DS=1 (level 0); 64K SL0=3 is reserved; 4K SL0=3 (level 3)
        // needs FEAT_TTST.
        XCTAssertEqual(
            TranslationRegime(vtcr: vtcr(t0sz: 12, sl0: 3, tg0: 2, ps: 6, extra: 1 << 32), vttbr: 0).geometry?
                .startLevel, 0)
        XCTAssertNil(TranslationRegime(vtcr: vtcr(t0sz: 16, sl0: 3, tg0: 2, ps: 5), vttbr: 0).geometry)
        XCTAssertNil(TranslationRegime(vtcr: vtcr(t0sz: 16, sl0: 3, tg0: 1, ps: 5), vttbr: 0).geometry)
        XCTAssertEqual(TranslationRegime(vtcr: vtcr(t0sz: 42, sl0: 3, ps: 0), vttbr: 0).geometry?.startLevel, 3)
        var noTTST = ArchFeatures.qemuMax
        noTTST.smallTranslationTables = false
        XCTAssertNil(TranslationRegime(vtcr: vtcr(t0sz: 42, sl0: 3, ps: 0), vttbr: 0, features: noTTST).geometry)
        // AArch64.S2InconsistentSL: 44-bit IPA from level 1 would need 32 concatenated tables.
        XCTAssertNil(TranslationRegime(vtcr: vtcr(t0sz: 20, sl0: 1, ps: 5), vttbr: 0).geometry)
    }

    func testInvalidRegimeAndOutOfRangeInput() throws {
        let mem = try memory()
        let bad = TranslationRegime(vtcr: vtcr(t0sz: 20, sl0: 1, ps: 5), vttbr: 0x4000_0000)
        for ipa: UInt64 in [0, 0x1000, 0xfff_ffff_f000] {
            XCTAssertEqual(bad.translate(ipa, .read, in: mem).fault?.statusCode, 0x04)
        }
        // AArch64.IPAIsOutOfRange: a 39-bit regime faults IPA 2^39 at level 0.
        let r = try threeLevel4K(mem)
        XCTAssertEqual(
            r.translate(1 << 39, .read, in: mem).fault,
            FaultRecord(kind: .translation, level: 0, secondStage: true, write: false, address: 1 << 39))
    }

    func testConcatenatedRootIndex() throws {
        // 4K, 40-bit IPA from level 1: two concatenated root tables; IPA bit 39 selects the second page.
        let mem = try memory()
        let r = TranslationRegime(vtcr: vtcr(t0sz: 24, sl0: 1, ps: 2), vttbr: 0x4000_0000)
        XCTAssertEqual(r.geometry?.rootPages, 2)
        try mem.write64(PhysAddr(0x4000_1000 + 3 * 8), 0xc000_0000 | af | 3 << 6 | 1)  // 1 GiB block
        let t = r.trace(0x80_c000_1234, .read, in: mem)
        XCTAssertEqual(t.steps.first?.entryAddress, PhysAddr(0x4000_1018))
        XCTAssertEqual(t.translation.result?.outputAddress, 0xc000_1234)
    }

    func testHypStage1() throws {
        // TCR_EL2: 48-bit VA (4 levels from 0), 4K, PS 48. VA 0x4020_3abc: indices 0, 1, 1, 3.
        let mem = try memory()
        let tcr: UInt64 = 16 | 5 << 16
        try mem.write64(PhysAddr(0x4010_0000), 0x4010_1000 | 3)
        try mem.write64(PhysAddr(0x4010_1008), 0x4010_2000 | 3)
        try mem.write64(PhysAddr(0x4010_2008), 0x4010_3000 | 3)
        try mem.write64(PhysAddr(0x4010_3018), 0xa000_3000 | af | 1 << 7 | 2 << 2 | 3 << 8 | 3)
        let r = TranslationRegime(hypTCR: tcr, ttbr0: 0x4010_0000)
        XCTAssertEqual(r.geometry?.startLevel, 0)
        let ok = try XCTUnwrap(r.translate(0x4020_3abc, .read, in: mem).result)
        XCTAssertEqual(ok.outputAddress, 0xa000_3abc)
        XCTAssertEqual(ok.memAttr, 2)
        XCTAssertEqual(
            ok.permissions, TranslationPermissions(read: true, write: false, executeEL1: true, executeEL0: false))
        // AP[2] = 1: read-only; a stage-1 permission fault (PAR_EL1.S = 0) at level 3.
        let w = try XCTUnwrap(r.translate(0x4020_3abc, .at(write: true), in: mem).fault)
        XCTAssertEqual(w.par, 0x81f)
        // XNTable (bit 60) in the level-1 table descriptor: no execution below it; HPD=1 ignores it.
        try mem.write64(PhysAddr(0x4010_1008), 0x4010_2000 | 1 << 60 | 3)
        XCTAssertEqual(r.translate(0x4020_3abc, .execute, in: mem).fault?.kind, .permission)
        let hpd = TranslationRegime(hypTCR: tcr | 1 << 24, ttbr0: 0x4010_0000)
        XCTAssertNotNil(hpd.translate(0x4020_3abc, .execute, in: mem).result)
        // APTable[1] (bit 62): read-only below, even for a writable page.
        try mem.write64(PhysAddr(0x4010_3018), 0xa000_3000 | af | 3)
        XCTAssertNotNil(r.translate(0x4020_3abc, .write, in: mem).result)
        try mem.write64(PhysAddr(0x4010_0000), 0x4010_1000 | 1 << 62 | 3)
        XCTAssertEqual(r.translate(0x4020_3abc, .write, in: mem).fault?.statusCode, 0x0f)
        // TBI: the top byte is ignored only when TCR_EL2.TBI is set.
        XCTAssertEqual(r.translate(0xff00_0000_4020_3abc, .read, in: mem).fault?.statusCode, 0x04)
        let tbi = TranslationRegime(hypTCR: tcr | 1 << 20, ttbr0: 0x4010_0000)
        XCTAssertEqual(tbi.translate(0xff00_0000_4020_3abc, .read, in: mem).result?.outputAddress, 0xa000_3abc)
    }
}
