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

    @Flag(
        name: .long,
        help: "The image holds pKVM's host stage 2 ('load --host'; always so for the bundled default image).")
    var host = false

    /// Opens the session, printing the error and exiting 1 if the image cannot be loaded.
    func session() throws -> Session {
        do {
            if demo {
                let s = Session(style: Style.forDescriptor(1))
                _ = try s.execute(Invocation("demo"))
                return s
            }
            return try DefaultMachine.open(image: image, style: Style.forDescriptor(1), host: host)
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
    @Flag(help: "Walk the hyp stage 1 (TCR_EL2/TTBR0_EL2) instead; the address is a hyp VA.") var hyp = false

    func run() throws { try machine.run(Invocation("walk", arguments: [ipa], flags: hyp ? ["hyp"] : [])) }
}

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Architectural stage-2 translation of one address: the result, or the fault with its FST.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "IPA.") var ipa: String
    @Option(help: "Access: read, write or exec.") var access = "read"
    @Flag(help: "Translate in the hyp stage 1 (TCR_EL2/TTBR0_EL2); the address is a hyp VA.") var hyp = false
    @Flag(help: "An EL0 access.") var el0 = false
    @Flag(help: "An AT instruction (no hardware dirty-state update).") var at = false

    func run() throws {
        let flags = Set([hyp ? "hyp" : nil, el0 ? "el0" : nil, at ? "at" : nil].compactMap { $0 })
        try machine.run(Invocation("translate", arguments: [ipa], flags: flags, options: ["access": access]))
    }
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
        abstract:
            "Run one transition sequence through both pKVM state layouts (pte, vmemmap) and compare after every step.")
    @Flag(help: "Print JSON instead of text.") var json = false
    @Argument(help: "Script of transitions (omit for random steps).") var script: String?
    @Option(help: "Random steps.") var steps = "1000"
    @Option(help: "Random seed.") var seed = "1"
    @Option(help: "Guests per machine.") var guests = "2"
    @Option(help: "State layout of the vmemmap machine (v6.14, or planted-borrowed-bug to see a divergence).")
    var layout: String?
    @Option(help: "RAM of both machines as base:size[,base:size...] (default 0x40000000:1G).") var ram: String?
    @Flag(help: "Keep the host's MMIO state in its PTEs on the vmemmap machine (the model's device sharing).")
    var deviceSharing = false

    func run() throws {
        var options = ["steps": steps, "seed": seed, "guests": guests]
        if let layout { options["layout"] = layout }
        if let ram { options["ram"] = ram }
        try PKVMScript.run(
            Invocation(
                "equiv", arguments: script.map { [$0] } ?? [], flags: deviceSharing ? ["device-sharing"] : [],
                options: options),
            json: json)
    }
}

/// A pKVM machine for `migrate` and `map`: built by `pkvm`, then a script of commands run on it.
struct PKVMOptions: ParsableArguments {
    @Option(help: "Host-state storage: pte or vmemmap.") var storage = "pte"
    @Option(help: "Guests.") var guests = "2"
    @Option(help: "RAM as base:size[,base:size...] (default 0x40000000:1G).") var ram: String?
    @Option(help: "State layout (v6.13, v6.14, planted-borrowed-bug; default: the storage's version).")
    var layout: String?
    @Flag(help: "Keep the host's MMIO state in its PTEs (the model's device sharing).") var deviceSharing = false
    @Argument(help: "Script of commands to run on the machine first (host_share_hyp ..., host_share_guest ...).")
    var script: String?

    /// The `pkvm` line these options give, as `pkvm` in a script would be written.
    var pkvmLine: String {
        var line = "pkvm storage=\(storage) guests=\(guests)"
        if let ram { line += " ram=\(ram)" }
        if let layout { line += " layout=\(layout)" }
        if deviceSharing { line += " --device-sharing" }
        return line
    }

    /// The session after `pkvm` and the script; exits 1 if either fails.
    func session() throws -> Session {
        let s = Session(style: Style.forDescriptor(1))
        do { _ = try s.execute(line: pkvmLine) } catch {
            ErrorStream.print("error: \(error)")
            throw ExitCode(1)
        }
        var lines: [String] = []
        if let script {
            do { lines = try ScriptRunner.readLines(script) } catch {
                ErrorStream.print("error: \(error)")
                throw ExitCode(1)
            }
        }
        s.emit = { _ in }
        let result = ScriptRunner(session: s, name: script ?? "pkvm", keepGoing: false, json: false).run(lines)
        if result.errors > 0 { throw ExitCode(1) }
        s.emit = { print($0) }
        return s
    }
}

enum PKVMScript {
    /// Runs `invocation` on `session` (a fresh one if nil), printing its output; errors exit 1.
    static func run(_ invocation: Invocation, json: Bool, session: Session? = nil) throws {
        let s = session ?? Session(style: Style.forDescriptor(1))
        var inv = invocation
        if json { inv.flags.insert("json") }
        do {
            if let text = Session.render(try s.execute(inv), json: json) { print(text) }
        } catch {
            ErrorStream.print("error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Build a pte-storage pKVM machine, run a script on it, convert its host state to the vmemmap (v6.13 -> v6.14)."
    )
    @OptionGroup var pkvm: PKVMOptions
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws { try PKVMScript.run(Invocation("migrate"), json: json, session: try pkvm.session()) }
}

struct Save: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Save the machine as an ELF image.")
    @OptionGroup var machine: MachineOptions
    @Argument(help: "Output ELF file.") var output: String

    func run() throws { try machine.run(Invocation("save", arguments: [output])) }
}

struct MapPicture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Draw a pKVM machine's physical memory as an ownership map (host, hyp, shared, guests, MMIO).")
    @OptionGroup var pkvm: PKVMOptions
    @Option(help: "SVG file to write.") var svg: String
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        try PKVMScript.run(Invocation("ownership_map", arguments: [svg]), json: json, session: try pkvm.session())
    }
}
