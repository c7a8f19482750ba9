import Testing

@testable import ELFImage

@Suite struct PlacementTests {
    @Test func subtractCutsHoles() {
        let r = Placement.subtract([0x1000..<0x9000], [0x2000..<0x3000, 0x5000..<0x6000, 0x8000..<0xa000])
        #expect(r == [0x1000..<0x2000, 0x3000..<0x5000, 0x6000..<0x8000])
    }

    @Test func mergeJoinsTouchingRanges() {
        #expect(
            Placement.merge([0x3000..<0x4000, 0x1000..<0x2000, 0x2000..<0x2800]) == [0x1000..<0x2800, 0x3000..<0x4000])
    }

    @Test func mergeCanKeepTouchingRangesApart() {
        #expect(
            Placement.merge(joinTouching: false, [0x2000..<0x3000, 0x1000..<0x2000, 0x2800..<0x4000])
                == [0x1000..<0x2000, 0x2000..<0x4000])
    }
}
