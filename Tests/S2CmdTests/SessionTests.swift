import Mem
import Pgtable
import XCTest

@testable import S2Cmd

final class SessionTests: XCTestCase {
    func demo() throws -> Session {
        let s = Session()
        _ = try s.execute(Invocation("demo"))
        return s
    }

    func testUnknownCommandSuggests() throws {
        let s = Session()
        XCTAssertThrowsError(try s.execute(line: "wlak 0x1000")) {
            XCTAssertEqual($0 as? S2CmdError, .unknownCommand("wlak", suggestion: "walk"))
        }
    }

    func testUsageErrors() throws {
        let s = try demo()
        XCTAssertThrowsError(try s.execute(line: "map 0x1000 4K")) { e in
            guard case .usage(let c, let m, _) = e as? S2CmdError else { return XCTFail("\(e)") }
            XCTAssertEqual(c, "map")
            XCTAssertEqual(m, "missing arguments")
        }
        XCTAssertThrowsError(try s.execute(line: "dump --wdie"))
        XCTAssertThrowsError(try s.execute(line: "map 0x1000 4K 0x1000 RQ"))
    }

    /// `kvm_pgtable_stage2_mkyoung` on an unmapped address: in a fault-handling walk `stage2_attr_walker`'s
    /// -EAGAIN on the invalid entry stops the walk (`kvm_pgtable_walk_continue`); without HANDLE_FAULT it
    /// does not, and the call succeeds. `expect` turns the wanted errno into a success.
    func testExpect() throws {
        let s = try demo()
        XCTAssertNotNil(try s.execute(line: "expect -EAGAIN mkyoung 0x5000_0000 --fault"))
        XCTAssertNotNil(try s.execute(line: "mkyoung 0x5000_0000"))
        XCTAssertThrowsError(try s.execute(line: "expect -EINVAL mkyoung 0x5000_0000 --fault"))
        XCTAssertThrowsError(try s.execute(line: "expect -EAGAIN mkyoung 0x4000_0000 --fault"))
        // An IPA beyond BIT(ia_bits) is -ERANGE from kvm_pgtable_walk.
        XCTAssertNotNil(try s.execute(line: "expect -ERANGE map 0x100_0000_0000 4K 0 R"))
    }

    /// `phys_to_ttbr` with 52-bit PAs moves PA[51:48] into TTBR[5:2].
    func testTTBR() {
        XCTAssertEqual(Registers.ttbr(baddr: 0x000f_0000_4000_0000, oaBits: 52), 0x4000_003c)
        XCTAssertEqual(Registers.baddr(0x4000_003c, oaBits: 52), 0x000f_0000_4000_0000)
        XCTAssertEqual(Registers.baddr(0x0001_0000_4000_0001, oaBits: 48), 0x4000_0000)
    }

    /// The demo's walk of 0x40001000 ends in the 2M block: L1 index 1 (bits 38:30), L2 index 0.
    func testWalkJSON() throws {
        let s = try demo()
        let out = try s.execute(Invocation("walk", arguments: ["0x4000_1000"]))
        let j = out.json.serialized()
        XCTAssertTrue(j.contains(#""result":{"pa":"0x40001000","level":2,"kind":"block","size":"0x200000""#), j)
        XCTAssertTrue(j.contains(#""level":1,"table":"0x70000000","index":1,"entry":"0x70000008""#), j)
    }

    /// `check` finds a reserved level-3 encoding and the reference count it breaks (the kernel counts
    /// every non-zero entry: `stage2_pte_is_counted`).
    func testCheckFindsCorruption() throws {
        let s = try demo()
        XCTAssertEqual(try s.execute(Invocation("check")).text, "ok: 6 table pages, 3 valid leaves")
        // The demo's page at 0x40200000 is entry 0 of the level-3 table at 0x70003000; entry 5 is free.
        _ = try s.execute(line: "poke 0x7000_3028 0x4020_5001")
        XCTAssertThrowsError(try s.execute(Invocation("check"))) { e in
            guard case .failed(let text) = e as? S2CmdError else { return XCTFail("\(e)") }
            XCTAssertTrue(text.contains("reserved encoding 0x0000000040205001"), text)
            XCTAssertTrue(
                text.contains("table page 0x70003000: reference count 2, but 1 + 2 non-zero entries = 3"), text)
        }
    }
}

/// docs/cli.md documents every command of the language, and every command's example runs.
final class DocsTests: XCTestCase {
    func testEveryCommandDocumented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/cli.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for name in CommandRegistry.names {
            XCTAssertTrue(text.contains("`\(name)`") || text.contains("`\(name) "), "docs/cli.md lacks \(name)")
        }
    }

    /// Each command's `help` example parses and names its own command with arguments it accepts.
    func testExamplesParse() throws {
        for spec in CommandRegistry.all {
            let inv = try XCTUnwrap(Invocation.parse(spec.example), spec.name)
            XCTAssertEqual(inv.name, spec.name)
            XCTAssertNoThrow(try Arguments(spec: spec, invocation: inv), spec.example)
        }
    }
}
