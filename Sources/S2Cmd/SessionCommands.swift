/// Commands about the session itself: help, echo, running a script, quitting.
enum SessionCommands {
    static let all: [CommandSpec] = [help, echo, run, quit, exit]

    static let help = CommandSpec(
        "help", "help [command]", summary: "List the commands, or show one command's usage, options and an example.",
        example: "help map", arguments: 0...1
    ) { (s, a) throws(S2CmdError) in
        if let name = a.string(0) {
            guard let spec = CommandRegistry.spec(named: name) else {
                throw .unknownCommand(name, suggestion: CommandRegistry.suggestion(for: name))
            }
            return CommandOutput(
                text: spec.help,
                json: .object([
                    ("name", .string(spec.name)), ("synopsis", .string(spec.synopsis)),
                    ("summary", .string(spec.summary)),
                    ("example", .string(spec.example)),
                ]))
        }
        let width = (CommandRegistry.all.map(\.name.count).max() ?? 0) + 2
        var lines = CommandRegistry.all.map { Format.left($0.name, width) + $0.summary }
        lines.append("")
        lines.append("Numbers: 0x hex, decimal, 0b binary; _ separators; K/M/G suffixes (2M = 0x200000).")
        lines.append("Every command takes --json. 'expect <errno> <command>' checks a failure; '#' starts a comment.")
        return CommandOutput(
            text: lines.joined(separator: "\n"),
            json: .array(
                CommandRegistry.all.map { .object([("name", .string($0.name)), ("summary", .string($0.summary))]) }))
    }

    static let echo = CommandSpec(
        "echo", "echo <text ...>", summary: "Print the arguments (to label a script's output).",
        example: "echo after unmap:", arguments: 0...64
    ) { (s, a) throws(S2CmdError) in
        let text = a.invocation.arguments.joined(separator: " ")
        return CommandOutput(text: text, json: .object([("echo", .string(text))]))
    }

    static let run = CommandSpec(
        "run", "run <script> [--keep-going]",
        summary: "Run a script of commands in this session; stops at the first error (file:line) unless --keep-going.",
        example: "run examples/demo.s2", arguments: 1...1, flags: ["keep-going"]
    ) { (s, a) throws(S2CmdError) in
        let path = a.string(0) ?? ""
        let lines = try ScriptRunner.readLines(path)
        let result = ScriptRunner(session: s, name: path, keepGoing: a.flag("keep-going"), json: a.flag("json"))
            .run(lines)
        if result.errors > 0 { throw .failed("\(path): \(result.errors) line(s) failed") }
        return .ok([("lines", .number(result.executed))])
    }

    static let quit = CommandSpec(
        "quit", "quit", summary: "Leave the REPL (Ctrl-D does the same).", example: "quit", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        s.quitRequested = true
        return .ok()
    }

    static let exit = CommandSpec(
        "exit", "exit", summary: "Leave the REPL (same as quit).", example: "exit", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        s.quitRequested = true
        return .ok()
    }
}
