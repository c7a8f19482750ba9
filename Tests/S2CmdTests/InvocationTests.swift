import XCTest

@testable import S2Cmd

final class InvocationTests: XCTestCase {
    func testWordsFlagsOptionsComments() throws {
        let inv = try XCTUnwrap(
            Invocation.parse("map 0x4000_0000 2M 0x4000_0000 R|W  --json granule=4K # comment", line: 7))
        XCTAssertEqual(inv.name, "map")
        XCTAssertEqual(inv.arguments, ["0x4000_0000", "2M", "0x4000_0000", "R|W"])
        XCTAssertEqual(inv.flags, ["json"])
        XCTAssertEqual(inv.options, ["granule": "4K"])
        XCTAssertEqual(inv.line, 7)
    }

    func testQuotedWordsAreArguments() throws {
        let inv = try XCTUnwrap(Invocation.parse(#"echo "a=b # not a comment" "--x" "say \"hi\"""#))
        XCTAssertEqual(inv.arguments, ["a=b # not a comment", "--x", #"say "hi""#])
        XCTAssertTrue(inv.flags.isEmpty)
    }

    func testBlankAndCommentLines() throws {
        XCTAssertNil(try Invocation.parse(""))
        XCTAssertNil(try Invocation.parse("   # only a comment"))
    }

    func testUnterminatedQuote() {
        XCTAssertThrowsError(try Invocation.parse(#"echo "abc"#)) {
            XCTAssertEqual($0 as? S2CmdError, .syntax("unterminated quote", column: 6))
        }
    }
}
