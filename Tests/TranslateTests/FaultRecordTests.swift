import Pgtable
import XCTest

/// Fault status codes as the Arm ARM's `EncodeLDFSC` (and ESR_ELx.DFSC / PAR_EL1.FST tables) give them.
final class FaultRecordTests: XCTestCase {
    func fst(_ kind: FaultRecord.Kind, _ level: Int) -> UInt8 {
        FaultRecord(kind: kind, level: level, secondStage: true, write: false, address: 0).statusCode
    }

    func testStatusCodesPerLevel() {
        // DFSC: 0b0000LL address size, 0b0001LL translation, 0b0010LL access flag, 0b0011LL permission,
        // 0b0101LL synchronous external abort on a translation table walk.
        for level in 0...3 {
            let l = UInt8(level)
            XCTAssertEqual(fst(.addressSize, level), 0x00 + l)
            XCTAssertEqual(fst(.translation, level), 0x04 + l)
            XCTAssertEqual(fst(.accessFlag, level), 0x08 + l)
            XCTAssertEqual(fst(.permission, level), 0x0c + l)
            XCTAssertEqual(fst(.syncExternalOnWalk, level), 0x14 + l)
        }
    }

    func testLevelMinusOneCodes() {
        // FEAT_LPA2: 0b101001 address size level -1, 0b101011 translation level -1,
        // 0b010011 synchronous external abort on a walk at level -1.
        XCTAssertEqual(fst(.addressSize, -1), 0b10_1001)
        XCTAssertEqual(fst(.translation, -1), 0b10_1011)
        XCTAssertEqual(fst(.syncExternalOnWalk, -1), 0b01_0011)
    }

    func testPARForAFault() {
        // PAR_EL1 with F=1: FST in bits 6:1, PTW bit 8, S bit 9, bit 11 RES1.
        let s2 = FaultRecord(kind: .permission, level: 3, secondStage: true, write: true, address: 0x1000)
        XCTAssertEqual(s2.par, 0xa1f)
        let s1 = FaultRecord(kind: .translation, level: 0, secondStage: false, write: false, address: 0)
        XCTAssertEqual(s1.par, 0x809)
    }
}
