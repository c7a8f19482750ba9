import Mem
import Pgtable
import XCTest

@testable import S2Cmd

/// ptdump vectors derived by hand from Linux v6.14: `arch/arm64/kvm/ptdump.c` (`stage2_pte_bits`, levels
/// named "%u", marker "Guest IPA") and `note_page` / `dump_prot` in `arch/arm64/mm/ptdump.c` (a line per
/// run of equal masked bits and level, `0x%016lx-0x%016lx   `, `%9lu%c %s`, then `" %s"` per token only
/// when the masked bits are non-zero).
final class PtDumpTests: XCTestCase {
    /// A 4K, 40-bit stage 2 (start level 1, 2 concatenated roots: `kvm_get_vtcr`) in a fresh session.
    func session(_ lines: [String]) throws -> Session {
        let s = Session()
        for l in ["ram 0x4000_0000 1G", "pool 0x7000_0000 16M", "stage2 granule=4K ipa=40"] + lines {
            _ = try s.execute(line: l)
        }
        return s
    }

    func dump(_ s: Session, wide: Bool = false) throws -> String {
        try s.execute(Invocation("dump", flags: wide ? ["wide"] : [])).text
    }

    /// One 2M RWX block: the level-1 entry for 1G-2G becomes a table, its entry 0 a block
    /// (`stage2_map_walker_try_leaf`); every other entry is zero. Tokens for valid|R|W|AF with XN and bit 1
    /// clear: " ", "R", "W", " " (XN clear), "AF", "BLK".
    func testBlock() throws {
        let s = try session(["map 0x4000_0000 2M 0x4000_0000 RWX"])
        XCTAssertEqual(
            try dump(s),
            """
            ---[ Guest IPA ]---
            0x0000000000000000-0x0000000040000000           1G 1
            0x0000000040000000-0x0000000040200000           2M 2   R W   AF BLK
            0x0000000040200000-0x0000000080000000        1022M 2
            0x0000000080000000-0x0000010000000000        1022G 1
            """)
    }

    /// A read-write page: XN set (`stage2_set_prot_attr` without X), so the XN token prints its clear
    /// string "X"; bit 1 set at level 3, so the BLK token prints its clear string (3 blanks).
    func testPageWithXN() throws {
        let s = try session(["map 0x4020_1000 4K 0x4020_1000 RW"])
        XCTAssertEqual(
            try dump(s),
            """
            ---[ Guest IPA ]---
            0x0000000000000000-0x0000000040000000           1G 1
            0x0000000040000000-0x0000000040200000           2M 2
            0x0000000040200000-0x0000000040201000           4K 3
            0x0000000040201000-0x0000000040202000           4K 3   R W X AF\u{20}\u{20}\u{20}\u{20}
            0x0000000040202000-0x0000000040400000        2040K 3
            0x0000000040400000-0x0000000080000000        1020M 2
            0x0000000080000000-0x0000010000000000        1022G 1
            """)
    }

    /// An owner annotation (`kvm_init_invalid_leaf_owner`, owner 1 = bits 9:2 = 0x4) is outside the token
    /// mask: it merges with the zero entries around it in the kernel's dump, and only `--wide` shows it.
    func testOwnerAnnotationWide() throws {
        let s = try session(["set_owner 0x4040_0000 4K 1"])
        let plain = try dump(s).split(separator: "\n")
        XCTAssertTrue(plain.contains("0x0000000040400000-0x0000000040600000           2M 3"))
        let wide = try dump(s, wide: true).split(separator: "\n").map {
            $0.split(separator: " ").joined(separator: " ")
        }
        XCTAssertTrue(
            wide.contains { $0.hasPrefix("0x0000000040400000-0x0000000040401000 4K 3") && $0.hasSuffix("owner=1") })
        XCTAssertTrue(
            wide.contains { $0.hasPrefix("0x0000000040401000-0x0000000040600000 2044K 3") && $0.hasSuffix("owner=0") })
    }

    /// Token strings straight from `stage2_pte_bits` and `dump_prot`.
    func testTokens() {
        XCTAssertNil(PtDump.tokenString(0))
        // valid, R, W, XN clear, AF, block
        XCTAssertEqual(PtDump.tokenString(0x4c1), "   R W   AF BLK")
        // valid page, read-only, XN (bit 54) set, AF clear
        XCTAssertEqual(PtDump.tokenString(0x0040_0000_0000_0043), "   R   X       ")
        // an invalid entry whose bits include bit 6 (owner id 16): " F", "  ", "  ", " X", "   ", "    "
        XCTAssertEqual(PtDump.tokenString(0x40), " F     X       ")
        XCTAssertEqual(PtDump.mask, 0x0040_0000_0000_04c3)
    }

    /// `note_page`'s size: KiB, then the next unit while the count is a multiple of 1024.
    func testSizes() {
        XCTAssertEqual(Format.ptdumpSize(4096), "4K")
        XCTAssertEqual(Format.ptdumpSize(2044 << 10), "2044K")
        XCTAssertEqual(Format.ptdumpSize(1 << 30), "1G")
        XCTAssertEqual(Format.ptdumpSize(1022 << 30), "1022G")
        XCTAssertEqual(Format.ptdumpSize(1 << 40), "1T")
        XCTAssertEqual(Format.ptdumpSize(3 << 12), "12K")
    }

    /// A sub-range starts at the range start even inside a block (the walk's `ctx->addr`).
    func testRange() throws {
        let s = try session(["map 0x4000_0000 2M 0x4000_0000 RWX"])
        let out = try s.execute(Invocation("dump", arguments: ["0x4010_0000", "0x4030_0000"])).text
        XCTAssertEqual(
            out,
            """
            ---[ Guest IPA ]---
            0x0000000040100000-0x0000000040200000           1M 2   R W   AF BLK
            0x0000000040200000-0x0000000040300000           1M 2
            """)
    }

    /// 64K pages, 48-bit IPA: `kvm_get_vtcr` starts at level 1 (3 levels, one root table of 64 used entries
    /// of 4T each); a level-2 entry maps 512M, so a 512M-aligned RWX map is one block.
    func test64KBlock() throws {
        let s = Session()
        for l in [
            "ram 0x4000_0000 1G", "pool 0x7000_0000 16M granule=64K", "stage2 granule=64K ipa=48",
            "map 0x4000_0000 512M 0x4000_0000 RWX",
        ] {
            _ = try s.execute(line: l)
        }
        XCTAssertEqual(
            try dump(s),
            """
            ---[ Guest IPA ]---
            0x0000000000000000-0x0000000040000000           1G 2
            0x0000000040000000-0x0000000060000000         512M 2   R W   AF BLK
            0x0000000060000000-0x0000040000000000     4192768M 2
            0x0000040000000000-0x0001000000000000         252T 1
            """)
    }
}
