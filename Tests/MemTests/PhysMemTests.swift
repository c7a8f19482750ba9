import Foundation
import Mem
import XCTest

final class PhysMemTests: XCTestCase {
    /// Resident set size of this process in bytes (`/proc/self/statm`, second field, in pages).
    func residentBytes() throws -> UInt64 {
        let text = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let fields = text.split(separator: " ")
        let pages = try XCTUnwrap(UInt64(fields[1]))
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A 1 TiB anonymous region is reserved with MAP_NORESERVE: adding it costs no resident memory, and
    /// touching N pages costs about N pages. Untouched memory reads as zero.
    func testSparseTerabyteRegion() throws {
        let mem = PhysMem()
        let before = try residentBytes()
        try mem.addRegion(base: PhysAddr(0x100_0000_0000), size: 1 << 40)
        let afterAdd = try residentBytes()
        XCTAssertLessThan(afterAdd - min(afterAdd, before), 4 << 20, "reserving 1 TiB must not fault pages in")
        // Touch 512 pages spread over the whole span (one every 2 GiB).
        for i in 0..<UInt64(512) {
            try mem.write64(PhysAddr(0x100_0000_0000 + i * (2 << 30) + 8), 0x1122_3344_5566_7788 &+ i)
        }
        let afterTouch = try residentBytes()
        let grown = afterTouch - min(afterTouch, afterAdd)
        XCTAssertGreaterThanOrEqual(grown, 512 * 4096 * 9 / 10, "each touched page becomes resident")
        XCTAssertLessThan(grown, 64 << 20, "only touched pages become resident")
        XCTAssertEqual(try mem.read64(PhysAddr(0x100_0000_0000 + 7 * (2 << 30) + 8)), 0x1122_3344_5566_778f)
        XCTAssertEqual(try mem.read64(PhysAddr(0x100_0000_0000 + (1 << 39))), 0)
        XCTAssertEqual(mem.regions.map(\.size), [1 << 40])
    }

    /// 64-bit accesses are little-endian: the low byte sits at the lowest address, at any alignment.
    func testLittleEndian() throws {
        let mem = try PhysMem(base: PhysAddr(0x1000), size: 0x2000)
        try mem.write64(PhysAddr(0x1003), 0x0807_0605_0403_0201)
        XCTAssertEqual(try mem.read(PhysAddr(0x1000), count: 12), [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0])
        try mem.write(PhysAddr(0x2000), bytes: [0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0x80])
        XCTAssertEqual(try mem.read64(PhysAddr(0x2000)), 0x8000_0000_dead_beef)
        try mem.zero(PhysAddr(0x2001), count: 2)
        XCTAssertEqual(try mem.read64(PhysAddr(0x2000)), 0x8000_0000_de00_00ef)
    }

    /// Byte copies may span adjacent regions; a 64-bit access must lie in one region.
    func testCopyAcrossAdjacentRegions() throws {
        let mem = PhysMem()
        try mem.addRegion(base: PhysAddr(0x20_0000), size: 0x1000)
        try mem.addRegion(base: PhysAddr(0x1f_f000), size: 0x1000)  // added out of order, adjacent below
        XCTAssertEqual(mem.regions.map(\.base), [PhysAddr(0x1f_f000), PhysAddr(0x20_0000)])
        let bytes: [UInt8] = Array(1...16)
        try mem.write(PhysAddr(0x1f_fff8), bytes: bytes)
        XCTAssertEqual(try mem.read(PhysAddr(0x1f_fff8), count: 16), bytes)
        XCTAssertEqual(try mem.read64(PhysAddr(0x20_0000)), 0x100f_0e0d_0c0b_0a09)
        XCTAssertEqual(try mem.read64(PhysAddr(0x1f_fff8)), 0x0807_0605_0403_0201)
        XCTAssertTrue(mem.contains(PhysAddr(0x1f_fff8), size: 8))
        XCTAssertFalse(mem.contains(PhysAddr(0x1f_fffc), size: 8))
    }

    /// The region list and every byte of every region: what a refused call must leave as it was.
    struct Snapshot: Equatable {
        let regions: [MemRegion]
        let bytes: [[UInt8]]
    }

    func snapshot(_ mem: PhysMem) throws -> Snapshot {
        Snapshot(regions: mem.regions, bytes: try mem.regions.map { try mem.read($0.base, count: Int($0.size)) })
    }

    /// Asserts that `body` throws exactly `expected`, whose message (what the CLI prints) is `message`.
    func assertMemError<T>(
        _ expected: MemError, _ message: String, file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws(MemError) -> T
    ) {
        do {
            _ = try body()
            XCTFail("no error, expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
            XCTAssertEqual(error.description, message, file: file, line: line)
        }
    }

    /// #2 [core] "a typed error for any access outside backed memory", for every accessor that takes a
    /// physical address: an unbacked gap, a range running off the end of a region, a range spanning the gap
    /// between two regions, addresses below and above all regions, a range wrapping past 2^64 and a negative
    /// byte count. Each is `MemError.outOfRange` with the address and size asked for, and no byte of any
    /// region changes (the byte copies check the whole range before writing anything).
    func testEveryAccessorOutsideBackedMemoryIsTypedAndWritesNothing() throws {
        let mem = PhysMem()
        try mem.addRegion(base: PhysAddr(0x1000), size: 0x1000)
        try mem.addRegion(base: PhysAddr(0x3000), size: 0x1000)
        try mem.write(PhysAddr(0x1000), bytes: (0..<0x1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
        try mem.write(PhysAddr(0x3000), bytes: (0..<0x1000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) })
        let before = try snapshot(mem)
        // (address, bytes, the message for that access)
        let cases: [(UInt64, UInt64, String)] = [
            (0x2000, 8, "physical access of 8 bytes at 0x2000 is outside backed memory"),
            (0x1ffc, 8, "physical access of 8 bytes at 0x1ffc is outside backed memory"),
            (0x0, 8, "physical access of 8 bytes at 0x0 is outside backed memory"),
            (0x4000, 8, "physical access of 8 bytes at 0x4000 is outside backed memory"),
            (0xffff_ffff_ffff_fffc, 8, "physical access of 8 bytes at 0xfffffffffffffffc is outside backed memory"),
            (0x1ff0, 0x1020, "physical access of 4128 bytes at 0x1ff0 is outside backed memory"),
            (0x3ff8, 16, "physical access of 16 bytes at 0x3ff8 is outside backed memory"),
        ]
        for (a, n, message) in cases {
            let at = PhysAddr(a)
            let e = MemError.outOfRange(address: at, size: n)
            if n == 8 {
                assertMemError(e, message) { () throws(MemError) in try mem.read64(at) }
                assertMemError(e, message) { () throws(MemError) in try mem.write64(at, 0xdead_beef_dead_beef) }
            }
            assertMemError(e, message) { () throws(MemError) in try mem.pointer(at, size: n) }
            assertMemError(e, message) { () throws(MemError) in try mem.read(at, count: Int(n)) }
            assertMemError(e, message) { () throws(MemError) in
                try mem.write(at, bytes: [UInt8](repeating: 0xaa, count: Int(n)))
            }
            let raw = [UInt8](repeating: 0x55, count: Int(n))
            assertMemError(e, message) { () throws(MemError) in
                let r: Result<Void, MemError> = raw.withUnsafeBytes { buf in
                    do throws(MemError) { try mem.write(at, bytes: buf) } catch { return .failure(error) }
                    return .success(())
                }
                try r.get()
            }
            assertMemError(e, message) { () throws(MemError) in try mem.zero(at, count: n) }
            XCTAssertFalse(mem.contains(at, size: n))
        }
        // A negative count is a range wrapping past 2^64 (it used to trap converting to UInt64).
        assertMemError(
            .outOfRange(address: PhysAddr(0x1000), size: UInt64.max),
            "physical access of 18446744073709551615 bytes at 0x1000 is outside backed memory"
        ) { () throws(MemError) in try mem.read(PhysAddr(0x1000), count: -1) }
        // removeRegion of an address that starts no region: false, nothing removed.
        XCTAssertFalse(mem.removeRegion(base: PhysAddr(0x1800)))
        XCTAssertFalse(mem.removeRegion(base: PhysAddr(0x2000)))
        XCTAssertEqual(try snapshot(mem), before)
    }

    /// #2 [core] "a typed error ... for overlapping regions", and the regions `addRegion` refuses: each
    /// message names the range and the rule it breaks; the region list and every byte of the existing
    /// region stay as they were, and no part of the refused range becomes backed.
    func testRefusedRegionsNameTheRuleAndChangeNothing() throws {
        let mem = try PhysMem(base: PhysAddr(0x10_0000), size: 0x10_0000)
        try mem.write(PhysAddr(0x10_0000), bytes: (0..<0x10_0000).map { UInt8(truncatingIfNeeded: $0 % 251) })
        let before = try snapshot(mem)
        let refused: [(UInt64, UInt64, MemError, String)] = [
            (0x40_0000, 0, .invalidRegion(base: PhysAddr(0x40_0000), size: 0), "region 0x400000+0x0 is empty"),
            (
                0x40_0800, 0x1000, .invalidRegion(base: PhysAddr(0x40_0800), size: 0x1000),
                "region 0x400800+0x1000 is not 4 KiB aligned (base and size must be multiples of 0x1000)"
            ),
            (
                0x40_0000, 0x1800, .invalidRegion(base: PhysAddr(0x40_0000), size: 0x1800),
                "region 0x400000+0x1800 is not 4 KiB aligned (base and size must be multiples of 0x1000)"
            ),
            (
                0xffff_ffff_ffff_f000, 0x2000, .invalidRegion(base: PhysAddr(0xffff_ffff_ffff_f000), size: 0x2000),
                "region 0xfffffffffffff000+0x2000 wraps past the end of the 64-bit address space"
            ),
            (
                0, 1 << 63, .invalidRegion(base: PhysAddr(0), size: 1 << 63),
                "region 0x0+0x8000000000000000 is larger than the host can map"
            ),
            // Overlaps: across the end, across the start, containing it, inside it, exactly it.
            (
                0x1f_f000, 0x2000, .overlappingRegions(base: PhysAddr(0x1f_f000), size: 0x2000, existing: PhysAddr(0x10_0000)),
                "region 0x1ff000+0x2000 overlaps the region at 0x100000"
            ),
            (
                0x0f_f000, 0x2000, .overlappingRegions(base: PhysAddr(0x0f_f000), size: 0x2000, existing: PhysAddr(0x10_0000)),
                "region 0xff000+0x2000 overlaps the region at 0x100000"
            ),
            (
                0, 0x100_0000, .overlappingRegions(base: PhysAddr(0), size: 0x100_0000, existing: PhysAddr(0x10_0000)),
                "region 0x0+0x1000000 overlaps the region at 0x100000"
            ),
            (
                0x18_0000, 0x1000, .overlappingRegions(base: PhysAddr(0x18_0000), size: 0x1000, existing: PhysAddr(0x10_0000)),
                "region 0x180000+0x1000 overlaps the region at 0x100000"
            ),
            (
                0x10_0000, 0x10_0000, .overlappingRegions(base: PhysAddr(0x10_0000), size: 0x10_0000, existing: PhysAddr(0x10_0000)),
                "region 0x100000+0x100000 overlaps the region at 0x100000"
            ),
        ]
        for (b, n, e, message) in refused {
            assertMemError(e, message) { () throws(MemError) in try mem.addRegion(base: PhysAddr(b), size: n) }
        }
        // Adjacent on both sides is not an overlap (and is undone again).
        try mem.addRegion(base: PhysAddr(0x20_0000), size: 0x1000)
        try mem.addRegion(base: PhysAddr(0x0f_f000), size: 0x1000)
        XCTAssertTrue(mem.removeRegion(base: PhysAddr(0x20_0000)))
        XCTAssertTrue(mem.removeRegion(base: PhysAddr(0x0f_f000)))
        // Backing that cannot be opened: open(2) fails with ENOENT (2).
        assertMemError(
            .backingFailed(operation: "open /nonexistent/s2emu-region", errno: 2),
            "open /nonexistent/s2emu-region failed: No such file or directory (errno 2)"
        ) { () throws(MemError) in
            try mem.addRegion(
                base: PhysAddr(0x40_0000), size: 0x1000,
                backing: .file(path: "/nonexistent/s2emu-region", offset: 0, shared: false))
        }
        XCTAssertEqual(try snapshot(mem), before)
        for a: UInt64 in [0x0f_f000, 0x20_0000, 0x40_0000, 0x40_0800, 0xffff_ffff_ffff_f000] {
            XCTAssertFalse(mem.contains(PhysAddr(a)), "0x\(String(a, radix: 16)) became backed")
        }
    }

    /// A MAP_SHARED file-backed region: stores reach the file (after flush), and the file is extended to
    /// cover the region.
    func testSharedFileBacking() throws {
        let path = NSTemporaryDirectory() + "s2emu-memtest-\(getpid()).bin"
        defer { unlink(path) }
        let mem = PhysMem()
        try mem.addRegion(base: PhysAddr(0x8000_0000), size: 0x2000, backing: .file(path: path, offset: 0, shared: true))
        try mem.write64(PhysAddr(0x8000_1008), 0x0102_0304_0506_0708)
        try mem.flush()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(data.count, 0x2000)
        XCTAssertEqual(Array(data[0x1008..<0x1010]), [8, 7, 6, 5, 4, 3, 2, 1])
        XCTAssertTrue(mem.removeRegion(base: PhysAddr(0x8000_0000)))

        // Mapping it again (privately) shows the bytes; private writes do not reach the file.
        let again = PhysMem()
        try again.addRegion(base: PhysAddr(0), size: 0x2000, backing: .file(path: path, offset: 0, shared: false))
        XCTAssertEqual(try again.read64(PhysAddr(0x1008)), 0x0102_0304_0506_0708)
        try again.write64(PhysAddr(0x1008), 0)
        let unchanged = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(Array(unchanged[0x1008..<0x1010]), [8, 7, 6, 5, 4, 3, 2, 1])
        XCTAssertThrowsError(
            try again.addRegion(base: PhysAddr(0x10_0000), size: 0x1000, backing: .file(path: "/nonexistent/x", offset: 0, shared: false))
        ) {
            guard case .backingFailed = $0 as? MemError else { return XCTFail("\($0)") }
        }
    }
}
