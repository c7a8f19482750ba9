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
        var x: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return x
        }
        for i: UInt64 in 0..<1024 {
            // Half the table descriptors are steered back into the two pages, so walks go deep.
            var d = next()
            if i % 2 == 0 { d = (d & ~0xffff_ffff_f000) | 0x4000_0000 | (d & 0x1000) }
            try mem.write64(PhysAddr(0x4000_0000 + i * 8), d)
        }
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
}
