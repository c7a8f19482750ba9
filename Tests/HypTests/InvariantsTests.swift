import Mem
import Pgtable
import XCTest

@testable import Hyp

/// The ownership invariants catch corrupted states; the device-sharing option keeps MMIO state in PTEs.
final class InvariantsTests: XCTestCase {
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]

    func testCleanMachineHolds() throws {
        for s in HostStateStorage.allCases {
            let m = try PKVMMachine(PKVMConfig(storage: s, ram: Self.ram))
            XCTAssertEqual(m.hostShareHyp(pfn: 0x40000), 0)
            XCTAssertEqual(m.hostShareFFA(pfn: 0x40001, pages: 1), 0)
            XCTAssertNil(m.checkAllInvariants())
        }
    }

    /// A hyp-owned page whose vmemmap says the host owns it has two owners.
    func testTwoOwnersCaught() throws {
        let m = try PKVMMachine(PKVMConfig(storage: .vmemmap, ram: Self.ram))
        XCTAssertEqual(m.hostDonateHyp(pfn: 0x40000, pages: 1), 0)
        m.vmemmap.setHostState(0x40000, 0)
        XCTAssertEqual(m.checkInvariants(phys: 0x4000_0000)?.what, "2 owners (host OWNED, hyp OWNED)")
    }

    /// A host SHARED_OWNED page nobody borrows.
    func testUnborrowedShareCaught() throws {
        let m = try PKVMMachine(PKVMConfig(storage: .pte, ram: Self.ram))
        try m.host.map(0x4000_0000, size: 0x1000, phys: 0x4000_0000, prot: [.r, .w, .x, .sw0])
        XCTAssertEqual(
            m.checkInvariants(phys: 0x4000_0000)?.what,
            "host SHARED_OWNED with 0 kinds of borrower (hyp NOPAGE, guests 0, ffa 0)")
    }

    /// A guest-share count that no guest mapping backs.
    func testShareCountMismatchCaught() throws {
        let m = try PKVMMachine(PKVMConfig(storage: .vmemmap, ram: Self.ram))
        XCTAssertEqual(m.createGuest(vmPFN: 0x40400, pgdPFN: 0x40402), 0x1000)
        XCTAssertEqual(m.topUpGuestMemcache(guest: 0x1000, pfn: 0x40500), 0)
        XCTAssertEqual(m.topUpGuestMemcache(guest: 0x1000, pfn: 0x40501), 0)
        XCTAssertEqual(m.hostShareGuest(pfn: 0x40010, gfn: 1, guest: 0x1000, prot: .rw), 0)
        XCTAssertNil(m.checkAllInvariants())
        m.vmemmap.setShareGuestCount(0x40010, 2)
        XCTAssertEqual(m.checkAllInvariants()?.what, "host_share_guest_count 2 but 1 guest mapping(s)")
    }

    /// MMIO state bits in the host stage-2 of a v6.14 machine without device sharing are a violation.
    func testMMIOStateBitsCaught() throws {
        let m = try PKVMMachine(PKVMConfig(storage: .vmemmap, ram: Self.ram))
        XCTAssertNil(m.checkInvariants(phys: 0x0900_0000))
        try m.host.map(0x0900_0000, size: 0x1000, phys: 0x0900_0000, prot: [.r, .w, .sw0])
        XCTAssertEqual(m.checkInvariants(phys: 0x0900_0000)?.what, "MMIO host PTE carries state bits 0xc00000090007ff")
    }

    /// Device sharing: the host's state of MMIO lives in the host stage-2 SW bits (page mapping, RW,
    /// `pkvm_mkstate(PKVM_HOST_MMIO_PROT, state)`); without it MMIO is NOPAGE (-EPERM).
    func testDeviceSharing() throws {
        let plain = try PKVMMachine(PKVMConfig(storage: .vmemmap, ram: Self.ram))
        XCTAssertEqual(plain.hostShareFFA(pfn: 0x9000, pages: 1), -KernelErrno.EPERM)
        var c = PKVMConfig(storage: .vmemmap, ram: Self.ram)
        c.deviceSharing = true
        let m = try PKVMMachine(c)
        XCTAssertEqual(m.hostState(0x0900_0000), .owned)
        XCTAssertEqual(m.hostShareFFA(pfn: 0x9000, pages: 1), 0)
        XCTAssertEqual(m.hostState(0x0900_0000), .sharedOwned)
        // MemAttr normal (NOFWB 0xf) | S2AP RW | SH IS | AF | page | XN (bit 54) | SW0 (bit 55).
        XCTAssertEqual(try m.host.getLeaf(0x0900_0000).pte.rawValue, 0x00C0_0000_0900_07FF)
        XCTAssertEqual(m.hostShareFFA(pfn: 0x9000, pages: 1), -KernelErrno.EPERM)
        XCTAssertEqual(m.hostUnshareFFA(pfn: 0x9000, pages: 1), 0)
        XCTAssertEqual(try m.host.getLeaf(0x0900_0000).pte.rawValue, 0x0040_0000_0900_07FF)
        XCTAssertNil(m.checkInvariants(phys: 0x0900_0000))
        // A range straddling MMIO and RAM is still -EINVAL.
        XCTAssertEqual(m.hostShareFFA(pfn: 0x3ffff, pages: 2), -KernelErrno.EINVAL)
    }
}
