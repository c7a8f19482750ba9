import Foundation
import Mem
import Pgtable
import XCTest

@testable import Hyp

/// `pte` (v6.13 storage and encoding) against `vmemmap` (v6.14), side by side.
final class EquivalenceCheckerTests: XCTestCase {
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]

    func checker(_ layoutB: PageStateLayout = .v614, guests: Int = 3) throws -> EquivalenceChecker {
        let ca = PKVMConfig(storage: .pte, ram: Self.ram)
        let cb = PKVMConfig(storage: .vmemmap, ram: Self.ram, layout: layoutB)
        let c = try EquivalenceChecker(ca, cb, guests: guests)
        c.fullEvery = 1000
        return c
    }

    func testRandomRunIsEquivalent() throws {
        let c = try checker()
        var g = c.generator(seed: 42, hotPages: 256)
        let r = c.run(steps: 4000, generator: &g)
        XCTAssertEqual("\(r)", "equivalent over 4000 steps")
        // share_guest of a page shared with the hyp hits the kernel's WARN_ON(1) in both.
        XCTAssertEqual(c.a.warnings, c.b.warnings)
    }

    /// Two RAM regions with a hole, four guests. Steps and RAM come from `S2EMU_EQUIV_STEPS` and
    /// `S2EMU_EQUIV_RAM_MIB` (per region; defaults 3000 and 256 for CI); docs/pkvm-model.md records the
    /// 1,000,000-step release run with 2 x 2048 MiB.
    func testTwoRegionMachineRun() throws {
        let env = ProcessInfo.processInfo.environment
        let steps = Int(env["S2EMU_EQUIV_STEPS"] ?? "") ?? 3000
        let mib = UInt64(env["S2EMU_EQUIV_RAM_MIB"] ?? "") ?? 256
        let ram = [
            MemoryMap.Region(base: 0x4000_0000, size: mib << 20),
            MemoryMap.Region(base: 0x1_0000_0000, size: mib << 20),
        ]
        let c = try EquivalenceChecker(
            PKVMConfig(storage: .pte, ram: ram), PKVMConfig(storage: .vmemmap, ram: ram), guests: 4)
        c.fullEvery = Int(env["S2EMU_EQUIV_FULL_EVERY"] ?? "") ?? max(steps / 10, 1000)
        c.checkInvariants = env["S2EMU_EQUIV_NO_INVARIANTS"] == nil
        var g = c.generator(seed: 2026, hotPages: 4096)
        let t0 = Date()
        let r = c.run(steps: steps, generator: &g)
        let dt = Date().timeIntervalSince(t0)
        let full = Double(c.fullCheckTime.components.seconds) + Double(c.fullCheckTime.components.attoseconds) * 1e-18
        print(
            "equivalence: \(r) in \(String(format: "%.2f", dt)) s: \(Int(Double(steps) / (dt - full))) steps/s compared per step, "
                + "\(c.fullChecks) full checks in \(String(format: "%.2f", full)) s\n\(c.outcomeSummary)")
        XCTAssertEqual("\(r)", "equivalent over \(steps) steps")
    }

    func testScriptIsEquivalent() throws {
        let c = try checker()
        let script = """
            share_hyp 0x40100
            share_ffa 0x40101 3
            donate_hyp 0x40104 2
            topup 0x1000 0x40900
            topup 0x1000 0x40901
            share_guest 0x40108 0x10 0x1000 RW
            share_guest 0x40108 0x11 0x1000 R
            host_fault 0x40108000
            wrprotect 0x10 0x1000
            unshare_guest 0x10 0x1000
            unshare_ffa 0x40101 3
            donate_host 0x40104 2
            unshare_hyp 0x40100
            """.split(separator: "\n").compactMap { Transition(parsing: $0) }
        XCTAssertEqual(script.count, 13)
        XCTAssertEqual("\(c.run(script: script))", "equivalent over 13 steps")
    }

    /// A layout whose SHARED_BORROWED decodes as SHARED_OWNED is caught at the first share with the hyp, both
    /// in a script and in a random run.
    func testCatchesPlantedDecodeBug() throws {
        let c = try checker(.plantedBorrowedBug)
        guard case .diverged(let d) = c.run(script: [.shareFFA(pfn: 0x40100, pages: 1), .shareHyp(pfn: 0x40101)]) else {
            return XCTFail("not caught")
        }
        XCTAssertEqual(d.step, 2)
        XCTAssertEqual(d.page, 0x4010_1000)
        XCTAssertTrue(d.detail.contains("hyp state SHARED_BORROWED vs SHARED_OWNED"), d.description)
        XCTAssertTrue(d.detail.contains("hyp stage-1 leaf 0x140000040101743 vs 0x140000040101743"), d.description)
        let r = try checker(.plantedBorrowedBug)
        var g = r.generator(seed: 42, hotPages: 256)
        guard case .diverged = r.run(steps: 4000, generator: &g) else { return XCTFail("random run not caught") }
    }

    /// With out-of-range requests on, a random run runs into the errno changes of the move.
    func testRandomOutOfRangeRequestsDiverge() throws {
        let c = try checker()
        var g = c.generator(seed: 42, hotPages: 256)
        g.outOfRangeRequests = true
        guard case .diverged(let d) = c.run(steps: 4000, generator: &g) else { return XCTFail("no divergence") }
        XCTAssertTrue(["return -ERANGE vs -EPERM", "return -EPERM vs -EINVAL"].contains(d.detail), d.description)
    }

    /// Ranges straddling RAM and MMIO: v6.14's check_range_allowed_memory says -EINVAL where v6.13's walk
    /// says -EPERM (a functional change of "Move host page ownership tracking to the hyp vmemmap").
    func testStraddlingRangeDiverges() throws {
        let c = try checker(guests: 0)
        let r = c.run(script: [.shareFFA(pfn: 0x3ffff, pages: 2)])
        guard case .diverged(let d) = r else { return XCTFail("not caught: \(r)") }
        XCTAssertEqual(d.detail, "return -EPERM vs -EINVAL")
    }
    /// v6.13's transition code against v6.14's (both over their own storage): the checker finds the other
    /// behaviour change of the same pull, "Always check the state from hyp_ack_unshare()": v6.13 lets the host
    /// unshare from the hyp a page it shared with FF-A (host state reset, nothing to unmap: WARN_ON, 1).
    func testFindsHypAckUnshareFix() throws {
        var ca = PKVMConfig(storage: .pte, ram: Self.ram)
        ca.transitionCode = .v613
        let c = try EquivalenceChecker(ca, PKVMConfig(storage: .vmemmap, ram: Self.ram), guests: 0)
        let r = c.run(script: [.shareFFA(pfn: 0x40100, pages: 1), .unshareHyp(pfn: 0x40100)])
        guard case .diverged(let d) = r else { return XCTFail("not caught: \(r)") }
        XCTAssertEqual(d.step, 2)
        XCTAssertEqual(d.detail, "return 1 vs -EPERM")
        XCTAssertEqual(c.a.hostState(0x4010_0000), .owned)
        XCTAssertEqual(c.a.warnings, 1)
    }
}
