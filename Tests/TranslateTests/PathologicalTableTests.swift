import Foundation
import Mem
import Pgtable
import XCTest

/// Tables that loop, leave memory or hold garbage give a fault record, never a crash or a hang.
final class PathologicalTableTests: XCTestCase {
    func testSelfLoopEndsAtTheLastLevel() throws {
        // Every root entry points back at the root. The walk reads it at levels 0, 1, 2 as a table and at
        // level 3 as a page descriptor (bits 1:0 = 0b11) with AF = 0: an access flag fault at level 3.
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 1 << 20)
        for i: UInt64 in 0..<512 { try mem.write64(PhysAddr(0x4000_0000 + i * 8), 0x4000_0000 | 3) }
        let r = TranslationRegime(vtcr: 16 | 2 << 6 | 5 << 16, vttbr: 0x4000_0000)
        let t = r.trace(0x1234_5678_9000, .read, in: mem)
        XCTAssertEqual(t.steps.map(\.kind), [.table, .table, .table, .page])
        XCTAssertEqual(t.translation.fault?.statusCode, 0x0b)
        // With HA there is no access flag fault, but the table descriptor's S2AP bits are 0b00 when read as a
        // page: a permission fault at level 3, and no AF update on the faulting access.
        let ha = TranslationRegime(vtcr: 16 | 2 << 6 | 5 << 16 | 1 << 21, vttbr: 0x4000_0000)
        XCTAssertEqual(ha.translate(0x1234_5678_9abc, .read, in: mem).fault?.statusCode, 0x0f)
        XCTAssertEqual(try mem.read64(PhysAddr(0x4000_0000 + 0x189 * 8)), 0x4000_0000 | 3)
        // Give the root S2AP = 0b11: now the level-3 read is a page whose output address is the root itself.
        for i: UInt64 in 0..<512 { try mem.write64(PhysAddr(0x4000_0000 + i * 8), 0x4000_0000 | 3 << 6 | 3) }
        XCTAssertEqual(ha.translate(0x1234_5678_9abc, .read, in: mem).result?.outputAddress, 0x4000_0abc)
    }

    func testTableOutsideMemoryIsAnExternalAbortOnTheWalk() throws {
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 1 << 20)
        // Level-0 entry points at unbacked 0x8000_0000: the level-1 read aborts (FST 0b010101).
        try mem.write64(PhysAddr(0x4000_0000), 0x8000_0000 | 3)
        let r = TranslationRegime(vtcr: 16 | 2 << 6 | 5 << 16, vttbr: 0x4000_0000)
        let f = try XCTUnwrap(r.translate(0x1000, .read, in: mem).fault)
        XCTAssertEqual(f.kind, .syncExternalOnWalk)
        XCTAssertEqual(f.level, 1)
        XCTAssertEqual(f.statusCode, 0x15)
        // A root outside memory aborts at the start level.
        let far = TranslationRegime(vtcr: 16 | 2 << 6 | 5 << 16, vttbr: 0x9000_0000)
        XCTAssertEqual(far.translate(0x1000, .read, in: mem).fault?.statusCode, 0x14)
    }

    func testGarbageTablesAndRegistersTerminate() throws {
        // A deterministic xorshift stream fills two pages with garbage; random control and base registers
        // walk it. Every translation ends in a result or a fault record.
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 1 << 20)
        var garbage = Garbage(seed: 0x9e37_79b9_7f4a_7c15)
        func next() -> UInt64 { garbage.next() }
        try garbage.fillTwoPages(mem)
        var outcomes = 0
        for _ in 0..<300 {
            let regimes = [
                TranslationRegime(vtcr: next(), vttbr: 0x4000_0000 | next() & 0x1ffe),
                TranslationRegime(vtcr: next() & 0x3_0007_ffff, vttbr: 0x4000_0000),
                TranslationRegime(hypTCR: next(), ttbr0: next()),
            ]
            for r in regimes {
                for access in [TranslationAccess.read, .write, .execute] {
                    switch r.translate(next() & 0xf_ffff_ffff_ffff, access, in: mem) {
                    case .success(let s): XCTAssertTrue((-1...3).contains(s.level))
                    case .fault(let f): XCTAssertTrue((-1...3).contains(f.level))
                    }
                    outcomes += 1
                }
            }
        }
        XCTAssertEqual(outcomes, 2700)
    }
    /// #3 [translate]: a table that loops back on itself, one outside backed memory and an illegal VTCR each
    /// give the fault record the Arm ARM gives, with the text the CLI prints, and the walk writes nothing:
    /// every byte of memory is compared before and after (HA set or not: the hardware updates only the
    /// descriptor of a successful translation).
    func testPathologicalTablesGiveFaultRecordsAndWriteNothing() throws {
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 1 << 20)
        // Root 0x4000_0000: entry 0 → table 0x4000_1000, whose entry 0 points back at the root (a two-table
        // loop); entry 1 → 0x8000_0000, unbacked; entries 2... → the root itself (a self loop).
        try mem.write64(PhysAddr(0x4000_0000), 0x4000_1003)
        try mem.write64(PhysAddr(0x4000_1000), 0x4000_0003)
        try mem.write64(PhysAddr(0x4000_0008), 0x8000_0003)
        for i: UInt64 in 2..<512 { try mem.write64(PhysAddr(0x4000_0000 + i * 8), 0x4000_0003) }
        let before = try mem.read(PhysAddr(0x4000_0000), count: 1 << 20)
        // 4K, T0SZ 16 (48-bit IPA), SL0 2: start level 0; PS 5 (48 bits).
        let vtcr: UInt64 = 16 | 2 << 6 | 5 << 16
        let plain = TranslationRegime(vtcr: vtcr, vttbr: 0x4000_0000)
        let ha = TranslationRegime(vtcr: vtcr | 1 << 21 | 1 << 22, vttbr: 0x4000_0000)
        let cases: [(TranslationRegime, UInt64, TranslationAccess, String)] = [
            // IPA 0: root[0] → T1, T1[0] → root, root[0] → T1 at levels 0-2; at level 3, T1[0] = 0x4000_0003
            // is a page descriptor (AArch64.DecodeDescriptorType) with AF = 0 and no HA: access flag fault.
            (plain, 0, .read, "stage-2 access flag fault, level 3 (FST 0xb)"),
            // IPA 0x1234_5678_9000: root entry 0x24 (bits 47:39), then entries of the root all the way down;
            // the level-3 "page" is the root's own table descriptor.
            (plain, 0x1234_5678_9000, .write, "stage-2 access flag fault, level 3 (FST 0xb)"),
            // With HA the access flag is no fault, but that page's S2AP is 0b00: a permission fault, and no
            // access flag update on a faulting access.
            (ha, 0x1234_5678_9abc, .read, "stage-2 permission fault, level 3 (FST 0xf)"),
            (ha, 0, .write, "stage-2 permission fault, level 3 (FST 0xf)"),
            // IPA 0x80_0000_0000 (root entry 1): the level-1 table at 0x8000_0000 is not backed: a
            // synchronous external abort on the walk at level 1 (EncodeLDFSC 0b010101).
            (plain, 0x80_0000_0000, .read, "stage-2 synchronous external abort on the table walk, level 1 (FST 0x15)"),
            (ha, 0x80_0000_1000, .write, "stage-2 synchronous external abort on the table walk, level 1 (FST 0x15)"),
            // A root outside memory: the abort is at the start level (0b010100).
            (
                TranslationRegime(vtcr: vtcr | 1 << 21, vttbr: 0x9000_0000), 0x1000, .read,
                "stage-2 synchronous external abort on the table walk, level 0 (FST 0x14)"
            ),
            // AArch64.S2InconsistentSL (4K from level 1 resolves 31...43 bits; T0SZ 20 is 44): every
            // translation is a translation fault at level 0.
            (
                TranslationRegime(vtcr: 20 | 1 << 6 | 5 << 16, vttbr: 0x4000_0000), 0x1000, .read,
                "stage-2 translation fault, level 0 (FST 0x4)"
            ),
            // AArch64.S2MinTxSZ: T0SZ 10 is below 16 (4K without DS).
            (
                TranslationRegime(vtcr: 10 | 2 << 6 | 5 << 16, vttbr: 0x4000_0000), 0x1000, .read,
                "stage-2 translation fault, level 0 (FST 0x4)"
            ),
        ]
        for (regime, ipa, access, message) in cases {
            let t = regime.trace(ipa, access, in: mem)
            let f = try XCTUnwrap(t.translation.fault, "\(regime) 0x\(String(ipa, radix: 16))")
            XCTAssertEqual("\(f)", message, "0x\(String(ipa, radix: 16))")
            XCTAssertEqual("\(t.translation)", message)
            XCTAssertEqual(f.address, ipa)
            XCTAssertLessThanOrEqual(t.steps.count, 4)
            XCTAssertTrue(try mem.read(PhysAddr(0x4000_0000), count: 1 << 20) == before, message)
        }
        // The CLI's header line for an illegal VTCR says why.
        XCTAssertEqual(
            "\(TranslationRegime(vtcr: 20 | 1 << 6 | 5 << 16, vttbr: 0x4000_0000))",
            "stage2: invalid (invalid translation regime: start level 1 with 4K pages resolves 31...43-bit inputs"
                + " (up to 16 concatenated root tables), not 44 bits (S2InconsistentSL))")
        XCTAssertEqual(
            "\(TranslationRegime(vtcr: 10 | 2 << 6 | 5 << 16, vttbr: 0x4000_0000))",
            "stage2: invalid (VTCR_EL2.T0SZ=10 is below the minimum 16)")
    }

    /// Garbage tables under random registers, HA and HD included: every translation ends in a result or a
    /// fault record, and memory changes only where hardware would write: the descriptor of a successful
    /// translation, only its AF (bit 10, under HA) and dirty state (bit 7, under HA + HD + DBM), checked
    /// against a shadow copy of all memory after every translation.
    func testGarbageWalksWriteOnlyWhatHardwareWould() throws {
        let size = 1 << 20
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: UInt64(size))
        var garbage = Garbage(seed: 0x2545_f491_4f6c_dd1d)
        func next() -> UInt64 { garbage.next() }
        try garbage.fillTwoPages(mem)
        let host = try mem.pointer(PhysAddr(0x4000_0000), size: UInt64(size))
        let shadow = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { shadow.deallocate() }
        shadow.copyMemory(from: host, byteCount: size)
        var updates = 0
        var faults = 0
        for _ in 0..<400 {
            let regimes = [
                TranslationRegime(vtcr: next() | 1 << 21, vttbr: 0x4000_0000 | next() & 0x1ffe),
                TranslationRegime(vtcr: next() & 0x3_0007_ffff | 3 << 21, vttbr: 0x4000_0000),
                TranslationRegime(hypTCR: next() | 3 << 39, ttbr0: 0x4000_0000 | next() & 0x1000),
                // 4K, 48-bit IPA from level 0 and 40-bit from level 1, HA and HD on: walks that get through.
                TranslationRegime(vtcr: 16 | 2 << 6 | 5 << 16 | 3 << 21, vttbr: 0x4000_0000 | next() & 0x1000),
                TranslationRegime(vtcr: 24 | 1 << 6 | 5 << 16 | 3 << 21, vttbr: 0x4000_0000),
            ]
            for r in regimes {
                for access in [TranslationAccess.read, .write, .execute, .at(write: true)] {
                    let ipa = next() & 0xf_ffff_ffff_ffff
                    switch r.translate(ipa, access, in: mem) {
                    case .success(let s):
                        guard s.descriptorUpdated else { break }
                        updates += 1
                        XCTAssertTrue(r.ha, "\(r): wrote without HA")
                        let at = Int(s.descriptorAddress.rawValue - 0x4000_0000)
                        let old = UInt64(littleEndian: shadow.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                        XCTAssertEqual((old ^ s.descriptor.rawValue) & ~(1 << 10 | 1 << 7), 0, "\(r)")
                        shadow.storeBytes(of: s.descriptor.rawValue.littleEndian, toByteOffset: at, as: UInt64.self)
                    case .fault(let f):
                        faults += 1
                        XCTAssertTrue("\(f)".hasSuffix(", level \(f.level) (FST 0x\(String(f.statusCode, radix: 16)))"))
                    }
                    XCTAssertEqual(memcmp(host, shadow, size), 0, "\(r) 0x\(String(ipa, radix: 16)) \(access)")
                }
            }
        }
        XCTAssertGreaterThan(updates, 0, "no hardware update happened: the test checks nothing")
        XCTAssertGreaterThan(faults, 0)
    }
}

/// A deterministic xorshift stream of garbage descriptors and register values.
private struct Garbage {
    var x: UInt64

    init(seed: UInt64) { x = seed }

    mutating func next() -> UInt64 {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        return x
    }

    /// Fills the two pages at 0x4000_0000 with garbage; every other descriptor is steered back into
    /// them as a table pointer, so walks go deep (and random leaves often have AF clear or DBM set).
    mutating func fillTwoPages(_ mem: PhysMem) throws {
        for i: UInt64 in 0..<1024 {
            var d = next()
            if i % 2 == 0 { d = (d & ~0xffff_ffff_f000) | 0x4000_0000 | (d & 0x1000) }
            try mem.write64(PhysAddr(0x4000_0000 + i * 8), d)
        }
    }
}
