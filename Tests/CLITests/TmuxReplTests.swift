import Foundation
import XCTest

/// The REPL on a real terminal, driven through tmux as a user types: history recall with Up, tab
/// completion of a command and of an option, bad lines that do not end the session and change nothing, Ctrl-D.
final class TmuxReplTests: XCTestCase {
    /// A private tmux server, so the test never touches a user's sessions.
    let socket = "s2emu-test-\(getpid())-\(UUID().uuidString.prefix(8))"

    /// Runs `tmux -L <socket> <args>` through `system()`, quoting each argument for the shell. Not through
    /// Foundation's `Process`: `new-session` forks the tmux server, which inherits what `Process` waits on.
    func tmux(_ args: [String]) throws {
        let quoted = (["tmux", "-L", socket] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let status = system(quoted.joined(separator: " ") + " </dev/null >/dev/null 2>&1")
        if status != 0 { throw TmuxFailed(command: args.first ?? "", status: status) }
    }

    struct TmuxFailed: Error {
        let command: String
        let status: Int32
    }

    /// The visible pane (`capture-pane`), read through a file.
    func screen() throws -> String {
        let path = NSTemporaryDirectory() + "\(socket)-screen.txt"
        try tmux(["capture-pane", "-t", "t", ";", "save-buffer", path, ";", "delete-buffer"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// Waits up to 10 s until the screen satisfies `done`.
    func waitFor(_ what: String, file: StaticString = #filePath, line: UInt = #line, _ done: (String) -> Bool) throws {
        for _ in 0..<200 {
            if done(try screen()) { return }
            usleep(50_000)
        }
        XCTFail("timed out waiting for \(what); screen:\n\(try screen())", file: file, line: line)
    }

    func type(_ text: String) throws { try tmux(["send-keys", "-t", "t", "-l", text]) }
    func keys(_ names: String...) throws { try tmux(["send-keys", "-t", "t"] + names) }

    func count(_ needle: String, in s: String) -> Int { s.components(separatedBy: needle).count - 1 }

    /// The line the cursor is on: the last non-blank line of the screen, without trailing blanks.
    func current(_ screen: String) -> String {
        let lines = screen.split(separator: "\n").map { String($0.reversed().drop { $0 == " " }.reversed()) }
        return lines.last { !$0.isEmpty } ?? ""
    }

    func testInteractiveSession() throws {
        let command = "sh -c '\(CLI.binary) repl --demo; echo EXIT=$?; sleep 30'"
        try tmux(["new-session", "-d", "-s", "t", "-x", "160", "-y", "50", command])
        defer { _ = try? tmux(["kill-server"]) }
        try waitFor("the prompt") { self.current($0) == "s2emu>" }
        XCTAssertTrue(try screen().hasPrefix("s2emu on demo machine — 'help' lists the commands"))

        try type("leaf 0x4000_0000")
        try keys("Enter")
        try waitFor("leaf output") { $0.contains("level 2 pte 0x00000000400007d9") }

        // A bad command prints an error and the session goes on.
        try type("bogus")
        try keys("Enter")
        try waitFor("the error") { $0.contains("error: unknown command 'bogus'; try 'help'") }

        // A bad line that would unmap the 2M block had it run: an error, and the block is still there (the
        // recalled leaf command below prints the same entry).
        try type("unmap 0x4000_0000 2Q")
        try keys("Enter")
        try waitFor("the number error") {
            $0.contains("error: '2Q' is not a number (hex 0x..., decimal, _ separators, K/M/G suffix)")
        }

        // History: Up three times recalls the leaf command.
        try keys("Up", "Up", "Up")
        try waitFor("the recalled line") { self.current($0) == "s2emu> leaf 0x4000_0000" }
        try keys("Enter")
        try waitFor("the second leaf output") { self.count("level 2 pte 0x00000000400007d9", in: $0) == 2 }

        // Completion of a command name (tes -> test_clear_young) and of a flag (--mk -> --mkold).
        try type("tes")
        try keys("Tab")
        try waitFor("the completed command") { self.current($0) == "s2emu> test_clear_young" }
        try type("0x4000_0000 2M --mk")
        try keys("Tab")
        try waitFor("the completed flag") {
            self.current($0) == "s2emu> test_clear_young 0x4000_0000 2M --mkold"
        }
        try keys("Enter")
        try waitFor("young") { $0.split(separator: "\n").contains("young") }
        try type("test_clear_young 0x4000_0000 2M")
        try keys("Enter")
        try waitFor("old after --mkold") { $0.split(separator: "\n").contains("old") }

        // Ctrl-D ends the session cleanly.
        try keys("C-d")
        try waitFor("exit status 0") { $0.contains("EXIT=0") }
    }

    /// Completion of the image's symbols, on the bundled default image (hyp_ttbr0 names the TTBR0_EL2 word).
    func testSymbolCompletion() throws {
        let command = "sh -c 'cd \(CLI.packageRoot.path) && \(CLI.binary) repl; echo EXIT=$?; sleep 30'"
        try tmux(["new-session", "-d", "-s", "t", "-x", "160", "-y", "50", command])
        defer { _ = try? tmux(["kill-server"]) }
        try waitFor("the prompt") { self.current($0) == "s2emu>" }
        try type("peek hyp_tt")
        try keys("Tab")
        try waitFor("the completed symbol") { self.current($0) == "s2emu> peek hyp_ttbr0" }
        try keys("Enter")
        try waitFor("the word") { $0.contains(": 0x0000000040200000") }
        try keys("C-d")
        try waitFor("exit status 0") { $0.contains("EXIT=0") }
    }
}
