#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs lines of the command language one after another with their line numbers: each line's output
/// goes to `session.emit`, each error to `session.emitError` as `<name>:<line>: error: ...`. Stops at the
/// first error unless `keepGoing` (the REPL keeps going: a bad line never ends a session).
public struct ScriptRunner {
    public let session: Session
    /// The script's name in error messages (a path, or `<stdin>`); nil for an interactive session,
    /// whose errors need no location.
    public let name: String?
    public let keepGoing: Bool
    public let json: Bool
    /// Show a progress line on standard error (only when it is a terminal) for scripts this long.
    public static let progressThreshold = 500
    /// Colour for the `error:` prefix when standard error is a terminal.
    let errorStyle = Style.forDescriptor(2)

    public init(session: Session, name: String?, keepGoing: Bool, json: Bool) {
        self.session = session
        self.name = name
        self.keepGoing = keepGoing
        self.json = json
    }

    /// What a run did.
    public struct Result: Equatable, Sendable {
        public var executed = 0
        public var errors = 0
    }

    /// Runs `lines` (numbered from 1).
    public func run(_ lines: [String]) -> Result {
        var result = Result()
        let progress = lines.count >= ScriptRunner.progressThreshold && isatty(2) != 0
        for (i, line) in lines.enumerated() {
            if progress && i % 100 == 0 { ErrorStream.write("\r\(name ?? ""): line \(i + 1)/\(lines.count)") }
            if !runLine(line, number: i + 1, result: &result) && !keepGoing { break }
            if session.quitRequested { break }
        }
        if progress { ErrorStream.write("\r\u{1b}[K") }
        return result
    }

    /// Runs one line; returns false if it failed.
    @discardableResult
    public func runLine(_ line: String, number: Int, result: inout Result) -> Bool {
        do {
            guard let out = try session.execute(line: line, number: number) else { return true }
            result.executed += 1
            let wantJSON = json || ((try? Invocation.parse(line))??.flag("json") ?? false)
            if let text = Session.render(out, json: wantJSON) { session.emit(text) }
            return true
        } catch {
            result.executed += 1
            result.errors += 1
            let location = name.map { "\($0):\(number): " } ?? ""
            session.emitError(location + errorStyle.red("error:") + " \(error)")
            return false
        }
    }

    /// The lines of the script at `path`.
    /// - Throws: `S2CmdError.file` if it cannot be read.
    public static func readLines(_ path: String) throws(S2CmdError) -> [String] {
        guard let f = fopen(path, "r") else { throw .file(path: path, reason: String(cString: strerror(errno))) }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
