import Pgtable

/// What a command printed: text for people and the same content as JSON for `--json`.
public struct CommandOutput: Sendable, Equatable {
    /// Lines without a trailing newline; empty for commands that succeed silently.
    public var text: String
    public var json: JSON

    public init(text: String, json: JSON) {
        self.text = text
        self.json = json
    }

    /// A silent success.
    public static func ok(_ fields: [(String, JSON)] = []) -> CommandOutput {
        CommandOutput(text: "", json: .object([("ok", .bool(true))] + fields))
    }
}

/// One command of the language: its name, how it is written, its help text, what it accepts (for checking
/// and for tab completion) and what it does.
public struct CommandSpec: Sendable {
    public let name: String
    /// How it is written, e.g. `map <ipa> <size> <pa> <prot>`.
    public let synopsis: String
    /// One line: what it does, in kernel terms where there are some.
    public let summary: String
    /// Longer help: arguments, options and the kernel function modelled.
    public let details: String
    /// A line that works on the default machine.
    public let example: String
    /// Positional arguments accepted.
    public let arguments: ClosedRange<Int>
    /// `--flags` accepted besides `--json`.
    public let flags: [String]
    /// `key=` options accepted.
    public let options: [String]
    let action: @Sendable (Session, Arguments) throws(S2CmdError) -> CommandOutput

    init(
        _ name: String, _ synopsis: String, summary: String, details: String = "", example: String,
        arguments: ClosedRange<Int>, flags: [String] = [], options: [String] = [],
        action: @escaping @Sendable (Session, Arguments) throws(S2CmdError) -> CommandOutput
    ) {
        self.name = name
        self.synopsis = synopsis
        self.summary = summary
        self.details = details
        self.example = example
        self.arguments = arguments
        self.flags = flags
        self.options = options
        self.action = action
    }

    /// The help text `help <name>` prints.
    public var help: String {
        var lines = ["usage: \(synopsis)", "  \(summary)"]
        if !details.isEmpty {
            lines += details.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        }
        let accepted = (flags + ["json"]).map { "--" + $0 } + options.map { $0 + "=" }
        lines.append("  accepts: " + accepted.joined(separator: " "))
        lines.append("  example: \(example)")
        return lines.joined(separator: "\n")
    }
}

/// A command's arguments, checked against its spec, with typed accessors that report usage errors.
public struct Arguments: Sendable {
    public let spec: CommandSpec
    public let invocation: Invocation

    /// Checks the number of arguments and that every flag and option is one the command knows.
    init(spec: CommandSpec, invocation: Invocation) throws(S2CmdError) {
        self.spec = spec
        self.invocation = invocation
        let n = invocation.arguments.count
        if n < spec.arguments.lowerBound {
            let atLeast = spec.arguments.count > 1 ? "at least " : ""
            throw usage("missing arguments: \(n) given, \(atLeast)\(spec.arguments.lowerBound) needed")
        }
        if n > spec.arguments.upperBound {
            throw usage("unexpected argument '\(invocation.arguments[spec.arguments.upperBound])'")
        }
        for f in invocation.flags.sorted() where f != "json" && !spec.flags.contains(f) {
            throw usage("unknown flag --\(f)")
        }
        for k in invocation.options.keys.sorted() where !spec.options.contains(k) {
            throw usage("unknown option \(k)=")
        }
    }

    public var count: Int { invocation.arguments.count }

    /// The usage error for this command.
    public func usage(_ message: String) -> S2CmdError {
        .usage(command: spec.name, message: message, synopsis: spec.synopsis)
    }

    public func string(_ i: Int) -> String? { i < count ? invocation.arguments[i] : nil }

    /// Positional argument `i` as a number.
    public func number(_ i: Int) throws(S2CmdError) -> UInt64 {
        guard let s = string(i) else { throw usage("missing argument \(i + 1)") }
        return try NumberParser.parse(s)
    }

    /// Positional argument `i` as a number, or `fallback` if absent.
    public func number(_ i: Int, default fallback: UInt64) throws(S2CmdError) -> UInt64 {
        guard let s = string(i) else { return fallback }
        return try NumberParser.parse(s)
    }

    /// Positional argument `i` as a `Prot` (`RWX`, `R|W|DEVICE`, `none`, ...).
    public func prot(_ i: Int) throws(S2CmdError) -> Prot {
        guard let s = string(i) else { throw usage("missing prot") }
        guard let p = Prot(parsing: s) else {
            throw usage("'\(s)' is not a prot (letters R W X, or R|W|X|DEVICE|NC|SW0..SW3, or none)")
        }
        return p
    }

    public func flag(_ name: String) -> Bool { invocation.flags.contains(name) }

    public func option(_ key: String) -> String? { invocation.options[key] }

    /// Option `key=` as a count in `range`, or `fallback`.
    /// - Throws: `usage` if it is not a number in `range`.
    public func intOption(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws(S2CmdError) -> Int {
        guard let s = option(key) else { return fallback }
        let v = try NumberParser.parse(s)
        guard let i = Int(exactly: v), range.contains(i) else {
            throw usage("\(key)= must be \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    /// Option `key=` as a number, or `fallback`.
    public func numberOption(_ key: String, default fallback: UInt64) throws(S2CmdError) -> UInt64 {
        guard let s = option(key) else { return fallback }
        return try NumberParser.parse(s)
    }
}
