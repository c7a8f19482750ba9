import ELFImage
import Foundation
import Mem
import Testing

/// `ELFImage.save` then `ELFImage.load` gives back the same bytes and registers.
@Suite struct SaveTests {
    /// A fresh scratch directory for one test.
    static func scratchDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "elfimage-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Asserts that `copy` holds every region of `original` with the same bytes, plus exactly one more region:
    /// the register segment, which lies at the top of the 52-bit space above every region of `original`.
    static func expectSameMemory(_ original: PhysMem, _ copy: PhysMem) throws {
        let extra = copy.regions.filter { r in !original.regions.contains { $0.base == r.base } }
        #expect(extra.count == 1)
        #expect(extra.allSatisfy { r in original.regions.allSatisfy { $0.end <= r.base } })
        let kept = copy.regions.filter { r in original.regions.contains { $0.base == r.base } }
        #expect(kept.map(\.base) == original.regions.map(\.base))
        #expect(kept.map(\.size) == original.regions.map(\.size))
        for r in original.regions {
            #expect(try copy.read(r.base, count: Int(r.size)) == original.read(r.base, count: Int(r.size)))
        }
    }

    @Test func roundTripsLoaderFixture() throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mem = PhysMem()
        let image = try ELFImage.load(path: Fixture.path("loader.elf"), into: mem)
        let saved = dir + "/saved.elf"
        try ELFImage.save(mem, registers: image.registers, entry: image.entry, to: saved)
        let copy = PhysMem()
        let again = try ELFImage.load(path: saved, into: copy)
        #expect(again.registers == image.registers)
        #expect(again.entry == 0x4008_0000)
        #expect(again.kind == .executable)
        try Self.expectSameMemory(mem, copy)
        // The register segment sits just below 2^52.
        let top: UInt64 = (1 << 52) - 0x1000
        let addresses: [UInt64] = ["s2_vtcr", "probe_ipas"].map { again.symbols[$0] ?? 0 }
        #expect(addresses == [top, top + 40])
    }

    @Test func roundTripsRandomMachine() throws {
        var rng = SplitMix(seed: 0x5eed_e1f)
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for round in 0..<8 {
            let mem = PhysMem()
            var base: UInt64 = rng.next() % 0x10_0000 * 0x1000
            for _ in 0..<(1 + rng.next() % 4) {
                let size = (1 + rng.next() % 64) * 0x1000
                try mem.addRegion(base: PhysAddr(base), size: size)
                for _ in 0..<(rng.next() % 32) {
                    try mem.write64(PhysAddr(base + rng.next() % (size / 8) * 8), rng.next())
                }
                base += size + rng.next() % 4 * 0x1000 + (rng.next() % 2) * (rng.next() % (1 << 40)) & ~0xfff
            }
            var regs = ImageRegisters()
            if rng.next() % 2 == 0 { regs.vtcr = rng.next() }
            if rng.next() % 2 == 0 { regs.vttbr = rng.next() }
            if rng.next() % 2 == 0 { regs.hypTCR = rng.next() }
            if rng.next() % 2 == 0 { regs.hypTTBR0 = rng.next() }
            if rng.next() % 2 == 0 { regs.probes = (0..<(rng.next() % 700)).map { _ in rng.next() } }
            let path = dir + "/random-\(round).elf"
            try ELFImage.save(mem, registers: regs, to: path)
            let copy = PhysMem()
            let image = try ELFImage.load(path: path, into: copy)
            #expect(image.registers == regs)
            try Self.expectSameMemory(mem, copy)
        }
    }

    @Test func registerSegmentMovesBelowMemoryAtTheTop() throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mem = try PhysMem(base: PhysAddr(0xf_ffff_ffff_f000), size: 0x1000)
        try mem.write64(PhysAddr(0xf_ffff_ffff_fff8), 7)
        let regs = ImageRegisters(vtcr: 1, probes: (0..<600).map { UInt64($0) })
        try ELFImage.save(mem, registers: regs, to: dir + "/top.elf")
        let copy = PhysMem()
        let image = try ELFImage.load(path: dir + "/top.elf", into: copy)
        #expect(image.registers == regs)
        // 5 + 600 words need two pages, placed right below the top region.
        let vtcrAt: UInt64 = image.symbols["s2_vtcr"] ?? 0
        #expect(vtcrAt == 0xf_ffff_ffff_d000)
        #expect(copy.regions.map(\.base) == [PhysAddr(0xf_ffff_ffff_d000), PhysAddr(0xf_ffff_ffff_f000)])
        #expect(try copy.read64(PhysAddr(0xf_ffff_ffff_fff8)) == 7)
    }

    @Test func replacesAnExistingFileWhole() throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/image.elf"
        let first = try PhysMem(base: PhysAddr(0x4000_0000), size: 0x2000)
        try first.write64(PhysAddr(0x4000_0000), 1)
        try ELFImage.save(first, registers: ImageRegisters(vtcr: 1), to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        // A failing save leaves the previous file as it was, and no temporary file behind.
        let tooHigh = try PhysMem(base: PhysAddr(1 << 52), size: 0x1000)
        #expect {
            try ELFImage.save(tooHigh, registers: ImageRegisters(), to: path)
        } throws: { error in
            "\(error)" == path
                + ": cannot save: layout: region 0x10000000000000-0x10000000000fff reaches beyond 52 bits"
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["image.elf"])

        // A successful one replaces it.
        let second = try PhysMem(base: PhysAddr(0x8000_0000), size: 0x1000)
        try ELFImage.save(second, registers: ImageRegisters(vttbr: 2), to: path)
        let copy = PhysMem()
        let image = try ELFImage.load(path: path, into: copy)
        #expect(image.registers == ImageRegisters(vttbr: 2))
        #expect(copy.regions.first?.base == PhysAddr(0x8000_0000))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["image.elf"])
    }

    @Test func aFailedRenameRemovesTheTemporaryFile() throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A non-empty directory where the image should go: everything is written, then rename(2) of the file
        // over the directory fails with EISDIR.
        let path = dir + "/image.elf"
        try FileManager.default.createDirectory(atPath: path + "/inside", withIntermediateDirectories: true)
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 0x1000)
        #expect {
            try ELFImage.save(mem, registers: ImageRegisters(), to: path)
        } throws: { error in
            "\(error)" == path + ": cannot save: rename: Is a directory (errno 21)"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["image.elf"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: path) == ["inside"])
    }

    @Test func savingIntoAMissingDirectoryFails() {
        // O_TMPFILE in the missing directory fails, and so does the mkstemp fallback beside the path.
        #expect {
            try ELFImage.save(PhysMem(), registers: ImageRegisters(), to: "/nonexistent-dir/x.elf")
        } throws: { error in
            "\(error)" == "/nonexistent-dir/x.elf: cannot save: mkstemp: No such file or directory (errno 2)"
        }
    }

    /// A directory the saver cannot create files in (here a regular file where the directory should be:
    /// the tests may run as root, which permission bits do not stop): the error names the path and the
    /// reason, and the file that was there, the only thing beside it, is untouched.
    @Test func savingWhereNoFileCanBeCreatedKeepsThePreviousFile() throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let previous = dir + "/image.elf"
        let first = try PhysMem(base: PhysAddr(0x4000_0000), size: 0x2000)
        try first.write64(PhysAddr(0x4000_1000), 0xfeed)
        try ELFImage.save(first, registers: ImageRegisters(vtcr: 3), to: previous)
        let before = try Data(contentsOf: URL(fileURLWithPath: previous))
        let path = previous + "/copy.elf"
        #expect {
            try ELFImage.save(first, registers: ImageRegisters(), to: path)
        } throws: { error in
            "\(error)" == path + ": cannot save: mkstemp: Not a directory (errno 20)"
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: previous)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["image.elf"])
    }
}

/// A small deterministic generator (SplitMix64) so random tests are reproducible.
struct SplitMix {
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
