import CEditLine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The interactive walker: reads lines of the command language and runs them in one session.
///
/// On a terminal it uses libedit (line editing, history with Up/Down, tab completion of commands, their
/// options and the image's symbols); otherwise plain `readLine`, no prompt, so scripts can be piped in.
/// A bad line prints an error and the session continues; end of input (Ctrl-D) or `quit` ends it with
/// status 0.
public struct Repl {
    public let session: Session
    public let prompt: String

    public init(session: Session, prompt: String = "s2emu> ") {
        self.session = session
        self.prompt = prompt
    }

    /// Runs until end of input or `quit`. - Returns: the exit status (0).
    public func run() -> Int32 {
        let interactive = isatty(0) != 0
        let runner = ScriptRunner(session: session, name: interactive ? nil : "<stdin>", keepGoing: true, json: false)
        var result = ScriptRunner.Result()
        var number = 0
        if interactive {
            Completion.install(session: session)
            print(banner)
        }
        while !session.quitRequested {
            let line: String?
            if interactive {
                line = Completion.readLine(prompt: prompt)
            } else {
                line = Swift.readLine(strippingNewline: true)
            }
            guard let line else {
                if interactive { print("") }
                break
            }
            number += 1
            runner.runLine(line, number: number, result: &result)
        }
        return 0
    }
}

extension Repl {
    /// The line an interactive session starts with: what is loaded, and how to get help.
    var banner: String {
        let machine = session.imagePath ?? (session.pkvm != nil ? "pKVM machine" : "demo machine")
        return "s2emu on \(machine) — 'help' lists the commands, Tab completes, Up recalls, Ctrl-D quits"
    }
}

/// libedit glue: the completion callback (a C function pointer, so its state lives in statics) and
/// reading a line with history.
enum Completion {
    /// Words the current completion offers.
    nonisolated(unsafe) static var candidates: [String] = []
    /// How far the generator has got through `candidates`.
    nonisolated(unsafe) static var next = 0
    /// The session whose commands and symbols are completed.
    nonisolated(unsafe) static var session: Session?

    static func install(session: Session) {
        Completion.session = session
        ceditline_set_name("s2emu")
        using_history()
        ceditline_set_completion { text, start, _ in
            Completion.prepare(word: text.map { String(cString: $0) } ?? "", start: Int(start))
            return rl_completion_matches(text) { text, state in
                if state == 0 { Completion.next = 0 }
                let prefix = text.map { String(cString: $0) } ?? ""
                while Completion.next < Completion.candidates.count {
                    let c = Completion.candidates[Completion.next]
                    Completion.next += 1
                    if c.hasPrefix(prefix) { return strdup(c) }
                }
                return nil
            }
        }
    }

    /// Chooses the candidates for the word starting at column `start` of the line being edited: command
    /// names for the first word, otherwise that command's flags and options, register names for `set`,
    /// and the image's symbols.
    nonisolated static func prepare(word: String, start: Int) {
        let line = ceditline_line_buffer().map { String(cString: $0) } ?? ""
        let before = String(line.prefix(start))
        let words = before.split(separator: " ").map(String.init)
        if words.isEmpty {
            candidates = CommandRegistry.names
            return
        }
        var out: [String] = []
        if let spec = CommandRegistry.spec(named: words[0]) {
            out += (spec.flags + ["json"]).map { "--" + $0 } + spec.options.map { $0 + "=" }
            if spec.name == "set" { out += Registers.names.map(\.0) }
            if spec.name == "help" { out += CommandRegistry.names }
        }
        // Symbols, without the ELF mapping symbols ($x, $d) that only mark code and data.
        out += (session?.symbols.keys.filter { !$0.hasPrefix("$") }.sorted() ?? [])
        candidates = out
    }

    /// One line from the terminal through libedit, added to the history when not blank; nil at EOF.
    static func readLine(prompt: String) -> String? {
        guard let p = readline(prompt) else { return nil }
        defer { free(p) }
        let s = String(cString: p)
        if !s.allSatisfy({ $0 == " " }) { add_history(p) }
        return s
    }
}
