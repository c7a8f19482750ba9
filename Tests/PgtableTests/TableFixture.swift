import Foundation
import Mem
import Pgtable
import XCTest

/// Emulated memory with a deterministic table-page pool at a known base, the set-up every hand-derived
/// vector assumes: the pool starts at `poolBase` (0x4000_0000), the stage-2 root (with its concatenated
/// pages) is the pool's first allocation, and pages are handed out lowest first.
struct TableFixture {
    static let poolBase: UInt64 = 0x4000_0000

    let mem: PhysMem
    let pool: PagePool

    /// `pages` pool pages of `granule` size at `poolBase`, inside a backed region of 8 MiB.
    init(granule: Granule, pages: Int) throws {
        mem = try PhysMem(base: PhysAddr(Self.poolBase), size: 8 << 20)
        pool = try PagePool(
            mem: mem, base: PhysAddr(Self.poolBase), size: UInt64(pages) << UInt64(granule.shift),
            pageShift: granule.shift)
    }

    /// The 64-bit entry at physical address `pa`.
    func entry(_ pa: UInt64) throws -> UInt64 { try mem.read64(PhysAddr(pa)) }

    /// The reference count of the pool page at `pa` (0 when free).
    func count(_ pa: UInt64) -> Int { pool.pageCount(PhysAddr(pa)) }

    /// Every allocated pool page with its count, lowest first, as `[address: count]` pairs.
    var allocated: [UInt64: Int] {
        Dictionary(uniqueKeysWithValues: pool.allocatedPages.map { ($0.address.rawValue, $0.count) })
    }

    /// The non-zero entries of the table page at `table` (granule-sized), as `[entry address: value]`.
    func nonZeroEntries(_ table: UInt64, granule: Granule) throws -> [UInt64: UInt64] {
        var out: [UInt64: UInt64] = [:]
        let bytes = try mem.read(PhysAddr(table), count: Int(granule.size))
        bytes.withUnsafeBytes { raw in
            for i in 0..<granule.entries {
                let v = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                if v != 0 { out[table + 8 * UInt64(i)] = v }
            }
        }
        return out
    }

    /// Asserts that the table page at `table` holds exactly `expected` (every other entry zero).
    func assertTable(
        _ table: UInt64, granule: Granule, _ expected: [UInt64: UInt64], file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let got = try nonZeroEntries(table, granule: granule)
        XCTAssertEqual(got, expected, "table 0x\(String(table, radix: 16))", file: file, line: line)
    }
}

/// Everything a table operation on a `TableFixture` can touch: every byte of the backed region (tables,
/// pool pages, free pages) and the reference count of every allocated pool page.
struct TableState: Equatable {
    let bytes: Data
    let pages: [UInt64: Int]

    /// This state with the 64-bit words `words` stored (little-endian) and the pool's counts `pages`: what
    /// an operation that changes exactly those leaves behind.
    func with(_ words: [UInt64: UInt64], pages: [UInt64: Int]) -> TableState {
        var b = bytes
        for (pa, v) in words {
            let off = Int(pa - TableFixture.poolBase)
            b.replaceSubrange(off..<off + 8, with: withUnsafeBytes(of: v.littleEndian) { Data($0) })
        }
        return TableState(bytes: b, pages: pages)
    }
}

extension TableFixture {
    /// The current `TableState`.
    func state() throws -> TableState {
        TableState(bytes: Data(try mem.read(PhysAddr(Self.poolBase), count: 8 << 20)), pages: allocated)
    }

    /// Asserts that the fixture is in `expected`, naming the first 64-bit word that differs.
    func assertState(_ expected: TableState, _ what: String = "", file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let now = try state()
        XCTAssertEqual(now.pages, expected.pages, "page counts \(what)", file: file, line: line)
        guard now.bytes != expected.bytes else { return }
        for off in stride(from: 0, to: now.bytes.count, by: 8) where now.bytes[off..<off + 8] != expected.bytes[off..<off + 8] {
            let pa = Self.poolBase + UInt64(off)
            let got = try entry(pa)
            let want = expected.bytes[off..<off + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return XCTFail(
                "\(what): word 0x\(String(pa, radix: 16)) is 0x\(String(got, radix: 16)), expected 0x\(String(want, radix: 16))",
                file: file, line: line)
        }
    }
}

/// Asserts that `body` throws exactly `expected`, whose text (what the CLI prints for it) is `message`.
func assertPgtableError<T>(
    _ expected: PgtableError, _ message: String, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws(PgtableError) -> T
) {
    do {
        _ = try body()
        XCTFail("no error, expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
        XCTAssertEqual(error.description, message, file: file, line: line)
    }
}

/// A small deterministic generator (SplitMix64) for seeded property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
