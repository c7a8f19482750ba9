import XCTest

@testable import S2Cmd

/// `mkstate`, `getstate` and the vmemmap entry `page` prints. Expected values are written by hand:
/// v6.13 `mem_protect.h` (`PKVM_PAGE_SHARED_OWNED = KVM_PGTABLE_PROT_SW0` = BIT(55), `SHARED_BORROWED =
/// KVM_PGTABLE_PROT_SW1` = BIT(56), `pkvm_mkstate` = `(prot & ~mask) | state`), v6.14 `memory.h` (`OWNED`
/// 0, `SHARED_OWNED` BIT(0), `SHARED_BORROWED` BIT(1), `NOPAGE` BIT(2); `FIELD_PREP(GENMASK(56, 55), state)`),
/// `KVM_PGTABLE_PROT_X/W/R` = BIT(0)/BIT(1)/BIT(2).
final class PageStateCommandTests: XCTestCase {
    /// One row of the `mkstate` JSON for `layout`.
    func row(_ s: Session, _ line: String, _ layout: String) throws -> [String: String] {
        guard let out = try s.execute(line: line), case .array(let rows) = out.json else {
            XCTFail("no rows for \(line)")
            return [:]
        }
        for r in rows {
            guard case .object(let fields) = r else { continue }
            var d: [String: String] = [:]
            for (k, v) in fields {
                switch v {
                case .string(let t): d[k] = t
                default: d[k] = v.serialized()
                }
            }
            if d["layout"] == layout { return d }
        }
        XCTFail("no \(layout) row for \(line)")
        return [:]
    }

    func testMkstateBothLayoutsGiveTheSamePTEBits() throws {
        let s = Session()
        // pkvm_mkstate(PKVM_HOST_MEM_PROT = R|W|X = 0x7, SHARED_OWNED): SW0, bit 55, in both versions.
        let old = try row(s, "mkstate SHARED_OWNED", "v6.13")
        XCTAssertEqual(old["value"], "0x80000000000000")
        XCTAssertEqual(old["prot"], "0x80000000000007")
        XCTAssertEqual(old["sw"], "0b0001")
        XCTAssertEqual(old["getstate"], "0x80000000000000")
        let new = try row(s, "mkstate SHARED_OWNED", "v6.14")
        XCTAssertEqual(new["value"], "0x1")
        XCTAssertEqual(new["prot"], "0x80000000000007")
        XCTAssertEqual(new["getstate"], "0x1")
        XCTAssertEqual(new["reads_as"], "SHARED_OWNED")
        // SHARED_BORROWED with R|W (0x6): SW1, bit 56.
        let borrowed = try row(s, "mkstate pkvm_page_shared_borrowed RW", "v6.14")
        XCTAssertEqual(borrowed["prot"], "0x100000000000006")
        XCTAssertEqual(borrowed["sw"], "0b0010")
        XCTAssertEqual(borrowed["getstate"], "0x2")
        // The planted layout makes the same bits but reads SW1 back as SHARED_OWNED.
        let planted = try row(s, "mkstate SHARED_BORROWED RW layout=planted-borrowed-bug", "planted-borrowed-bug")
        XCTAssertEqual(planted["prot"], "0x100000000000006")
        XCTAssertEqual(planted["reads_as"], "SHARED_OWNED")
    }

    /// A meta state is the seed's BUG_ON: a typed error naming the layout, and the session goes on.
    func testMkstateMetaStateIsTheBugOn() throws {
        let s = Session()
        XCTAssertThrowsError(try s.execute(line: "mkstate NOPAGE")) {
            XCTAssertEqual($0 as? S2CmdError, .failed("v6.13: pkvm_mkstate with meta state NOPAGE (BUG_ON)"))
        }
        XCTAssertThrowsError(try s.execute(line: "mkstate NOPAGE RW layout=v6.14")) {
            XCTAssertEqual($0 as? S2CmdError, .failed("v6.14: pkvm_mkstate with meta state NOPAGE (BUG_ON)"))
        }
        XCTAssertNotNil(try s.execute(line: "expect error mkstate PKVM_NOPAGE"))
        XCTAssertNotNil(try s.execute(line: "mkstate OWNED"))
        XCTAssertThrowsError(try s.execute(line: "mkstate LENT")) {
            guard case .usage("mkstate", _, _) = $0 as? S2CmdError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try s.execute(line: "mkstate OWNED RW layout=v5.0"))
    }

    func testGetstate() throws {
        let s = Session()
        // The default image's shared page 0x40600000: SW0 set.
        let old = try row(s, "getstate 0x00800000406007ff", "v6.13")
        XCTAssertEqual(old["getstate"], "0x80000000000000")
        XCTAssertEqual(old["reads_as"], "SHARED_OWNED")
        let new = try row(s, "getstate 0x00800000406007ff", "v6.14")
        XCTAssertEqual(new["getstate"], "0x1")
        // SW0|SW1: __PKVM_PAGE_RESERVED, no state.
        let reserved = try row(s, "getstate RWX|SW0|SW1", "v6.14")
        XCTAssertEqual(reserved["getstate"], "0x3")
        XCTAssertEqual(reserved["reads_as"], "reserved encoding")
        XCTAssertThrowsError(try s.execute(line: "getstate QQ"))
    }

    /// `page` shows the page's `struct hyp_page`: 8 bytes per PFN from one page into the carve-out, the
    /// v6.14 fields; a page that is not memory has none.
    func testPageShowsTheVmemmapEntry() throws {
        let s = Session()
        guard let built = try s.execute(line: "pkvm ram=0x4000_0000:8M") else { return XCTFail("no output") }
        XCTAssertTrue(built.text.contains("carve-out 0x405c7000"), built.text)
        _ = try s.execute(line: "host_share_hyp 0x40100")
        let page = try s.execute(line: "page 0x4010_0000")?.text ?? ""
        XCTAssertTrue(
            page.hasSuffix(
                "vmemmap 0x405c8800: struct hyp_page v6.14 { refcount 0, order 0, host_state 0x1 (SHARED_OWNED), "
                    + "host_share_guest_count 0 }"), page)
        let json = try s.execute(line: "page 0x4010_0000 --json")?.json.serialized() ?? ""
        XCTAssertTrue(
            json.hasSuffix(
                "\"vmemmap\":{\"pa\":\"0x405c8800\",\"layout\":\"v6.14\",\"refcount\":0,\"order\":0,\"host_state\":1,"
                    + "\"host_share_guest_count\":0}}"), json)
        let mmio = try s.execute(line: "page 0x0900_0000")?.text ?? ""
        XCTAssertTrue(mmio.hasSuffix("vmemmap: no struct hyp_page (not memory)"), mmio)
        _ = try s.execute(line: "pkvm storage=pte ram=0x4000_0000:8M")
        let old = try s.execute(line: "page 0x4010_0000")?.text ?? ""
        XCTAssertTrue(old.hasSuffix("vmemmap 0x405c8400: struct hyp_page v6.13 { refcount 0, order 0 }"), old)
    }
}
