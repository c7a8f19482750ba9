import Mem
import Pgtable
import XCTest

@testable import Hyp

/// Wild arguments (huge or wrapping PFNs and page counts, any prot bits, unknown guests, addresses past
/// the IPA size) never crash or hang the model, and leave its invariants intact.
final class RobustnessTests: XCTestCase {
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]

    func testWildRequests() throws {
        for s in HostStateStorage.allCases {
            let m = try PKVMMachine(PKVMConfig(storage: s, ram: Self.ram))
            XCTAssertEqual(m.createGuest(vmPFN: 0x40400, pgdPFN: 0x40401), -KernelErrno.EINVAL)  // misaligned PGD
            XCTAssertEqual(m.createGuest(vmPFN: 0x40400, pgdPFN: 0x40402), 0x1000)
            for p: UInt64 in 0x40500..<0x40508 { XCTAssertEqual(m.topUpGuestMemcache(guest: 0x1000, pfn: p), 0) }
            var x: UInt64 = 7
            func next() -> UInt64 {
                x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return x
            }
            func pfn() -> UInt64 {
                switch next() % 6 {
                case 0: return next()  // anything
                case 1: return (next() >> 20) | (1 << 40)  // beyond the PA size
                case 2: return 0x9000 + next() % 16  // MMIO
                default: return 0x40600 + next() % 64  // RAM
                }
            }
            func pages() -> UInt64 {
                switch next() % 4 {
                case 0: return next()  // wraps size
                case 1: return 0
                default: return 1 + next() % 4
                }
            }
            for _ in 0..<3000 {
                let g = UInt32(truncatingIfNeeded: next() % 3 == 0 ? next() : 0x1000)
                let prot = Prot(rawValue: next() % 2 == 0 ? next() : next() % 8)
                let t: Transition
                switch next() % 15 {
                case 0: t = .shareHyp(pfn: pfn())
                case 1: t = .unshareHyp(pfn: pfn())
                case 2: t = .donateHyp(pfn: pfn(), pages: pages())
                case 3: t = .donateHost(pfn: pfn(), pages: pages())
                case 4: t = .shareFFA(pfn: pfn(), pages: pages())
                case 5: t = .unshareFFA(pfn: pfn(), pages: pages())
                case 6: t = .shareGuest(pfn: pfn(), gfn: next() % 3 == 0 ? next() : next() % 64, guest: g, prot: prot)
                case 7: t = .unshareGuest(gfn: next() % 3 == 0 ? next() : next() % 64, guest: g)
                case 8: t = .relaxPerms(gfn: next(), guest: g, prot: prot)
                case 9: t = .wrprotect(gfn: next() % 64, guest: g)
                case 10: t = .testClearYoung(gfn: next(), guest: g, mkold: true)
                case 11: t = .mkyoung(gfn: next(), guest: g)
                case 12: t = .pin(pfn: pfn(), pages: pages())
                case 13: t = .hostFault(addr: next() % 4 == 0 ? next() : pfn() << 12)
                default: t = .topUp(guest: g, pfn: pfn())
                }
                let r = m.apply(t)
                XCTAssertTrue(r <= 1, "\(s) \(t): \(r)")
            }
            // Donations of wrapped or empty ranges may legally leave odd states (the kernel does the same);
            // the pages the model tracks must still have exactly one owner.
            for pfn: UInt64 in 0x40600..<0x40640 {
                if let v = m.checkInvariants(phys: pfn << 12), v.what.contains("owners") { XCTFail("\(s): \(v)") }
            }
        }
    }
}
