import ELFImage
import Foundation
import Mem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A 2 GiB sparse image loads lazily: its pages are mapped from the file copy-on-write, so loading reads
/// none of the untouched ones (checked through the resident size of that very mapping, not through time).
@Suite struct LargeImageTests {
    static let ramBase: UInt64 = 0x4000_0000
    static let ramSize: UInt64 = 2 << 30

    /// Resident bytes of the host mapping that starts at `host` (its `Rss:` line in /proc/self/smaps), so
    /// that other tests running in the same process cannot disturb the measurement.
    static func residentBytes(ofMappingAt host: UnsafeMutableRawPointer) throws -> UInt64 {
        // procfs files report size 0: read them to the end rather than by their size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let start = String(UInt(bitPattern: host), radix: 16)
        var inMapping = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), !line.hasSuffix(":"), line[..<dash].allSatisfy(\.isHexDigit) {
                inMapping = line[..<dash] == start
            } else if inMapping, line.hasPrefix("Rss:") {
                let kB = try #require(UInt64(line.split(separator: " ")[1]))
                return kB * 1024
            }
        }
        Issue.record("no mapping at 0x\(start) in /proc/self/smaps")
        return UInt64.max
    }

    @Test func twoGiBSparseImageLoadsWithoutReadingUntouchedPages() throws {
        let dir = try SaveTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/big.elf"
        let words: [(UInt64, UInt64)] = [
            (Self.ramBase, 0x1111), (Self.ramBase + 0x4000_0000 + 8, 0x2222), (Self.ramBase + Self.ramSize - 8, 0x3333),
        ]
        do {
            let mem = try PhysMem(base: PhysAddr(Self.ramBase), size: Self.ramSize)
            for (a, v) in words { try mem.write64(PhysAddr(a), v) }
            try ELFImage.save(mem, registers: ImageRegisters(vttbr: Self.ramBase), entry: 0x4008_0000, to: path)
        }
        // The file is 2 GiB long but sparse: only the three touched pages (and the headers) are allocated.
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(UInt64(st.st_size) > Self.ramSize)
        #expect(UInt64(st.st_blocks) * 512 < 1 << 20)

        let mem = PhysMem()
        let image = try ELFImage.load(path: path, into: mem)
        let host = try mem.pointer(PhysAddr(Self.ramBase), size: Self.ramSize)
        #expect(try Self.residentBytes(ofMappingAt: host) == 0, "loading read pages of the image")
        // The RAM segment is one region mapped from the file, not anonymous memory filled by copying.
        let ram = try #require(mem.regions.first)
        #expect(ram.base == PhysAddr(Self.ramBase) && ram.size == Self.ramSize)
        guard case .file(let file, _, false) = ram.backing else {
            Issue.record("RAM region is \(ram.backing), not a private file mapping")
            return
        }
        #expect(file == path)
        for (a, v) in words { #expect(try mem.read64(PhysAddr(a)) == v) }
        #expect(try mem.read64(PhysAddr(Self.ramBase + 0x2000_0000)) == 0)
        // Reading four words brought in at most a few pages (read-ahead aside), not the image.
        #expect(try Self.residentBytes(ofMappingAt: host) < 4 << 20)
        #expect(image.registers == ImageRegisters(vttbr: Self.ramBase))
        // Copy on write: writing memory never reaches the file.
        try mem.write64(PhysAddr(Self.ramBase), 0xdead)
        let again = PhysMem()
        _ = try ELFImage.load(path: path, into: again)
        #expect(try again.read64(PhysAddr(Self.ramBase)) == 0x1111)
    }
}
