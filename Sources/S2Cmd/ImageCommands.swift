import ELFImage
import Mem
import Pgtable

/// Commands that read and write ELF images (IMAGE-FORMAT.md) through the `ELFImage` module.
enum ImageCommands {
    static let all: [CommandSpec] = [load, save, symbols]

    static let load = CommandSpec(
        "load", "load <image.elf> [vtcr=...] [vttbr=...] [hyp_tcr=...] [hyp_ttbr0=...] [--host]",
        summary: "Load an ELF test image or memory dump into physical memory; its symbols set the registers.",
        details: "Every PT_LOAD goes to its physical address, RAM regions are added to cover them, and the\n"
            + "words named by s2_vtcr, s2_vttbr, hyp_tcr, hyp_ttbr0 become the registers; options override\n"
            + "them. A failed load leaves memory as it was. --host: the stage 2 is pKVM's host stage 2\n"
            + "(ptdump marker 'Host IPA'; KVM_PGTABLE_S2_NOFWB | KVM_PGTABLE_S2_IDMAP for operations).",
        example: "load Fixtures/images/default.elf --host", arguments: 1...1, flags: ["host"],
        options: ["vtcr", "vttbr", "hyp_tcr", "hyp_ttbr0"]
    ) { (s, a) throws(S2CmdError) in
        let path = a.string(0) ?? ""
        var overrides = ImageRegisters()
        if let v = a.option("vtcr") { overrides.vtcr = try NumberParser.parse(v) }
        if let v = a.option("vttbr") { overrides.vttbr = try NumberParser.parse(v) }
        if let v = a.option("hyp_tcr") { overrides.hypTCR = try NumberParser.parse(v) }
        if let v = a.option("hyp_ttbr0") { overrides.hypTTBR0 = try NumberParser.parse(v) }
        let image: LoadedImage
        do throws(ELFImageError) { image = try ELFImage.load(path: path, into: s.mem, overrides: overrides) } catch {
            throw .image(error.description)
        }
        let r = image.registers
        s.registers = Registers(vtcr: r.vtcr, vttbr: r.vttbr, hypTCR: r.hypTCR, hypTTBR0: r.hypTTBR0)
        s.symbols = image.symbols
        s.probes = r.probes ?? []
        s.imagePath = path
        if a.flag("host") {
            s.marker = "Host IPA"
            s.stage2Flags = [.noFWB, .idmap]
        }
        let kind = image.kind == .core ? "memory dump" : "image"
        var text = "loaded \(kind) \(path): \(image.segments.count) segment(s), \(image.symbols.count) symbol(s)"
        if let root = try? s.stage2Root() { text += "\nstage 2: \(root.geometry); root \(root.root)" }
        return CommandOutput(
            text: text,
            json: .object([
                ("path", .string(path)), ("kind", .string(kind)), ("segments", .number(image.segments.count)),
                ("symbols", .number(image.symbols.count)), ("probes", .number(s.probes.count)),
            ]))
    }

    static let save = CommandSpec(
        "save", "save <out.elf>",
        summary: "Write the backed physical memory and the registers as an ELF image of the same convention.",
        details: "Every backed region becomes a PT_LOAD at its physical address; the registers get their\n"
            + "symbols (s2_vtcr, s2_vttbr, hyp_tcr, hyp_ttbr0, probe_ipas), so 'load' gives the machine back.",
        example: "save /tmp/machine.elf", arguments: 1...1
    ) { (s, a) throws(S2CmdError) in
        let path = a.string(0) ?? ""
        let r = s.registers
        let regs = ImageRegisters(
            vtcr: r.vtcr, vttbr: r.vttbr, hypTCR: r.hypTCR, hypTTBR0: r.hypTTBR0,
            probes: s.probes.isEmpty ? nil : s.probes)
        do throws(ELFImageError) { try ELFImage.save(s.mem, registers: regs, to: path) } catch {
            throw .image(error.description)
        }
        return CommandOutput(
            text: "saved \(s.mem.regions.count) region(s) to \(path)",
            json: .object([("path", .string(path)), ("regions", .number(s.mem.regions.count))]))
    }

    static let symbols = CommandSpec(
        "symbols", "symbols", summary: "List the loaded image's symbols (usable wherever an address is).",
        example: "symbols", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        let sorted = s.symbols.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        return CommandOutput(
            text: sorted.map { Format.hex16($0.value) + "  " + $0.key }.joined(separator: "\n"),
            json: .object(sorted.map { ($0.key, .hex($0.value)) }))
    }
}
