import ELFImage
import Foundation
import Mem
import Testing

/// `ELFImage.load` on loader.elf, whose layout loader.S / loader.ld state.
@Suite struct LoadTests {
    let path = Fixture.path("loader.elf")

    @Test func placesSegmentsAtPhysicalAddresses() throws {
        let mem = PhysMem()
        let image = try ELFImage.load(path: path, into: mem)
        #expect(image.kind == .executable)
        #expect(image.path == path)
        #expect(image.segments.map(\.index) == [0, 1, 2])
        #expect(
            image.segments.map(\.physicalAddress) == [
                PhysAddr(0x4008_0000), PhysAddr(0x4010_0000), PhysAddr(0x8000_0000),
            ])
        #expect(image.segments.map(\.fileSize) == [8, 0x40, 0x10])
        #expect(image.segments.map(\.memorySize) == [8, 0x3040, 0x10])
        // Regions: each segment's pages, rounded out to 4 KiB.
        #expect(mem.regions.map(\.base) == [PhysAddr(0x4008_0000), PhysAddr(0x4010_0000), PhysAddr(0x8000_0000)])
        #expect(mem.regions.map(\.size) == [0x1000, 0x4000, 0x1000])
        // `b .` is 0x14000000 (B imm26 = 0), then the assembler's NOP padding (0xd503201f).
        #expect(try mem.read64(PhysAddr(0x4008_0000)) == 0xd503_201f_1400_0000)
        #expect(try mem.read64(PhysAddr(0x4010_0000)) == 0x8002_3558)
        #expect(try mem.read64(PhysAddr(0x4010_0038)) == 0xffff_f000)
        #expect(try mem.read(PhysAddr(0x4010_0040), count: 0x3000) == [UInt8](repeating: 0, count: 0x3000))
        #expect(try mem.read64(PhysAddr(0x8000_0008)) == 0x2222_2222_2222_2222)
    }

    @Test func readsRegisterWordsAndSymbols() throws {
        let image = try ELFImage.load(path: path, into: PhysMem())
        #expect(
            image.registers
                == ImageRegisters(
                    vtcr: 0x8002_3558, vttbr: 0x0001_0000_4000_0000, hypTCR: 0x8082_3510, hypTTBR0: 0x4001_0000,
                    probes: [0x1000, 0x4000_0000, 0xffff_f000]))
        #expect(
            ["_start", "probe_ipas", "$x"].map { image.symbols[$0] ?? 0 } == [0x4008_0000, 0x4010_0028, 0x4008_0000])
    }

    @Test func overridesWin() throws {
        let image = try ELFImage.load(
            path: path, into: PhysMem(), overrides: ImageRegisters(vttbr: 0x4020_0000, probes: [0x2000]))
        #expect(
            image.registers
                == ImageRegisters(
                    vtcr: 0x8002_3558, vttbr: 0x4020_0000, hypTCR: 0x8082_3510, hypTTBR0: 0x4001_0000, probes: [0x2000])
        )
    }

    @Test func loadsIntoExistingRAMZeroingTheBSS() throws {
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 0x20_0000)
        try mem.write(PhysAddr(0x4000_0000), bytes: [UInt8](repeating: 0xaa, count: 0x20_0000))
        _ = try ELFImage.load(path: path, into: mem)
        // The RAM region stays; only segment 2 (outside it) got a new region.
        #expect(mem.regions.map(\.base) == [PhysAddr(0x4000_0000), PhysAddr(0x8000_0000)])
        #expect(try mem.read64(PhysAddr(0x4010_0008)) == 0x0001_0000_4000_0000)
        #expect(try mem.read(PhysAddr(0x4010_0040), count: 0x3000) == [UInt8](repeating: 0, count: 0x3000))
        // Bytes around the segments are untouched.
        #expect(try mem.read(PhysAddr(0x4008_0008), count: 8) == [UInt8](repeating: 0xaa, count: 8))
        #expect(try mem.read(PhysAddr(0x4010_3040), count: 8) == [UInt8](repeating: 0xaa, count: 8))
    }

    @Test func segmentStraddlingExistingRAMGetsOnlyTheMissingPages() throws {
        let mem = try PhysMem(base: PhysAddr(0x4010_0000), size: 0x2000)
        try mem.write(PhysAddr(0x4010_0000), bytes: [UInt8](repeating: 0xcc, count: 0x2000))
        _ = try ELFImage.load(path: path, into: mem)
        // Segment 1 covers 0x4010_0000..0x4010_3040: the RAM keeps its first two pages, a new region the rest.
        #expect(
            mem.regions.map(\.base) == [
                PhysAddr(0x4008_0000), PhysAddr(0x4010_0000), PhysAddr(0x4010_2000), PhysAddr(0x8000_0000),
            ])
        #expect(mem.regions.map(\.size) == [0x1000, 0x2000, 0x2000, 0x1000])
        #expect(try mem.read64(PhysAddr(0x4010_0020)) == 3)
        #expect(try mem.read(PhysAddr(0x4010_0040), count: 0x3000) == [UInt8](repeating: 0, count: 0x3000))
    }

    @Test func withoutCreatingRegionsMemoryMustBackEverySegment() throws {
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 0x20_0000)
        let before = try MemSnapshot(mem)
        #expect(throws: ELFImageError.notBacked(file: path, segment: 2, address: PhysAddr(0x8000_0000))) {
            _ = try ELFImage.load(path: path, into: mem, createRegions: false)
        }
        #expect(try MemSnapshot(mem) == before)
        try mem.addRegion(base: PhysAddr(0x8000_0000), size: 0x1000)
        _ = try ELFImage.load(path: path, into: mem, createRegions: false)
        #expect(mem.regions.count == 2)
        #expect(try mem.read64(PhysAddr(0x8000_0000)) == 0x1111_1111_1111_1111)
    }

    @Test func loadsFromMemory() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let mem = PhysMem()
        let image = try bytes.withUnsafeBytes { buf in try ELFImage.load(bytes: buf, name: "in-memory", into: mem) }
        #expect(image.path == "in-memory")
        #expect(image.registers.probes == [0x1000, 0x4000_0000, 0xffff_f000])
        #expect(try mem.read64(PhysAddr(0x4010_0018)) == 0x4001_0000)
    }

    @Test func directoryIsCannotOpen() {
        #expect(throws: ELFImageError.cannotOpen(file: Fixture.directory, errno: 21)) {
            _ = try ELFImage.load(path: Fixture.directory, into: PhysMem())
        }
    }

    @Test func missingFileIsCannotOpen() {
        #expect(throws: ELFImageError.cannotOpen(file: "/nonexistent.elf", errno: 2)) {
            _ = try ELFImage.load(path: "/nonexistent.elf", into: PhysMem())
        }
    }
}
