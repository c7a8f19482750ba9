import ELFImage
import Foundation
import Mem
import Testing

/// Every file in Fixtures/images/broken gives its own error and leaves memory exactly as it was.
/// How each file is broken: make-broken.py (offsets from loader.elf).
@Suite struct BrokenFileTests {
    /// A machine with RAM where loader.elf's segments 0 and 1 go, filled with a pattern, plus an unrelated region.
    static func machine() throws -> PhysMem {
        let mem = try PhysMem(base: PhysAddr(0x4008_0000), size: 0x8_4000)
        try mem.write(PhysAddr(0x4008_0000), bytes: (0..<0x8_4000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try mem.addRegion(base: PhysAddr(0x1_0000_0000), size: 0x1000)
        try mem.write64(PhysAddr(0x1_0000_0000), 0x1234)
        return mem
    }

    static let cases: [(String, @Sendable (String) -> ELFImageError)] = [
        ("not-elf.bin", { .notELF(file: $0) }),
        ("wrong-class.elf", { .wrongClass(file: $0, elfClass: 1) }),
        ("wrong-endianness.elf", { .wrongEndianness(file: $0, encoding: 2) }),
        ("wrong-machine.elf", { .wrongMachine(file: $0, machine: 62) }),
        ("wrong-type.elf", { .wrongType(file: $0, type: 3) }),
        ("truncated-ehdr.elf", { .truncatedHeader(file: $0, header: "ELF header", reason: "invalid ELF file data") }),
        ("truncated-phdrs.elf", { .truncatedHeader(file: $0, header: "program header table", reason: "invalid data") }),
        (
            "truncated-shdrs.elf",
            { .truncatedHeader(file: $0, header: "section header table", reason: "e_shoff 0x33a8 is outside the file") }
        ),
        ("no-load.elf", { .noLoadSegments(file: $0) }),
        (
            "segment-past-eof.elf",
            { .segmentPastEndOfFile(file: $0, segment: 2, offset: 0x3000, size: 0x10_0000, fileSize: 0x33b0) }
        ),
        ("filesz-gt-memsz.elf", { .fileSizeExceedsMemorySize(file: $0, segment: 1, fileSize: 0x40, memorySize: 0x10) }),
        ("overlapping.elf", { .overlappingSegments(file: $0, segment: 2, other: 1) }),
        (
            "address-overflow.elf",
            { .addressOverflow(file: $0, segment: 2, address: 0xffff_ffff_ffff_fff8, size: 0x10) }
        ),
        ("beyond-52-bits.elf", { .addressBeyond52Bits(file: $0, segment: 2, address: (1 << 52) - 8, size: 0x10) }),
        (
            "symbol-outside.elf",
            { .symbolOutsideLoadedMemory(file: $0, symbol: "s2_vttbr", address: 0x5000_0000, size: 8) }
        ),
        (
            "probes-outside.elf",
            { .symbolOutsideLoadedMemory(file: $0, symbol: "probe_ipas", address: 0x4010_0028, size: 0x8000) }
        ),
        ("too-many-probes.elf", { .tooManyProbes(file: $0, count: 1 << 40, limit: 1 << 20) }),
        ("duplicate-symbol.elf", { .duplicateSymbol(file: $0, symbol: "s2_vtcr") }),
        ("incomplete-probes.elf", { .incompleteProbeList(file: $0, missing: "probe_count") }),
        ("bad-symtab.elf", { .badSymbolTable(file: $0, section: 5, reason: "invalid section header") }),
        ("unmappable.elf", { .memory(file: $0, .backingFailed(operation: "mmap anonymous", errno: 12)) }),
    ]

    @Test(arguments: cases.map(\.0))
    func givesItsErrorAndLeavesMemoryUntouched(name: String) throws {
        let path = Fixture.broken(name)
        let expected = try #require(Self.cases.first { $0.0 == name }).1(path)
        let mem = try Self.machine()
        let before = try MemSnapshot(mem)
        #expect(throws: expected) { _ = try ELFImage.load(path: path, into: mem) }
        #expect(try MemSnapshot(mem) == before)
    }

    @Test func everyBrokenFileIsTested() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixture.directory + "/broken")
        #expect(names.filter { !$0.hasPrefix(".") }.sorted() == Self.cases.map(\.0).sorted())
    }

    @Test func errorsNameTheFileAndTheSegment() {
        let e = ELFImageError.overlappingSegments(file: "x.elf", segment: 2, other: 1)
        #expect(e.description == "x.elf: segment 2 overlaps segment 1 in physical memory")
    }
}
