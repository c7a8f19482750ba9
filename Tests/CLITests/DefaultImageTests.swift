import Foundation
import XCTest

/// The bundled default image (Fixtures/images/default.S), the pKVM commands, saving, the picture.
final class DefaultImageTests: XCTestCase {
    func expect(_ args: [String], _ name: String, status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let r = try CLI.run(args)
        XCTAssertEqual(r.status, status, "stderr: \(r.stderr)", file: file, line: line)
        try CLI.compare(r.stdout, name, file: file, line: line)
    }

    /// The README's quick-start command.
    func testDumpWide() throws { try expect(["dump", "--wide"], "default-dump-wide.txt") }
    func testWalkSharedPage() throws { try expect(["walk", "0x4060_0010"], "default-walk.txt") }
    func testPKVMScript() throws { try expect(["run", "Tests/CLITests/Scripts/pkvm.s2"], "run-pkvm.txt") }

    /// `s2emu migrate script`: a pte machine (1G of RAM: 262144 pages) after two shares and a 2-page donation to
    /// the hyp. NOPAGE: the 2093-page carve-out, the 2 donated pages, and per guest its VM page and 2 PGD pages;
    /// SHARED_OWNED: the 2 shared pages, whose SW0 bits are the 2 cleared PTEs; OWNED: the rest.
    func testMigrateSubcommand() throws {
        try expect(["migrate", "Tests/CLITests/Scripts/share.s2"], "migrate.txt")
    }

    /// pkvm_mkstate/getstate in v6.13 (states are the PTE software bits SW0 = bit 55, SW1 = bit 56) and v6.14
    /// (OWNED 0, SHARED_OWNED BIT(0), SHARED_BORROWED BIT(1), NOPAGE BIT(2), FIELD_PREP into bits 56:55).
    func testStates() throws {
        let r = try CLI.run(["run", "-"], stdin: "states\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        try CLI.compare(r.stdout, "states.txt")
    }

    /// The hyp stage 1 of the default image: VA 0x8000_4008_0010 is the PAGE_HYP_EXEC page (AP=0b11, read-only
    /// at EL2), so a write is a stage-1 permission fault at level 3 (FST 0b001111, PAR_EL1.S clear).
    func testTranslateHyp() throws {
        let r = try CLI.run(
            ["run", "-", "--image", "Fixtures/images/default.elf"],
            stdin: "translate 0x8000_4008_0010 access=write --hyp\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        try CLI.compare(r.stdout, "default-translate-hyp.txt")
    }

    /// The kernel walker's view of the hyp stage 1: the PAGE_HYP_EXEC page (AP=0b11, XN clear: R-X), the
    /// PAGE_HYP 2M block (AP=0b01, XN set: RW-) and the PAGE_HYP_DEVICE page (AttrIndx 4, MT_DEVICE_nGnRE).
    func testWalkHyp() throws {
        let r = try CLI.run(
            ["run", "-", "--image", "Fixtures/images/default.elf"],
            stdin: "walk 0x8000_4008_0010 --hyp\nwalk 0x8000_4040_0010 --hyp\nwalk 0x8000_0900_0000 --hyp\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        try CLI.compare(r.stdout, "default-walk-hyp.txt")
    }

    /// save then load gives the same table: the same walk from the saved copy.
    func testSaveRoundTrip() throws {
        let path = NSTemporaryDirectory() + "s2emu-cli-save-\(getpid()).elf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let saved = try CLI.run(["save", path])
        XCTAssertEqual(saved.status, 0, saved.stderr)
        let a = try CLI.run(["dump", "--wide"])
        // The bundled image opens as pKVM's host stage 2 (`Host IPA`); another image only with --host.
        let b = try CLI.run(["dump", "--wide", "--image", path, "--host"])
        XCTAssertEqual(a.stdout, b.stdout)
        XCTAssertFalse(a.stdout.isEmpty)
    }

    func testEquivalentAndPlanted() throws {
        let ok = try CLI.run(["equiv", "--steps", "300", "--seed", "3"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "equivalent over 300 steps\n")
        let planted = try CLI.run(["equiv", "--steps", "3000", "--layout", "planted-borrowed-bug"])
        XCTAssertEqual(planted.status, 1)
        XCTAssertTrue(planted.stderr.hasPrefix("error: divergence at step "), planted.stderr)
    }

    /// The bundled image is the host's stage 2; the same file given with --image is not marked so.
    func testDefaultImageIsTheHosts() throws {
        let bundled = try CLI.run(["dump", "0x4060_0000", "0x4060_1000"])
        XCTAssertEqual(bundled.stdout.split(separator: "\n").first, "---[ Host IPA ]---")
        let given = try CLI.run(["dump", "0x4060_0000", "0x4060_1000", "--image", "Fixtures/images/default.elf"])
        XCTAssertEqual(given.stdout.split(separator: "\n").first, "---[ Guest IPA ]---")
    }

    /// `pkvm_mkstate`/`pkvm_getstate` per layout; the meta state NOPAGE fails its line (BUG_ON).
    func testMkstateGetstate() throws {
        let r = try CLI.run(["run", "--keep-going", "Tests/CLITests/Scripts/mkstate.s2"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(
            r.stderr, "Tests/CLITests/Scripts/mkstate.s2:9: error: v6.13: pkvm_mkstate with meta state NOPAGE (BUG_ON)\n")
        try CLI.compare(r.stdout, "mkstate.txt")
    }

    /// `migrate` with the `pkvm` options: 8 MiB of RAM (2048 pages), one guest. NOPAGE: the 569-page carve-out
    /// (0x405c7000-0x40800000, as the tutorial's 8M machine), the 2 donated pages, the guest's VM page and
    /// 2 PGD pages = 574; SHARED_OWNED: the 2 shared pages (2 cleared PTEs); OWNED: 2048 - 576 = 1472.
    func testMigrateWithRAM() throws {
        try expect(
            ["migrate", "--ram", "0x4000_0000:8M", "--guests", "1", "Tests/CLITests/Scripts/share.s2"],
            "migrate-8m.txt")
    }

    /// `map` with device sharing: the host can share its UART page with the hyp only then.
    func testMapWithDeviceSharing() throws {
        let path = NSTemporaryDirectory() + "s2emu-cli-map-dev-\(getpid()).svg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = NSTemporaryDirectory() + "s2emu-cli-map-dev-\(getpid()).s2"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try "host_share_hyp 0x9000\n".write(toFile: script, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["map", "--svg", path, "--storage", "vmemmap", "--ram", "0x4000_0000:8M", script])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "\(script):1: error: share_hyp 0x9000: -EPERM\n")
        let r = try CLI.run([
            "map", "--svg", path, "--storage", "vmemmap", "--ram", "0x4000_0000:8M", "--device-sharing", script,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        // The picture is of RAM: 2048 pages, the hyp's 569-page carve-out and 2 guests' 3 pages each.
        XCTAssertEqual(r.stdout, "wrote \(path): host 1473 page(s), hyp 575 page(s)\n")
    }

    /// `equiv` with the `pkvm` options; a page divergence names both return values. Device sharing on the
    /// vmemmap side is a behaviour change, and the checker says so: step 19 is a host fault on MMIO
    /// (0x57712332, above the 8M of RAM), which both machines resolve (0 vs 0) with the same 2M block; v6.13
    /// has no state for MMIO (NOPAGE, `addr_is_allowed_memory`), device sharing keeps it in the PTE, whose
    /// clear SW bits say OWNED.
    func testEquivOptions() throws {
        let ok = try CLI.run(["equiv", "--steps", "300", "--ram", "0x4000_0000:8M"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "equivalent over 300 steps\n")
        let sharing = try CLI.run(["equiv", "--steps", "300", "--ram", "0x4000_0000:8M", "--device-sharing"])
        XCTAssertEqual(sharing.status, 1)
        XCTAssertTrue(
            sharing.stderr.hasPrefix(
                "error: divergence at step 19 (host_fault 0x57712332), page 0x57712000:\n  return 0 vs 0\n"
                    + "  host state  NOPAGE vs OWNED;"), sharing.stderr)
        let planted = try CLI.run(["equiv", "--steps", "1000", "--layout", "planted-borrowed-bug"])
        XCTAssertEqual(planted.status, 1)
        XCTAssertTrue(
            planted.stderr.hasPrefix(
                "error: divergence at step 11 (share_hyp 0x4048e), page 0x4048e000:\n  return 0 vs 0\n"),
            planted.stderr)
    }

    func testOwnershipMap() throws {
        let path = NSTemporaryDirectory() + "s2emu-cli-map-\(getpid()).svg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = NSTemporaryDirectory() + "s2emu-cli-map-\(getpid()).s2"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try "host_share_hyp 0x40100\nhost_donate_hyp 0x40110 2\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        let r = try CLI.run(["map", "--svg", path, script])
        XCTAssertEqual(r.status, 0, r.stderr)
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertTrue(svg.contains("<title>0x40100000-0x40101000 shared-hyp</title>"), svg.prefix(2000).description)
        XCTAssertTrue(svg.contains("<title>0x40110000-0x40112000 hyp</title>"))
        XCTAssertTrue(r.stdout.contains("shared-hyp 1 page(s)"), r.stdout)
    }

    /// `probes` against QEMU's own answers for the default image (`Fixtures/images/qemu/default.txt`: IPA,
    /// PAR_EL1 after AT S12E1R, after AT S12E1W): the same PA bits on success (QEMU also reports SH and the
    /// RES1 bit 11 there), the same whole PAR_EL1 on a fault (F, FST, S, bit 11).
    func testProbesMatchQEMU() throws {
        let r = try CLI.run(["run", "-", "--image", "Fixtures/images/default.elf"], stdin: "probes\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        func hex(_ t: Substring) -> UInt64? { UInt64(t.hasPrefix("0x") ? t.dropFirst(2) : t, radix: 16) }
        var ours: [UInt64: (UInt64, UInt64)] = [:]
        for line in r.stdout.split(separator: "\n") {
            let w = line.split(separator: " ", omittingEmptySubsequences: true)
            guard w.count >= 5, let ipa = hex(w[0]), let rd = hex(w[2]), let wr = hex(w[4]) else { continue }
            ours[ipa] = (rd, wr)
        }
        let recorded = try String(
            contentsOf: CLI.packageRoot.appendingPathComponent("Fixtures/images/qemu/default.txt"), encoding: .utf8
        ).split(separator: "\n").map { $0.split(separator: " ").compactMap { hex($0) } }.filter { $0.count == 3 }
        XCTAssertGreaterThan(recorded.count, 5)
        XCTAssertEqual(ours.count, recorded.count)
        for q in recorded {
            guard let (rd, wr) = ours[q[0]] else {
                XCTFail("no probe 0x\(String(q[0], radix: 16))")
                continue
            }
            for (mine, qemu) in [(rd, q[1]), (wr, q[2])] {
                let expected = qemu & 1 == 1 ? qemu : qemu & 0x000f_ffff_ffff_f000
                XCTAssertEqual(mine, expected, "probe 0x\(String(q[0], radix: 16)): QEMU 0x\(String(qemu, radix: 16))")
            }
        }
    }
}
