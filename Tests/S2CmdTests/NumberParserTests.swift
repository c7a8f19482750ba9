import XCTest

@testable import S2Cmd

final class NumberParserTests: XCTestCase {
    func testForms() {
        XCTAssertEqual(NumberParser.value("0x4000_1000"), 0x4000_1000)
        XCTAssertEqual(NumberParser.value("0X1F"), 31)
        XCTAssertEqual(NumberParser.value("4096"), 4096)
        XCTAssertEqual(NumberParser.value("1_000_000"), 1_000_000)
        XCTAssertEqual(NumberParser.value("0b101"), 5)
        XCTAssertEqual(NumberParser.value("4K"), 4096)
        XCTAssertEqual(NumberParser.value("2M"), 2 << 20)
        XCTAssertEqual(NumberParser.value("1g"), 1 << 30)
        XCTAssertEqual(NumberParser.value("0x10K"), 0x4000)
        XCTAssertEqual(NumberParser.value("0xffff_ffff_ffff_ffff"), UInt64.max)
    }

    func testRejects() {
        for bad in ["", "0x", "K", "_1", "-1", "+1", "12q", "0x1g0", "1.5", "0xfffffffffffffffff", "0x4000000000000G"] {
            XCTAssertNil(NumberParser.value(bad), bad)
        }
        XCTAssertThrowsError(try NumberParser.parse("zz")) { XCTAssertEqual($0 as? S2CmdError, .badNumber("zz")) }
    }

    /// Well-formed numbers beyond 64 bits (2^64 in each radix, a suffix pushing 2^34 past the top) are
    /// refused as too large, and say so; the largest values that fit are accepted.
    func testTooLargeIsNotCalledNotANumber() {
        for big in [
            "0x1_0000_0000_0000_0000", "18446744073709551616", "0b1" + String(repeating: "0", count: 64),
            "17179869184G", "0x4000000000000G", "0x40000000000000M", "0x40000000000000000K",
        ] {
            XCTAssertNil(NumberParser.value(big), big)
            XCTAssertThrowsError(try NumberParser.parse(big)) { e in
                XCTAssertEqual(e as? S2CmdError, .numberTooLarge(big))
                XCTAssertEqual("\(e)", "'\(big)' does not fit in 64 bits")
            }
        }
        XCTAssertEqual(NumberParser.value("18446744073709551615"), UInt64.max)
        XCTAssertEqual(NumberParser.value("17179869183G"), 17_179_869_183 << 30)
        for bad in ["zz", "0x", "_1", "-1", "1.5", "0b102", "2T", "0x1g0"] {
            XCTAssertEqual(NumberParser.failure(bad), .badNumber(bad), bad)
            XCTAssertEqual(
                "\(NumberParser.failure(bad))",
                "'\(bad)' is not a number (hex 0x..., decimal, _ separators, K/M/G suffix)")
        }
    }
}
