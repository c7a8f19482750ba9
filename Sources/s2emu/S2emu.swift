import ArgumentParser
import S2Cmd

/// `s2emu`: a thin front end over the command language in `S2Cmd`. Each subcommand opens the machine
/// (`--image`, `$S2EMU_IMAGE`, the bundled default image, or the demo machine) and runs the command of the
/// same name, so `s2emu walk 0x40001000` prints exactly what `walk 0x40001000` prints in the REPL.
@main
struct S2emu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s2emu",
        abstract: "AArch64 stage-2 page-table emulator, bit-exact with Linux pKVM (v6.14).",
        discussion: "Without a subcommand, opens the interactive walker (repl) on the default image.",
        subcommands: [
            Repl.self, Walk.self, Translate.self, Dump.self, Decode.self, Run.self, Check.self, Equiv.self,
            Migrate.self, Save.self, MapPicture.self,
        ],
        defaultSubcommand: Repl.self
    )
}

/// Options every subcommand shares.
struct MachineOptions: ParsableArguments {
    @Option(name: .long, help: "ELF image to open (default: $S2EMU_IMAGE, then Fixtures/images/default.elf).")
    var image: String?

    @Flag(name: .long, help: "Use the built-in demo machine (the 'demo' command) instead of an image.")
    var demo = false

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    /// Opens the session, printing the error and exiting 1 if the image cannot be loaded.
    func session() throws -> Session {
        do {
            if demo {
                let s = Session(style: Style.forDescriptor(1))
                _ = try s.execute(Invocation("demo"))
                return s
            }
            return try DefaultMachine.open(image: image, style: Style.forDescriptor(1))
        } catch {
            ErrorStream.print("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// Runs `invocation` on the machine and prints its output; an error goes to stderr with status 1.
    func run(_ invocation: Invocation) throws {
        var inv = invocation
        if json { inv.flags.insert("json") }
        let s = try session()
        do {
            let out = try s.execute(inv)
            if let text = Session.render(out, json: json) { print(text) }
        } catch {
            ErrorStream.print("error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interactive walker: the command language with line editing, history and tab completion.")
    @OptionGroup var machine: MachineOptions

    func run() throws {
        let status = S2Cmd.Repl(session: try machine.session()).run()
        if status != 0 { throw ExitCode(status) }
    }
}

struct Walk: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-level trace of one address: table, index, entry, raw descriptor, fields by name.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "IPA (hex, decimal, _ separators, K/M/G, or an image symbol).") var ipa: String

    func run() throws { try machine.run(Invocation("walk", arguments: [ipa])) }
}

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Architectural stage-2 translation of one address: the result, or the fault with its FST.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "IPA.") var ipa: String
    @Option(help: "Access: read, write or exec.") var access = "read"

    func run() throws { try machine.run(Invocation("translate", arguments: [ipa], options: ["access": access])) }
}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The stage-2 table in the kernel's ptdump grammar (arch/arm64/kvm/ptdump.c).")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "Optional start and end of the range to dump.") var range: [String] = []
    @Flag(help: "Extra columns: output address, MemAttr, SH, software bits, owner id.") var wide = false

    func run() throws { try machine.run(Invocation("dump", arguments: range, flags: wide ? ["wide"] : [])) }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode one raw descriptor.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "The 64-bit descriptor.") var descriptor: String
    @Option(help: "Level, -1...3.") var level = "3"
    @Option(help: "Granule: 4K, 16K or 64K.") var granule = "4K"
    @Option(help: "Regime: stage2 or hyp.") var regime = "stage2"
    @Flag(help: "FEAT_LPA2 descriptor layout (DS=1).") var lpa2 = false

    func run() throws {
        try machine.run(
            Invocation(
                "decode", arguments: [descriptor], flags: lpa2 ? ["lpa2"] : [],
                options: ["level": level, "granule": granule, "regime": regime]))
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a script of commands; errors name the line. Exit status 1 if any line failed.",
        discussion: "The script starts on an empty machine unless --image or --demo is given.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "Script file ('-' for standard input).") var script: String
    @Flag(help: "Keep going after a failing line.") var keepGoing = false

    func run() throws {
        let s = machine.image == nil && !machine.demo ? Session(style: Style.forDescriptor(1)) : try machine.session()
        let lines: [String]
        if script == "-" {
            var all: [String] = []
            while let l = readLine(strippingNewline: true) { all.append(l) }
            lines = all
        } else {
            do { lines = try ScriptRunner.readLines(script) } catch {
                ErrorStream.print("error: \(error)")
                throw ExitCode(1)
            }
        }
        let result = ScriptRunner(session: s, name: script, keepGoing: keepGoing, json: machine.json).run(lines)
        if result.errors > 0 { throw ExitCode(1) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the invariants of the machine's tables.")
    @OptionGroup var machine: MachineOptions

    func run() throws { try machine.run(Invocation("check")) }
}

struct Equiv: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one transition sequence through both pKVM state layouts and compare after every step.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "Script of transitions (omit for random steps).") var script: String?
    @Option(help: "Random steps.") var steps = "1000"
    @Option(help: "Random seed.") var seed = "1"

    func run() throws {
        try machine.run(Invocation("equiv", arguments: script.map { [$0] } ?? [], options: ["steps": steps, "seed": seed]))
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert the machine's host state from PTE software bits (v6.13) to the vmemmap (v6.14).")
    @OptionGroup var machine: MachineOptions

    func run() throws { try machine.run(Invocation("migrate")) }
}

struct Save: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Save the machine as an ELF image.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "Output ELF file.") var output: String

    func run() throws { try machine.run(Invocation("save", arguments: [output])) }
}

struct MapPicture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map", abstract: "Draw physical memory as an ownership map (host, hyp, guests, shared, MMIO).")
    @OptionGroup var machine: MachineOptions
    @Option(help: "SVG file to write.") var svg: String

    func run() throws { try machine.run(Invocation("ownership_map", arguments: [svg])) }
}
