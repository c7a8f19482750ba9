import ELFImage
import Foundation
import Mem
import Pgtable
import Testing

/// Every fixture loads, holds the registers and tables its source states, and walks as its source says.
@Suite struct FixtureTests {
    /// The stage-2 outcome for `ipa` in the regime `vtcr`/`vttbr` of `mem`.
    static func walk(_ mem: PhysMem, vtcr: UInt64, vttbr: UInt64, ipa: UInt64) throws -> FixtureSpec.Outcome {
        let geometry = try Geometry(vtcr: VTCR(vtcr))
        let root = PgtableRoot(root: PhysAddr(vttbr & 0xffff_ffff_fffe), geometry: geometry)
        guard ipa < geometry.inputSize else { return .outOfRange }
        let steps = try root.trace(mem: mem, addr: ipa)
        let last = try #require(steps.last)
        // trace and get_leaf agree on the leaf.
        let leaf = try root.leaf(mem: mem, addr: ipa)
        #expect(leaf.pte == last.descriptor && leaf.level == last.level)
        guard last.kind == .block || last.kind == .page else { return .fault(level: last.level) }
        let size = geometry.granule.levelSize(last.level)
        return .leaf(
            level: last.level,
            pa: last.descriptor.outputAddress(granule: geometry.granule, format: geometry.format) & ~(size - 1)
                | ipa & (size - 1))
    }

    @Test(arguments: FixtureSpec.all.map(\.name))
    func loadsWithItsRegisters(name: String) throws {
        let spec = try #require(FixtureSpec.all.first { $0.name == name })
        let image = try ELFImage.load(path: Fixture.path(name + ".elf"), into: PhysMem())
        #expect(image.kind == .executable)
        #expect(image.entry == 0x4008_0000)
        #expect(
            image.registers
                == ImageRegisters(
                    vtcr: spec.vtcr, vttbr: FixtureSpec.s2Base, hypTCR: spec.hypTCR, hypTTBR0: FixtureSpec.hypBase,
                    probes: spec.probes.map(\.0)))
        // VTCR_EL2 is what kvm_get_vtcr builds for the geometry, plus RES1 bit 31.
        #expect(try spec.stage2Geometry.vtcr.rawValue | 1 << 31 == spec.vtcr)
        #expect(try Geometry(vtcr: VTCR(spec.vtcr)) == spec.stage2Geometry)
    }

    @Test(arguments: FixtureSpec.all.map(\.name))
    func stage2TablesAreWhatStage2TableWrites(name: String) throws {
        let spec = try #require(FixtureSpec.all.first { $0.name == name })
        let loaded = PhysMem()
        let image = try ELFImage.load(path: Fixture.path(name + ".elf"), into: loaded)
        let segment = try #require(image.segments.first { $0.physicalAddress == PhysAddr(FixtureSpec.s2Base) })

        let mem = try PhysMem(base: PhysAddr(FixtureSpec.s2Base), size: 0x10_0000)
        let pool = try PagePool(
            mem: mem, base: PhysAddr(FixtureSpec.s2Base), size: 0x10_0000, pageShift: spec.granule.shift)
        let table = try Stage2Table(
            mm: pool, geometry: spec.stage2Geometry, flags: [.noFWB, .idmap], forcePTE: FixtureSpec.forcePTE)
        for op in spec.s2Ops {
            switch op {
            case .map(let addr, let size, let prot): try table.map(addr, size: size, phys: addr, prot: prot)
            case .ownerHyp(let addr, let size): try table.setOwner(addr, size: size, owner: 1)
            }
        }
        #expect(UInt64(pool.usedPages) * spec.granule.size == segment.memorySize)
        let count = Int(segment.memorySize)
        #expect(
            try loaded.read(segment.physicalAddress, count: count) == mem.read(segment.physicalAddress, count: count))
    }

    @Test(arguments: FixtureSpec.all.map(\.name))
    func hypTablesAreWhatHypTableWrites(name: String) throws {
        let spec = try #require(FixtureSpec.all.first { $0.name == name })
        let loaded = PhysMem()
        let image = try ELFImage.load(path: Fixture.path(name + ".elf"), into: loaded)
        let segment = try #require(image.segments.first { $0.physicalAddress == PhysAddr(FixtureSpec.hypBase) })

        let mem = try PhysMem(base: PhysAddr(FixtureSpec.hypBase), size: 0x10_0000)
        let pool = try PagePool(
            mem: mem, base: PhysAddr(FixtureSpec.hypBase), size: 0x10_0000, pageShift: spec.granule.shift)
        let table = try HypTable(mm: pool, geometry: spec.hypGeometry)
        for op in spec.hypOps { try table.map(op.va, size: op.size, phys: op.phys, prot: op.prot) }
        #expect(UInt64(pool.usedPages) * spec.granule.size == segment.memorySize)
        let count = Int(segment.memorySize)
        #expect(
            try loaded.read(segment.physicalAddress, count: count) == mem.read(segment.physicalAddress, count: count))
    }

    @Test(arguments: FixtureSpec.all.map(\.name))
    func probesWalkAsTheSourceSays(name: String) throws {
        let spec = try #require(FixtureSpec.all.first { $0.name == name })
        let mem = PhysMem()
        let image = try ELFImage.load(path: Fixture.path(name + ".elf"), into: mem)
        let vtcr = try #require(image.registers.vtcr)
        let vttbr = try #require(image.registers.vttbr)
        for (ipa, outcome) in spec.probes {
            #expect(
                try Self.walk(mem, vtcr: vtcr, vttbr: vttbr, ipa: ipa) == outcome, "probe 0x\(String(ipa, radix: 16))")
        }
    }

    @Test func defaultImageHasTheOwnerAnnotation() throws {
        let mem = PhysMem()
        let image = try ELFImage.load(path: Fixture.path("default.elf"), into: mem)
        let geometry = try Geometry(vtcr: VTCR(try #require(image.registers.vtcr)))
        let leaf = try PgtableRoot(root: PhysAddr(0x4010_0000), geometry: geometry).leaf(mem: mem, addr: 0x4070_1000)
        #expect(leaf.level == 3 && !leaf.pte.isValid && leaf.pte[Descriptor.ownerID] == 1)
    }

    /// dump.core is QEMU's dump-guest-memory of default.elf's machine: no symbols, so the registers come from
    /// the user; its tables are default.elf's, byte for byte, and walk the same.
    @Test func memoryDumpLoadsWithUserRegisters() throws {
        let mem = PhysMem()
        let overrides = ImageRegisters(vtcr: 0x8002_3558, vttbr: 0x4010_0000)
        let dump = try ELFImage.load(path: Fixture.path("dump.core"), into: mem, overrides: overrides)
        #expect(dump.kind == .core)
        #expect(dump.symbols.isEmpty)
        #expect(dump.registers == overrides)
        #expect(dump.segments.map(\.physicalAddress) == [PhysAddr(0x4000_0000)])
        let image = PhysMem()
        _ = try ELFImage.load(path: Fixture.path("default.elf"), into: image)
        for base: UInt64 in [FixtureSpec.s2Base, FixtureSpec.hypBase] {
            #expect(try mem.read(PhysAddr(base), count: 0x6000) == image.read(PhysAddr(base), count: 0x6000))
        }
        let spec = try #require(FixtureSpec.all.first { $0.name == "default" })
        for (ipa, outcome) in spec.probes {
            #expect(try Self.walk(mem, vtcr: 0x8002_3558, vttbr: 0x4010_0000, ipa: ipa) == outcome)
        }
    }

    @Test(arguments: FixtureSpec.all.map { $0.name + ".elf" } + ["loader.elf", "dump.core"])
    func saveThenLoadRoundTrips(name: String) throws {
        let dir = try SaveTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mem = PhysMem()
        let image = try ELFImage.load(path: Fixture.path(name), into: mem)
        let path = dir + "/" + name
        try ELFImage.save(mem, registers: image.registers, entry: image.entry, to: path)
        let copy = PhysMem()
        let again = try ELFImage.load(path: path, into: copy)
        #expect(again.registers == image.registers)
        #expect(again.entry == image.entry)
        try SaveTests.expectSameMemory(mem, copy)
    }
}

/// The probes' outcomes agree with QEMU's: each fixture's qemu/NAME.txt holds, per probe, the IPA and PAR_EL1
/// after AT S12E1R and AT S12E1W, as the image's EL2 program printed them under
/// `qemu-system-aarch64 -M virt,virtualization=on -cpu max` (Fixtures/images/build.sh).
@Suite struct QEMUAgreementTests {
    /// The outcome a PAR_EL1 value reports: F (bit 0) clear -> PA[51:12] plus the page offset; F set -> FST
    /// (bits 6:1) 0b0001LL, a translation fault at level LL.
    static func outcome(par: UInt64, ipa: UInt64, expectedLevel: Int?) -> FixtureSpec.Outcome? {
        if par & 1 == 0 {
            return .leaf(level: expectedLevel ?? -1, pa: par & 0x000f_ffff_ffff_f000 | ipa & 0xfff)
        }
        let fst = (par >> 1) & 0x3f
        guard fst & 0x3c == 0x04 else { return nil }
        return .fault(level: Int(fst & 3))
    }

    @Test(arguments: FixtureSpec.all.map(\.name))
    func walksAgreeWithQEMU(name: String) throws {
        let spec = try #require(FixtureSpec.all.first { $0.name == name })
        let text = try String(contentsOfFile: Fixture.path("qemu/\(name).txt"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == spec.probes.count)
        for (line, (ipa, outcome)) in zip(lines, spec.probes) {
            let fields = line.split(separator: " ").compactMap { UInt64($0, radix: 16) }
            #expect(fields.count == 3 && fields[0] == ipa)
            // The architecture reports an IPA beyond the input size as a level-0 translation fault.
            let expected: FixtureSpec.Outcome = outcome == .outOfRange ? .fault(level: 0) : outcome
            var level: Int? = nil
            if case .leaf(let l, _) = outcome { level = l }
            for par in fields.dropFirst() {
                #expect(Self.outcome(par: par, ipa: ipa, expectedLevel: level) == expected, "\(name) probe \(line)")
            }
        }
    }
}
