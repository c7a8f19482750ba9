import Foundation
import XCTest

/// Whole outputs of each subcommand on the demo machine and the fixtures, against `Expected/`.
final class CLITests: XCTestCase {
    func expect(
        _ args: [String], _ name: String, stdin: String = "", status: Int32 = 0, file: StaticString = #filePath,
        line: UInt = #line
    )
        throws
    {
        let r = try CLI.run(args, stdin: stdin)
        XCTAssertEqual(r.status, status, "stderr: \(r.stderr)", file: file, line: line)
        try CLI.compare(r.stdout, name, file: file, line: line)
    }

    func testWalk() throws { try expect(["walk", "0x4000_1000", "--demo"], "walk.txt") }
    func testWalkJSON() throws { try expect(["walk", "0x4020_0000", "--demo", "--json"], "walk.json") }
    func testTranslateBlock() throws { try expect(["translate", "0x4012_3456", "--demo"], "translate-block.txt") }
    func testTranslatePermissionFault() throws {
        try expect(["translate", "0x0900_0000", "--access", "exec", "--demo"], "translate-permission.txt")
    }
    func testTranslateTranslationFault() throws {
        try expect(["translate", "0x4020_1000", "--access", "write", "--demo", "--json"], "translate-fault.json")
    }
    func testDump() throws { try expect(["dump", "--demo"], "dump.txt") }
    func testDumpWide() throws { try expect(["dump", "--wide", "--demo"], "dump-wide.txt") }
    func testDumpRangeJSON() throws {
        try expect(["dump", "0x4000_0000", "0x4040_0000", "--demo", "--json"], "dump-range.json")
    }
    func testDecode() throws { try expect(["decode", "0x00400000402007db", "--demo"], "decode-page.txt") }
    func testDecodeBlockLevel2() throws {
        try expect(["decode", "0x400007d9", "--level", "2", "--demo"], "decode-block.txt")
    }
    func testCheck() throws { try expect(["check", "--demo"], "check.txt") }
    func testRunScript() throws {
        try expect(["run", "Tests/CLITests/Scripts/ops.s2"], "run-ops.txt")
    }

    /// A failing script line names the file and line; without --keep-going the script stops there.
    func testRunStopsAtFirstError() throws {
        let r = try CLI.run(["run", "Tests/CLITests/Scripts/bad.s2"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(
            r.stderr,
            "Tests/CLITests/Scripts/bad.s2:3: error: unknown command 'wlak' (did you mean 'walk'?); try 'help'\n")
        try CLI.compare(r.stdout, "run-bad.txt")
    }

    func testRunKeepGoing() throws {
        let r = try CLI.run(["run", "--keep-going", "Tests/CLITests/Scripts/bad.s2"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(
            r.stderr,
            """
            Tests/CLITests/Scripts/bad.s2:3: error: unknown command 'wlak' (did you mean 'walk'?); try 'help'
            Tests/CLITests/Scripts/bad.s2:4: error: map: missing arguments: 2 given, 4 needed
            usage: map <ipa> <size> <pa> <prot> [--nomemcache]

            """)
        try CLI.compare(r.stdout, "run-bad-keep-going.txt")
    }

    /// The REPL on a pipe: no prompt, a bad line reports `<stdin>:N` and the session goes on; EOF is status 0.
    func testReplPiped() throws {
        let r = try CLI.run(["repl", "--demo"], stdin: "leaf 0x4000_0000\nbogus 1\nleaf 0x0900_0000 --json\nregs\n")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stderr, "<stdin>:2: error: unknown command 'bogus'; try 'help'\n")
        try CLI.compare(r.stdout, "repl-piped.txt")
    }

    /// The REPL on a pipe (on the bundled default image), fed every kind of bad line between two saves of the
    /// whole machine: each line's error is reported with its line number, the session goes on, and the two
    /// saved images (every region's bytes and the registers) are identical.
    func testReplBadLinesChangeNothing() throws {
        let dir = NSTemporaryDirectory() + "s2emu-bad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let numberForms = "(hex 0x..., decimal, _ separators, K/M/G suffix)"
        let bad: [(String, String)] = [
            ("wlak 0x4000_1000", "unknown command 'wlak' (did you mean 'walk'?); try 'help'"),
            (
                "map 0x4020_0000 4K",
                "map: missing arguments: 2 given, 4 needed\nusage: map <ipa> <size> <pa> <prot> [--nomemcache]"
            ),
            ("unmap 0x4000_0000 2M --wdie", "unmap: unknown flag --wdie\nusage: unmap <ipa> <size>"),
            ("poke 0x4000_0000 zz", "'zz' is not a number \(numberForms)"),
            ("unmap 0x4000_0000 0x4000000000000G", "'0x4000000000000G' does not fit in 64 bits"),
            (
                "set_owner 0x4000_0000 2M 1 extra",
                "set_owner: unexpected argument 'extra'\nusage: set_owner <ipa> <size> <owner_id>"
            ),
            ("load /nonexistent.elf", "/nonexistent.elf: cannot open: No such file or directory (errno 2)"),
            (
                "load Fixtures/images/broken/overlapping.elf",
                "Fixtures/images/broken/overlapping.elf: segment 2 (0x40101000+0x10) overlaps segment 1 (0x40100000+0x3040) in physical memory"
            ),
            ("mkstate NOPAGE", "v6.13: pkvm_mkstate with meta state NOPAGE (BUG_ON)"),
            ("walk \"0x4000", "syntax error at column 6: unterminated quote"),
        ]
        let lines = ["save \(dir)/before.elf"] + bad.map(\.0) + ["save \(dir)/after.elf"]
        let r = try CLI.run(["repl"], stdin: lines.joined(separator: "\n") + "\n")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(
            r.stderr, bad.enumerated().map { "<stdin>:\($0.offset + 2): error: \($0.element.1)\n" }.joined())
        XCTAssertEqual(r.stdout, "saved 4 region(s) to \(dir)/before.elf\nsaved 4 region(s) to \(dir)/after.elf\n")
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/before.elf"))
        XCTAssertGreaterThan(before.count, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/after.elf")), before)
    }

    /// `s2emu` itself: an unknown subcommand, an unknown option and a missing argument are ArgumentParser's
    /// usage errors (status 64, its message and the subcommand's usage); a bad number and a missing image are
    /// s2emu's (status 1, `error: ...`, nothing on standard output).
    func testBadInvocations() throws {
        let usage: [([String], String)] = [
            (["frobnicate"], "Error: Unexpected argument 'frobnicate'\nUsage: s2emu repl"),
            (["walk", "0x1000", "--demo", "--bogus"], "Error: Unknown option '--bogus'\nUsage: s2emu walk"),
            (["walk", "--demo"], "Error: Missing expected argument '<ipa>'\n"),
        ]
        for (args, prefix) in usage {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 64, "\(args)")
            XCTAssertTrue(r.stderr.hasPrefix(prefix), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(args)")
        }
        let ours: [([String], String)] = [
            (
                ["walk", "0x1_0000_0000_0000_0000", "--demo"],
                "error: '0x1_0000_0000_0000_0000' does not fit in 64 bits\n"
            ),
            (
                ["walk", "0x1000", "--image", "/nonexistent.elf"],
                "error: /nonexistent.elf: cannot open: No such file or directory (errno 2)\n"
            ),
            (
                ["dump", "--image", "Fixtures/images/broken/wrong-class.elf"],
                "error: Fixtures/images/broken/wrong-class.elf: ELF class 1 is not ELFCLASS64 (2)\n"
            ),
            (["run", "/nonexistent.s2"], "error: /nonexistent.s2: No such file or directory\n"),
        ]
        for (args, message) in ours {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, message, "\(args)")
            XCTAssertEqual(r.stdout, "", "\(args)")
        }
    }

    /// `s2emu` with no subcommand is the REPL.
    func testNoArgumentsIsRepl() throws {
        let r = try CLI.run(["--demo"], stdin: "leaf 0x4000_0000\n")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout, "level 2 pte 0x00000000400007d9\n")
    }

    func testHelp() throws { try expect(["run", "-"], "help.txt", stdin: "help\nhelp map\n") }

    func testLoadImage() throws {
        try expect(
            ["run", "-", "--image", "Fixtures/images/loader.elf"], "load-loader.txt", stdin: "state\nregs\nsymbols\n")
    }

    func testBadArgumentExits1() throws {
        let r = try CLI.run(["walk", "zz", "--demo"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "error: 'zz' is not a number (hex 0x..., decimal, _ separators, K/M/G suffix)\n")
    }

    func testBrokenImage() throws {
        let r = try CLI.run(["walk", "0", "--image", "Fixtures/images/broken/address-overflow.elf"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("address-overflow.elf"), r.stderr)
    }
}
