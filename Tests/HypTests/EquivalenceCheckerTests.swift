import Mem
import Pgtable
import XCTest

@testable import Hyp

/// `pte` (v6.13 storage and encoding) against `vmemmap` (v6.14), side by side.
final class EquivalenceCheckerTests: XCTestCase {
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]

    func checker(_ layoutB: PageStateLayout = .v6_14, guests: Int = 3) throws -> EquivalenceChecker {
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

    /// A layout whose SHARED_BORROWED decodes as SHARED_OWNED is caught at the first share.
    func testCatchesPlantedDecodeBug() throws {
        let c = try checker(.plantedBorrowedBug)
        var g = c.generator(seed: 42, hotPages: 256)
        let r = c.run(steps: 4000, generator: &g)
        guard case .diverged(let d) = r else { return XCTFail("not caught: \(r)") }
        XCTAssertTrue(d.detail.contains("hyp state SHARED_BORROWED vs SHARED_OWNED") || d.detail.contains("guest"), d.description)
    }

    /// Ranges straddling RAM and MMIO: v6.14's check_range_allowed_memory says -EINVAL where v6.13's walk
    /// says -EPERM (a functional change of "Move host page ownership tracking to the hyp vmemmap").
    func testStraddlingRangeDiverges() throws {
        let c = try checker(guests: 0)
        let r = c.run(script: [.shareFFA(pfn: 0x3ffff, pages: 2)])
        guard case .diverged(let d) = r else { return XCTFail("not caught: \(r)") }
        XCTAssertEqual(d.detail, "return -EPERM vs -EINVAL")
    }
}
