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

    /// Accesses outside backed memory are a typed error and write nothing, even when part of the range is
    /// backed.
    func testOutOfRange() throws {
        let mem = PhysMem()
        try mem.addRegion(base: PhysAddr(0x1000), size: 0x1000)
        try mem.addRegion(base: PhysAddr(0x3000), size: 0x1000)
        XCTAssertThrowsError(try mem.read64(PhysAddr(0x2000))) {
            XCTAssertEqual($0 as? MemError, .outOfRange(address: PhysAddr(0x2000), size: 8))
        }
        XCTAssertThrowsError(try mem.write64(PhysAddr(0x1ffc), 0xffff_ffff_ffff_ffff)) {
            XCTAssertEqual($0 as? MemError, .outOfRange(address: PhysAddr(0x1ffc), size: 8))
        }
        XCTAssertThrowsError(try mem.write(PhysAddr(0x1ff0), bytes: [UInt8](repeating: 0xaa, count: 0x20))) {
            XCTAssertEqual($0 as? MemError, .outOfRange(address: PhysAddr(0x1ff0), size: 0x20))
        }
        XCTAssertEqual(try mem.read(PhysAddr(0x1ff0), count: 16), [UInt8](repeating: 0, count: 16))
        XCTAssertThrowsError(try mem.read(PhysAddr(0x3ff8), count: 16))
        XCTAssertThrowsError(try mem.read64(PhysAddr(UInt64.max - 3)))
        XCTAssertThrowsError(try mem.zero(PhysAddr(0x3800), count: 0x1000))
        XCTAssertEqual(try mem.read64(PhysAddr(0x3800)), 0)
    }

    /// Invalid and overlapping regions: typed errors, regions unchanged.
    func testInvalidAndOverlappingRegions() throws {
        let mem = try PhysMem(base: PhysAddr(0x10_0000), size: 0x10_0000)
        let before = mem.regions
        let bad: [(UInt64, UInt64)] = [(0x40_0000, 0), (0x40_0800, 0x1000), (0x40_0000, 0x1800), (UInt64.max - 0xfff, 0x2000)]
        for (b, s) in bad {
            XCTAssertThrowsError(try mem.addRegion(base: PhysAddr(b), size: s)) {
                XCTAssertEqual($0 as? MemError, .invalidRegion(base: PhysAddr(b), size: s))
            }
        }
        for (b, s) in [(0x1f_f000, 0x2000), (0x0f_f000, 0x2000), (0x0, 0x100_0000), (0x18_0000, 0x1000)] as [(UInt64, UInt64)] {
            XCTAssertThrowsError(try mem.addRegion(base: PhysAddr(b), size: s)) {
                XCTAssertEqual(
                    $0 as? MemError, .overlappingRegions(base: PhysAddr(b), size: s, existing: PhysAddr(0x10_0000)))
            }
        }
        XCTAssertEqual(mem.regions, before)
        XCTAssertThrowsError(try mem.read64(PhysAddr(0x40_0000)))
        XCTAssertTrue(mem.removeRegion(base: PhysAddr(0x10_0000)))
        XCTAssertFalse(mem.removeRegion(base: PhysAddr(0x10_0000)))
        XCTAssertEqual(mem.regions, [])
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
