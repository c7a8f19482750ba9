import ELFImage
import Foundation
import Mem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A 2 GiB sparse image loads lazily: its pages are mapped from the file copy-on-write, so loading reads
/// none of the untouched ones (checked through the process's resident set, not through time).
@Suite(.serialized) struct LargeImageTests {
    static let ramBase: UInt64 = 0x4000_0000
    static let ramSize: UInt64 = 2 << 30

    /// Resident set size of this process in bytes (/proc/self/statm, second field, in pages).
    static func residentBytes() throws -> UInt64 {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let pages = try #require(UInt64(statm.split(separator: " ")[1]))
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
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

        let before = try Self.residentBytes()
        let mem = PhysMem()
        let image = try ELFImage.load(path: path, into: mem)
        let after = try Self.residentBytes()
        #expect(after < before + (64 << 20), "loading made \(after - before) bytes resident")
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
        #expect(image.registers == ImageRegisters(vttbr: Self.ramBase))
        // Copy on write: writing memory never reaches the file.
        try mem.write64(PhysAddr(Self.ramBase), 0xdead)
        let again = PhysMem()
        _ = try ELFImage.load(path: path, into: again)
        #expect(try again.read64(PhysAddr(Self.ramBase)) == 0x1111)
    }
}
