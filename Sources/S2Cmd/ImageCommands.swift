/// Commands that read and write ELF images (IMAGE-FORMAT.md).
enum ImageCommands {
    static let all: [CommandSpec] = [load, save]

    static let load = CommandSpec(
        "load", "load <image.elf> [vtcr=...] [vttbr=...] [hyp_tcr=...] [hyp_ttbr0=...]",
        summary: "Load an ELF test image or memory dump into physical memory; its symbols set the registers.",
        example: "load Fixtures/images/default.elf", arguments: 1...1, options: ["vtcr", "vttbr", "hyp_tcr", "hyp_ttbr0"]
    ) { (s, a) throws(S2CmdError) in
        throw .unavailable(command: "load", needs: "the ELF loader, issue #5")
    }

    static let save = CommandSpec(
        "save", "save <out.elf>",
        summary: "Write the backed physical memory and the registers as an ELF image of the same convention.",
        example: "save /tmp/machine.elf", arguments: 1...1
    ) { (s, a) throws(S2CmdError) in
        throw .unavailable(command: "save", needs: "the ELF loader, issue #5")
    }
}
