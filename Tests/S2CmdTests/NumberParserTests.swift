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
}
