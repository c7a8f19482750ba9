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
        ("overlapping.elf", { .overlappingSegments(
            file: $0, segment: 2, address: 0x4010_1000, size: 0x10, other: 1, otherAddress: 0x4010_0000, otherSize: 0x3040) }),
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

    /// What the user reads for each file (`$F` stands for the path): the file, the segment or symbol, and
    /// the reason, with the header field's value and the value it should have had.
    static let messages: [String: String] = [
        "not-elf.bin": "$F: not an ELF file",
        "wrong-class.elf": "$F: ELF class 1 is not ELFCLASS64 (2)",
        "wrong-endianness.elf": "$F: data encoding 2 is not little-endian (ELFDATA2LSB, 1)",
        "wrong-machine.elf": "$F: machine 62 is not EM_AARCH64 (183)",
        "wrong-type.elf": "$F: ELF type 3 is neither ET_EXEC (2) nor ET_CORE (4)",
        "truncated-ehdr.elf": "$F: ELF header is truncated or malformed: invalid ELF file data",
        "truncated-phdrs.elf": "$F: program header table is truncated or malformed: invalid data",
        "truncated-shdrs.elf": "$F: section header table is truncated or malformed: e_shoff 0x33a8 is outside the file",
        "no-load.elf": "$F: no PT_LOAD segment",
        "segment-past-eof.elf":
            "$F: segment 2: file bytes 0x3000+0x100000 run past the end of the file (0x33b0 bytes)",
        "filesz-gt-memsz.elf": "$F: segment 1: p_filesz 0x40 > p_memsz 0x10",
        "overlapping.elf": "$F: segment 2 (0x40101000+0x10) overlaps segment 1 (0x40100000+0x3040) in physical memory",
        "address-overflow.elf": "$F: segment 2: address 0xfffffffffffffff8 + size 0x10 overflows 64 bits",
        "beyond-52-bits.elf": "$F: segment 2: 0xffffffffffff8+0x10 reaches beyond the 52-bit physical address space",
        "symbol-outside.elf": "$F: symbol s2_vttbr: 0x8 bytes at 0x50000000 are not inside one loaded segment",
        "probes-outside.elf": "$F: symbol probe_ipas: 0x8000 bytes at 0x40100028 are not inside one loaded segment",
        "too-many-probes.elf": "$F: probe_count 1099511627776 exceeds the limit of 1048576 probes",
        "duplicate-symbol.elf": "$F: symbol s2_vtcr is defined more than once",
        "incomplete-probes.elf": "$F: probe list without probe_count",
        "bad-symtab.elf": "$F: symbol table in section 5: invalid section header",
        // The rest of this one is the Mem module's text for the refused mmap.
        "unmappable.elf": "$F: placing the image failed: mmap anonymous",
    ]

    @Test(arguments: cases.map(\.0))
    func messageNamesTheFileAndTheReason(name: String) throws {
        let path = Fixture.broken(name)
        let expected = try #require(Self.messages[name]).replacingOccurrences(of: "$F", with: path)
        let mem = try Self.machine()
        let before = try MemSnapshot(mem)
        do {
            _ = try ELFImage.load(path: path, into: mem)
            Issue.record("\(name) loaded")
        } catch {
            if name == "unmappable.elf" {
                #expect("\(error)".hasPrefix(expected), "\(error)")
            } else {
                #expect("\(error)" == expected)
            }
        }
        #expect(try MemSnapshot(mem) == before)
    }

    /// A missing file and a directory: the path and the system's reason.
    @Test func unopenableFilesNameTheReason() throws {
        let mem = try Self.machine()
        let before = try MemSnapshot(mem)
        let cases = [
            ("/nonexistent.elf", "/nonexistent.elf: cannot open: No such file or directory (errno 2)"),
            (Fixture.directory, Fixture.directory + ": cannot open: Is a directory (errno 21)"),
            ("/dev/null", "/dev/null: not a regular file"),
        ]
        for (path, message) in cases {
            do {
                _ = try ELFImage.load(path: path, into: mem)
                Issue.record("\(path) loaded")
            } catch { #expect("\(error)" == message) }
        }
        #expect(try MemSnapshot(mem) == before)
    }

    @Test func errorsNameTheFileAndTheSegment() {
        let e = ELFImageError.overlappingSegments(
            file: "x.elf", segment: 2, address: 0x4010_1000, size: 0x10, other: 1, otherAddress: 0x4010_0000, otherSize: 0x3040)
        #expect(e.description == "x.elf: segment 2 (0x40101000+0x10) overlaps segment 1 (0x40100000+0x3040) in physical memory")
    }
}
