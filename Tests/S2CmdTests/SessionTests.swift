import Foundation
import Hyp
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
            XCTAssertEqual(m, "missing arguments: 2 given, 4 needed")
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

/// Bad lines of the command language: the message the user reads, and a session left exactly as it was
/// (memory bytes, regions, registers, symbols, pool, the pKVM machine's FF-A counts and guest memcaches).
final class BadLineTests: XCTestCase {
    /// Everything a line could change in a session, by content (two sessions built alike compare equal).
    struct State: Equatable {
        let regions: [MemRegion]
        let bytes: [Data]
        let registers: Registers
        let symbols: [String: UInt64]
        let probes: [UInt64]
        let imagePath: String?
        let stage2Flags: Stage2Flags
        let marker: String
        let viewedGuest: UInt32?
        let pool: [UInt64]
        let ffaShared: [UInt64: Int]
        let memcaches: [UInt64]

        init(_ s: Session) throws {
            regions = s.mem.regions
            bytes = try s.mem.regions.map { r in
                Data(bytes: try s.mem.pointer(r.base, size: r.size), count: Int(r.size))
            }
            registers = s.registers
            symbols = s.symbols
            probes = s.probes
            imagePath = s.imagePath
            stage2Flags = s.stage2Flags
            marker = s.marker
            viewedGuest = s.viewedGuest
            pool =
                s.pool.map { p in [p.base.rawValue, UInt64(p.usedPages)] + p.allocatedPages.map(\.address.rawValue) }
                ?? []
            ffaShared = s.pkvm?.ffaShared ?? [:]
            memcaches =
                s.pkvm?.guests.flatMap { [$0.pool.memcache?.head ?? 0, UInt64($0.pool.memcache?.count ?? 0)] } ?? []
        }
    }

    /// Runs `line`, which must fail with `message`, and checks that the session is as it was.
    func expectFailure(
        _ s: Session, _ line: String, _ message: String, file: StaticString = #filePath, line l: UInt = #line
    ) throws {
        let before = try State(s)
        XCTAssertThrowsError(try s.execute(line: line), line, file: file, line: l) { e in
            XCTAssertEqual("\(e)", message, line, file: file, line: l)
        }
        XCTAssertEqual(try State(s), before, "\(line): session changed", file: file, line: l)
    }

    static let broken = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/images/broken").path

    /// Unknown commands, flags and options, missing and extra arguments, numbers of every bad shape, bad
    /// prots, files that are not there or not images, quotes left open.
    func testBadLinesOnASmallMachine() throws {
        let s = Session()
        // The demo machine's lines with 4M of RAM and a 1M pool (a snapshot copies every backed byte).
        for line in [
            "ram 0x4000_0000 4M", "pool 0x7000_0000 1M", "stage2 granule=4K ipa=40",
            "map 0x4000_0000 2M 0x4000_0000 RWX", "map 0x4020_0000 4K 0x4020_0000 RW",
            "map 0x0900_0000 4K 0x0900_0000 R|W|DEVICE",
        ] {
            XCTAssertNotNil(try s.execute(line: line), line)
        }
        let numberForms = "(hex 0x..., decimal, _ separators, K/M/G suffix)"
        let cases: [(String, String)] = [
            ("wlak 0x4000_1000", "unknown command 'wlak' (did you mean 'walk'?); try 'help'"),
            ("bogus 1", "unknown command 'bogus'; try 'help'"),
            (
                "map 0x4020_0000 4K",
                "map: missing arguments: 2 given, 4 needed\nusage: map <ipa> <size> <pa> <prot> [--nomemcache]"
            ),
            ("unmap 0x4000_0000 2M extra", "unmap: unexpected argument 'extra'\nusage: unmap <ipa> <size>"),
            ("unmap 0x4000_0000 2M --wdie", "unmap: unknown flag --wdie\nusage: unmap <ipa> <size>"),
            ("unmap 0x4000_0000 2M granule=4K", "unmap: unknown option granule=\nusage: unmap <ipa> <size>"),
            ("unmap 0x4000_0000 zz", "'zz' is not a number \(numberForms)"),
            ("unmap 0x4000_0000 _2M", "'_2M' is not a number \(numberForms)"),
            ("unmap 0x4000_0000 0x", "'0x' is not a number \(numberForms)"),
            ("unmap 0x4000_0000 2T", "'2T' is not a number \(numberForms)"),
            ("unmap 0x4000_0000 -1", "'-1' is not a number \(numberForms)"),
            ("unmap 0x4000_0000 1.5M", "'1.5M' is not a number \(numberForms)"),
            ("unmap 0x4000_0000 0b102", "'0b102' is not a number \(numberForms)"),
            ("unmap 0x1_0000_0000_0000_0000 4K", "'0x1_0000_0000_0000_0000' does not fit in 64 bits"),
            ("unmap 0x4000_0000 18446744073709551616", "'18446744073709551616' does not fit in 64 bits"),
            ("unmap 0x4000_0000 0x4000000000000G", "'0x4000000000000G' does not fit in 64 bits"),
            ("unmap 0x4000_0000 17179869184G", "'17179869184G' does not fit in 64 bits"),
            (
                "map 0x4020_0000 4K 0x4020_0000 RQ",
                "map: 'RQ' is not a prot (letters R W X, or R|W|X|DEVICE|NC|SW0..SW3, or none)\n"
                    + "usage: map <ipa> <size> <pa> <prot> [--nomemcache]"
            ),
            ("walk \"0x4000", "syntax error at column 6: unterminated quote"),
            ("load /nonexistent.elf", "/nonexistent.elf: cannot open: No such file or directory (errno 2)"),
            (
                "load \(Self.broken)/overlapping.elf",
                "\(Self.broken)/overlapping.elf: segment 2 (0x40101000+0x10) overlaps segment 1 (0x40100000+0x3040) in physical memory"
            ),
            (
                "load \(Self.broken)/wrong-machine.elf",
                "\(Self.broken)/wrong-machine.elf: machine 62 is not EM_AARCH64 (183)"
            ),
            ("host_share_hyp 0x40100", "no pKVM machine: run 'pkvm' first"),
            ("mkstate NOPAGE", "v6.13: pkvm_mkstate with meta state NOPAGE (BUG_ON)"),
            ("mkstate NOPAGE layout=v6.14", "v6.14: pkvm_mkstate with meta state NOPAGE (BUG_ON)"),
            (
                "mkstate NOPAGE layout=planted-borrowed-bug",
                "planted-borrowed-bug: pkvm_mkstate with meta state NOPAGE (BUG_ON)"
            ),
        ]
        for (line, message) in cases { try expectFailure(s, line, message) }
    }

    /// The hypercalls: the request as the Hyp module writes it and the kernel's errno (the errnos themselves
    /// are derived from the kernel in HypTests' InvalidRequestTableTests); `pte` and `vmemmap` differ where
    /// v6.13's host-state walk and v6.14's `check_range_allowed_memory` differ.
    func testHypercallErrorsNameTheRequestAndTheErrno() throws {
        for storage in ["pte", "vmemmap"] {
            let s = Session()
            let setup = [
                "pkvm storage=\(storage) ram=0x40000000:8M guests=1", "topup_guest 0x1000 0x40020",
                "topup_guest 0x1000 0x40021", "host_share_hyp 0x40101", "host_share_hyp 0x40104",
                "hyp_pin_shared_mem 0x40104 1", "host_donate_hyp 0x40200 1", "host_share_ffa 0x40102 1",
                "host_share_guest 0x40103 0x80 0x1000 RW", "host_mem_abort 0x4030_0000",
            ]
            for line in setup { XCTAssertNotNil(try s.execute(line: line), line) }
            let pte = storage == "pte"
            let cases: [(String, String)] = [
                ("host_share_hyp 0x4000_0000", "share_hyp 0x40000000: " + (pte ? "-ERANGE" : "-EPERM")),
                ("host_share_hyp 0x9000", "share_hyp 0x9000: -EPERM"),
                ("host_unshare_hyp 0x40100", "unshare_hyp 0x40100: -EPERM"),
                ("host_unshare_hyp 0x40104", "unshare_hyp 0x40104: -EBUSY"),
                ("host_donate_hyp 0x3ffff 2", "donate_hyp 0x3ffff 2: " + (pte ? "-EPERM" : "-EINVAL")),
                ("host_donate_hyp 0x40100 2", "donate_hyp 0x40100 2: -EPERM"),
                ("hyp_donate_host 0x10_0000_0000 1", "donate_host 0x1000000000 1: -ERANGE"),
                ("hyp_donate_host 0x40100 1", "donate_host 0x40100 1: -EPERM"),
                ("host_share_ffa 0x40102 1", "share_ffa 0x40102 1: -EPERM"),
                ("host_unshare_ffa 0x40100 1", "unshare_ffa 0x40100 1: -EPERM"),
                ("host_share_guest 0x40100 1 0x1005 R", "share_guest 0x40100 0x1 0x1005 R--: -EINVAL"),
                ("host_share_guest 0x40100 1 0x1000 R|SW0", "share_guest 0x40100 0x1 0x1000 R--|SW0: -EINVAL"),
                (
                    "host_share_guest 0x40100 0x4000_0000 0x1000 R",
                    "share_guest 0x40100 0x40000000 0x1000 R--: -ERANGE"
                ),
                ("host_share_guest 0x9000 1 0x1000 R", "share_guest 0x9000 0x1 0x1000 R--: -EPERM"),
                (
                    "host_share_guest 0x40101 1 0x1000 R",
                    "share_guest 0x40101 0x1 0x1000 R-- (WARN: share_guest: only host to np-guest multi-sharing is "
                        + "tolerated): -EPERM"
                ),
                ("host_unshare_guest 0x81 0x1000", "unshare_guest 0x81 0x1000: -ENOENT"),
                ("host_unshare_guest 0x80 7", "unshare_guest 0x80 0x7: -EINVAL"),
                ("host_relax_perms_guest 0x80 0x1000 X|DEVICE", "relax_perms 0x80 0x1000 --X|DEVICE: -EINVAL"),
                ("host_relax_perms_guest 0x4000_0000 0x1000 X", "relax_perms 0x40000000 0x1000 --X: -ERANGE"),
                ("host_wrprotect_guest 0x4000_0000 0x1000", "wrprotect 0x40000000 0x1000: -ERANGE"),
                ("host_test_clear_young_guest 0x80 0x2000 --mkold", "test_clear_young 0x80 0x2000 1: -EINVAL"),
                ("host_mkyoung_guest 0x80 0x1001", "mkyoung 0x80 0x1001: -EINVAL"),
                ("hyp_pin_shared_mem 0x40100 1", "pin 0x40100 1: -EPERM"),
                ("hyp_pin_shared_mem 0x40101 2", "pin 0x40101 2: -EPERM"),
                ("host_mem_abort 0x400_0000_0000", "host_fault 0x40000000000: -ERANGE"),
                ("host_mem_abort 0x4020_0000", "host_fault 0x40200000: -EPERM"),
                ("host_mem_abort 0x4030_0000", "host_fault 0x40300000: -EAGAIN"),
                ("topup_guest 0x1001 0x40100", "topup 0x1001 0x40100: -EINVAL"),
                ("topup_guest 0x1000 0x40200", "topup 0x1000 0x40200: -EPERM"),
                // A machine that cannot be built, and a guest that is not there: the session keeps its machine.
                (
                    "pkvm storage=disk",
                    "pkvm: storage must be pte or vmemmap\nusage: pkvm [storage=vmemmap|pte] [layout=...] "
                        + "[ram=base:size,...] [guests=2] [--device-sharing]"
                ),
                ("pkvm ram=0x4000_0800:8M", "invalid pKVM machine configuration: RAM region 0x40000800+0x800000"),
                ("view guest 0x1005", "no guest 0x1005"),
            ]
            for (line, message) in cases { try expectFailure(s, line, message) }
            // unpin of a page nobody pinned: the kernel's BUG_ON in hyp_page_ref_dec, shown as a WARN; nothing
            // changes.
            let before = try State(s)
            XCTAssertEqual(
                try s.execute(line: "hyp_unpin_shared_mem 0x40100 1")?.text,
                "WARN: hyp_page_ref_dec of a zero count (BUG_ON)")
            XCTAssertEqual(try State(s), before)
        }
    }

    /// `run`: the error names the script and the line; the lines before it took effect, the failing line
    /// changed nothing, and nothing after it ran (with `--keep-going`, the lines after it did).
    func testScriptStopsAtTheBadLineWithNothingHalfDone() throws {
        let lines = [
            "pkvm ram=0x40000000:8M guests=1", "host_share_hyp 0x40100", "host_donate_hyp 0x40100 1",
            "host_share_hyp 0x40101",
        ]
        func session(running: [String], keepGoing: Bool) -> (Session, [String], ScriptRunner.Result) {
            let s = Session()
            var errors: [String] = []
            s.emit = { _ in }
            s.emitError = { errors.append($0) }
            let r = ScriptRunner(session: s, name: "bad.s2", keepGoing: keepGoing, json: false).run(running)
            return (s, errors, r)
        }
        let (stopped, errors, result) = session(running: lines, keepGoing: false)
        XCTAssertEqual(errors, ["bad.s2:3: error: donate_hyp 0x40100 1: -EPERM"])
        XCTAssertEqual(result, ScriptRunner.Result(executed: 3, errors: 1))
        XCTAssertEqual(try State(stopped), try State(session(running: Array(lines[0..<2]), keepGoing: false).0))

        let (went, goingErrors, goingResult) = session(running: lines, keepGoing: true)
        XCTAssertEqual(goingErrors, ["bad.s2:3: error: donate_hyp 0x40100 1: -EPERM"])
        XCTAssertEqual(goingResult, ScriptRunner.Result(executed: 4, errors: 1))
        XCTAssertEqual(
            try State(went), try State(session(running: [lines[0], lines[1], lines[3]], keepGoing: false).0))
    }
}
