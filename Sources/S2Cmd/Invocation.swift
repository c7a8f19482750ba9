/// One command as written: its name, positional arguments, `--flags` and `key=value` options, and where it
/// came from (script line number). Built from a line by `Invocation.parse`, or directly by the `s2emu`
/// subcommands, so a subcommand and the same line in a script run exactly the same code.
public struct Invocation: Sendable, Equatable {
    public var name: String
    public var arguments: [String]
    /// `--json`, `--wide`, ... without the dashes.
    public var flags: Set<String>
    /// `granule=16K`, `level=2`, ...
    public var options: [String: String]
    /// 1-based line number in a script or REPL session (0 when built directly).
    public var line: Int

    public init(
        _ name: String, arguments: [String] = [], flags: Set<String> = [], options: [String: String] = [:],
        line: Int = 0
    ) {
        self.name = name
        self.arguments = arguments
        self.flags = flags
        self.options = options
        self.line = line
    }

    /// The command on `text`, or nil for a blank or comment-only line.
    /// - Throws: `S2CmdError.syntax` for an unterminated quote.
    public static func parse(_ text: String, line: Int = 0) throws(S2CmdError) -> Invocation? {
        let words = try Lexer.words(text)
        guard let first = words.first else { return nil }
        var inv = Invocation(first.text, line: line)
        for w in words.dropFirst() {
            if !w.quoted, w.text.hasPrefix("--"), w.text.count > 2 {
                inv.flags.insert(String(w.text.dropFirst(2)))
            } else if !w.quoted, let eq = w.text.firstIndex(of: "="), eq != w.text.startIndex,
                w.text[..<eq].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
            {
                inv.options[String(w.text[..<eq])] = String(w.text[w.text.index(after: eq)...])
            } else {
                inv.arguments.append(w.text)
            }
        }
        return inv
    }

    /// Whether `--name` was given.
    public func flag(_ name: String) -> Bool { flags.contains(name) }
}
