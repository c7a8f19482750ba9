import Foundation

/// What `docs/tutorial.md` promises, read from the tutorial itself so that the text and the tests cannot
/// drift apart: every `console` block's commands with the output printed under them, and the
/// `pkvm_mkstate` table.
struct TutorialText {
    /// One `$ command` line of a console block and the lines printed under it up to the next `$ ` line
    /// or the end of the block.
    struct Step {
        /// The line in `docs/tutorial.md` of the `$ ` line (1-based), for failure messages.
        var line: Int
        var command: String
        var output: String
    }

    /// One row of the table between `<!-- mkstate table -->` and the next blank line: a state name and
    /// the four cells after it (v6.13 value, v6.13 `pkvm_mkstate`, v6.14 value, v6.14 `pkvm_mkstate`).
    struct MkstateRow {
        var line: Int
        var state: String
        var cells: [String]
    }

    var steps: [Step] = []
    var mkstateRows: [MkstateRow] = []

    /// Reads `text` (the tutorial's Markdown).
    init(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var inConsole = false
        var inFence = false
        var inTable = false
        var current: Step?
        var output: [String] = []
        func finish() {
            if var s = current {
                s.output = output.joined(separator: "\n")
                steps.append(s)
            }
            current = nil
            output = []
        }
        for (i, line) in lines.enumerated() {
            if line.hasPrefix("```") {
                if inFence {
                    if inConsole { finish() }
                    inFence = false
                    inConsole = false
                } else {
                    inFence = true
                    inConsole = line == "```console"
                }
                continue
            }
            if inConsole {
                if line.hasPrefix("$ ") {
                    finish()
                    current = Step(line: i + 1, command: String(line.dropFirst(2)), output: "")
                } else if current != nil {
                    output.append(line)
                }
                continue
            }
            if inFence { continue }
            if line == "<!-- mkstate table -->" {
                inTable = true
                continue
            }
            if inTable {
                if line.trimmingCharacters(in: .whitespaces).isEmpty {
                    inTable = false
                    continue
                }
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                    .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "") }
                guard let first = cells.first, !first.hasPrefix("-"), first != "state" else { continue }
                mkstateRows.append(MkstateRow(line: i + 1, state: first, cells: Array(cells.dropFirst())))
            }
        }
    }
}
