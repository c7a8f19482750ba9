import Pgtable
import XCTest

@testable import Hyp

/// Vectors from `enum pkvm_page_state`, `pkvm_mkstate`, `pkvm_getstate`: v6.13 `mem_protect.h`, v6.14 `memory.h`.
final class PageStateLayoutTests: XCTestCase {
    let rw = Prot.rw  // PAGE_HYP, KVM_PGTABLE_PROT_R | _W = 0x6

    /// v6.13 enum values are KVM_PGTABLE_PROT_SW0/SW1 (BIT(55), BIT(56)); NOPAGE is the next enum value.
    func testV613EnumValues() {
        let l = PageStateLayout.v613
        XCTAssertEqual(l.owned, 0)
        XCTAssertEqual(l.sharedOwned, 0x0080_0000_0000_0000)
        XCTAssertEqual(l.sharedBorrowed, 0x0100_0000_0000_0000)
        XCTAssertEqual(l.reserved, 0x0180_0000_0000_0000)
        XCTAssertEqual(l.noPage, 0x0180_0000_0000_0001)
    }

    /// v6.14: OWNED=0, SHARED_OWNED=BIT(0), SHARED_BORROWED=BIT(1), reserved=3, NOPAGE=BIT(2),
    /// PKVM_PAGE_META_STATES_MASK = ~3.
    func testV614EnumValues() {
        let l = PageStateLayout.v614
        XCTAssertEqual([l.owned, l.sharedOwned, l.sharedBorrowed, l.reserved, l.noPage], [0, 1, 2, 3, 4])
        XCTAssertEqual(l.metaStatesMask, 0xffff_ffff_ffff_fffc)
    }

    /// The "no functional change": both mkstates give the same prot (PTE) bits for every non-meta state.
    func testMkstateIdenticalAcrossLayouts() throws {
        let expected: [(PageState, UInt64)] = [
            (.owned, 0x6), (.sharedOwned, 0x0080_0000_0000_0006), (.sharedBorrowed, 0x0100_0000_0000_0006),
        ]
        for (s, bits) in expected {
            XCTAssertEqual(try PageStateLayout.v613.mkstate(rw, s).rawValue, bits, "\(s)")
            XCTAssertEqual(try PageStateLayout.v614.mkstate(rw, s).rawValue, bits, "\(s)")
        }
        // mkstate clears whatever state bits the prot had (prot &= ~PKVM_PAGE_STATE_PROT_MASK).
        let dirty = Prot(rawValue: 0x0180_0000_0000_0007)
        XCTAssertEqual(try PageStateLayout.v614.mkstate(dirty, .owned).rawValue, 0x7)
        XCTAssertEqual(try PageStateLayout.v613.mkstate(dirty, .sharedOwned).rawValue, 0x0080_0000_0000_0007)
        // SW2/SW3 are untouched.
        let sw23 = Prot(rawValue: 0x0600_0000_0000_0006)
        XCTAssertEqual(try PageStateLayout.v614.mkstate(sw23, .sharedBorrowed).rawValue, 0x0700_0000_0000_0006)
    }

    /// getstate: v6.13 returns the PTE bits themselves, v6.14 FIELD_GET's the 2-bit value.
    func testGetstateDiffers() {
        let so = Prot(rawValue: 0x0080_0000_0000_0006)
        let sb = Prot(rawValue: 0x0100_0000_0000_0006)
        XCTAssertEqual(PageStateLayout.v613.getstate(so), 0x0080_0000_0000_0000)
        XCTAssertEqual(PageStateLayout.v614.getstate(so), 1)
        XCTAssertEqual(PageStateLayout.v613.getstate(sb), 0x0100_0000_0000_0000)
        XCTAssertEqual(PageStateLayout.v614.getstate(sb), 2)
        for l in [PageStateLayout.v613, .v614] {
            XCTAssertEqual(l.state(ofValue: l.getstate(so)), .sharedOwned)
            XCTAssertEqual(l.state(ofValue: l.getstate(sb)), .sharedBorrowed)
            XCTAssertEqual(l.state(ofPTEProt: sb), .sharedBorrowed)
            XCTAssertNil(l.state(ofPTEProt: Prot(rawValue: 0x0180_0000_0000_0000)))
        }
    }

    /// The seed's BUG_ON(state & PKVM_PAGE_META_STATES_MASK) is a typed error, in every layout, with a message
    /// naming the state. Only NOPAGE is meta: v6.14 NOPAGE = BIT(2) has a bit of ~(BIT(0) | BIT(1)), the
    /// other states none (the reserved value BIT(0) | BIT(1) is not a meta state and has no `PageState`);
    /// v6.13's only meta state is PKVM_NOPAGE, the value after __PKVM_PAGE_RESERVED.
    func testMetaStateIsTypedError() {
        for l in PageStateLayout.all {
            XCTAssertThrowsError(try l.mkstate(rw, .noPage), l.name) { e in
                XCTAssertEqual(e as? HypError, .metaStateInPTE(.noPage))
                XCTAssertEqual("\(e)", "pkvm_mkstate with meta state NOPAGE (BUG_ON)")
            }
            for s in [PageState.owned, .sharedOwned, .sharedBorrowed] {
                XCTAssertFalse(l.isMeta(s), "\(l) \(s)")
                XCTAssertNoThrow(try l.mkstate(rw, s), "\(l) \(s)")
            }
        }
    }

    func testPlantedLayoutDecodesBorrowedWrongly() {
        let sb = Prot(rawValue: 0x0100_0000_0000_0006)
        XCTAssertEqual(PageStateLayout.plantedBorrowedBug.state(ofPTEProt: sb), .sharedOwned)
        XCTAssertEqual(PageStateLayout.named("v6.14"), .v614)
    }
}
