/// Every command of the language, looked up by name (for running, `help` and tab completion).
public enum CommandRegistry {
    public static let all: [CommandSpec] =
        MachineCommands.all + TableCommands.all + InspectCommands.all + TranslateCommands.all + HypCommands.all
        + PageStateCommands.all + ImageCommands.all + SessionCommands.all

    static let byName: [String: CommandSpec] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    public static func spec(named name: String) -> CommandSpec? { byName[name] }

    /// Command names, sorted.
    public static var names: [String] { all.map(\.name).sorted() }

    /// The command closest to a mistyped `name` (edit distance at most 2), if any.
    public static func suggestion(for name: String) -> String? {
        let scored = names.map { ($0, distance(Array(name), Array($0))) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 < $1.1 }?.0
    }

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        var prev = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var cur = [i + 1]
            for (j, cb) in b.enumerated() {
                cur.append(min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca == cb ? 0 : 1)))
            }
            prev = cur
        }
        return prev[b.count]
    }
}
