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
            Tests/CLITests/Scripts/bad.s2:4: error: map: missing arguments
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
