import Mem
import Pgtable
import XCTest

@testable import Hyp

/// Scripted sequences on a 64 MiB machine (RAM 0x4000_0000-0x4400_0000, 40-bit PA, hyp VA = PA + 2^47).
/// Expected addresses and descriptors are derived by hand from the kernel source: carve-out sizing
/// (`__hyp_pgtable_max_pages`, `host_s2_pgtable_pages`), `hyp_pool_init` buddies, `hyp_alloc_pages` order,
/// `stage2_set_prot_attr` / `hyp_set_prot_attr` bits and the transitions of `mem_protect.c`.
final class PKVMMachineTests: XCTestCase {
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]

    func machine(_ storage: HostStateStorage, debug: Bool = false) throws -> PKVMMachine {
        var c = PKVMConfig(storage: storage, ram: Self.ram)
        c.debug = debug
        return try PKVMMachine(c)
    }

    func word(_ m: PKVMMachine, _ a: UInt64) throws -> UInt64 { try m.mem.read64(PhysAddr(a)) }

    /// Carve-out: 1 page of list heads + 32 vmemmap pages (16384 pages x 8 bytes) + hpool 36+16 = 52 pages
    /// + host pool 36+16+516 = 568 pages = 653 pages, ending at the top of RAM.
    func testBootLayout() throws {
        for s in HostStateStorage.allCases {
            let m = try machine(s)
            XCTAssertEqual(m.carveOut.base, 0x43D7_3000, "\(s)")
            XCTAssertEqual(m.carveOut.size, 653 * 0x1000)
            XCTAssertEqual(m.hypPool.rangeStart, PhysAddr(0x43D9_4000))
            XCTAssertEqual(m.hostPool.rangeStart, PhysAddr(0x43DC_8000))
            // host_s2_pool: 0x43DC8 (o3) 0x43DD0 (o4) 0x43DE0 (o5) 0x43E00 (o9); the 2-page root is the
            // order-1 split of 0x43DC8.
            XCTAssertEqual(m.host.root, PhysAddr(0x43DC_8000))
            XCTAssertEqual(m.host.geometry.startLevel, 1)
            XCTAssertEqual(m.hyp.root, PhysAddr(0x43D9_4000))  // hpool: order-2 block 0x43D94 split to 0
            // fix_host_ownership: root[1] -> L2 0x43DCA; L2[0x1e] -> L3 0x43DCB, L2[0x1f] -> L3 0x43DCC;
            // owner annotations FIELD_PREP(KVM_INVALID_PTE_OWNER_MASK, PKVM_ID_HYP) = 0x4.
            XCTAssertEqual(try word(m, 0x43DC_8008), 0x43DC_A003)
            XCTAssertEqual(try word(m, 0x43DC_A000 + 0x1e * 8), 0x43DC_B003)
            XCTAssertEqual(try word(m, 0x43DC_A000 + 0x1f * 8), 0x43DC_C003)
            XCTAssertEqual(try word(m, 0x43DC_B000 + 0x172 * 8), 0)
            XCTAssertEqual(try word(m, 0x43DC_B000 + 0x173 * 8), 0x4)
            XCTAssertEqual(try word(m, 0x43DC_C000 + 511 * 8), 0x4)
            XCTAssertEqual(m.vmemmap.refcount(0x43DCB), 1 + 141)
            XCTAssertEqual(m.vmemmap.refcount(0x43DCC), 1 + 512)
            // Hyp stage-1: L0[0x100] -> 0x43D95, L1[1] -> 0x43D96, L2[0x1e] -> 0x43D97, L2[0x1f] -> 0x43D98;
            // PAGE_HYP leaf: XN | AF | SH=IS | AP=RW(1) | AttrIndx 0 | page.
            XCTAssertEqual(try word(m, 0x43D9_4000 + 0x100 * 8), 0x43D9_5003)
            XCTAssertEqual(try word(m, 0x43D9_5008), 0x43D9_6003)
            XCTAssertEqual(try word(m, 0x43D9_6000 + 0x1e * 8), 0x43D9_7003)
            XCTAssertEqual(try word(m, 0x43D9_6000 + 0x1f * 8), 0x43D9_8003)
            XCTAssertEqual(try word(m, 0x43D9_7000 + 0x173 * 8), 0x0040_0000_43D7_3743)
            if s == .vmemmap {
                XCTAssertEqual(m.vmemmap.hostState(0x43D73), 4)  // PKVM_NOPAGE
                XCTAssertEqual(m.vmemmap.hostState(0x43D72), 0)
            }
            XCTAssertEqual(m.hostState(0x43D7_3000), .noPage)
            XCTAssertEqual(m.hypState(0x43D7_3000), .owned)
            XCTAssertEqual(m.hostState(0x4000_0000), .owned)
        }
    }

    /// share_hyp / unshare_hyp of PFN 0x40000 (`__pkvm_host_share_hyp`, `__pkvm_host_unshare_hyp`).
    func testShareUnshareHyp() throws {
        for s in HostStateStorage.allCases {
            let m = try machine(s)
            XCTAssertEqual(m.hostShareHyp(pfn: 0x40000), 0)
            // hyp: L2[0] -> new L3 0x43D99 (after 0x43D98 split: list0 [0x43D99]); leaf PAGE_HYP | SW1.
            XCTAssertEqual(try word(m, 0x43D9_6000), 0x43D9_9003)
            XCTAssertEqual(try word(m, 0x43D9_9000), 0x0140_0000_4000_0743)
            XCTAssertEqual(m.hypState(0x4000_0000), .sharedBorrowed)
            XCTAssertEqual(m.hostState(0x4000_0000), .sharedOwned)
            switch s {
            case .vmemmap:
                XCTAssertEqual(m.vmemmap.bytes(0x40000), [0, 0, 0, 1, 0, 0, 0, 0])
                XCTAssertEqual(try word(m, 0x43DC_A000), 0)  // host stage-2 untouched
            case .pte:
                // v6.13: idmap with pkvm_mkstate(RWX, SHARED_OWNED), forced to a page: new L3 0x43DCD;
                // MemAttr normal (0xf, NOFWB) | S2AP RW | SH IS | AF | page | SW0.
                XCTAssertEqual(try word(m, 0x43DC_A000), 0x43DC_D003)
                XCTAssertEqual(try word(m, 0x43DC_D000), 0x0080_0000_4000_07FF)
            }
            XCTAssertEqual(m.hostShareHyp(pfn: 0x40000), -KernelErrno.EPERM)
            XCTAssertEqual(m.hostUnshareHyp(pfn: 0x40000), 0)
            XCTAssertEqual(try word(m, 0x43D9_6000), 0)  // the emptied L3 is freed (hyp_unmap_walker)
            XCTAssertEqual(m.hypPool.freeList(order: 0).last, PhysAddr(0x43D9_9000))
            XCTAssertEqual(m.hostState(0x4000_0000), .owned)
            if s == .pte { XCTAssertEqual(try word(m, 0x43DC_D000), 0x4000_07FF) }  // SW bits cleared in place
            XCTAssertEqual(m.hostUnshareHyp(pfn: 0x40000), -KernelErrno.EPERM)
            XCTAssertEqual(m.warnings, 0)
        }
    }

    /// A hyp pin (`hyp_pin_shared_mem`: hyp_page refcount) makes unshare -EBUSY until unpinned.
    func testUnsharePinnedIsBusy() throws {
        for s in HostStateStorage.allCases {
            let m = try machine(s)
            XCTAssertEqual(m.hypPinSharedMem(pfn: 0x40001, pages: 1), -KernelErrno.EPERM)
            XCTAssertEqual(m.hostShareHyp(pfn: 0x40001), 0)
            XCTAssertEqual(m.hypPinSharedMem(pfn: 0x40001, pages: 1), 0)
            XCTAssertEqual(m.vmemmap.refcount(0x40001), 1)
            XCTAssertEqual(m.hostUnshareHyp(pfn: 0x40001), -KernelErrno.EBUSY)
            m.hypUnpinSharedMem(pfn: 0x40001, pages: 1)
            XCTAssertEqual(m.hostUnshareHyp(pfn: 0x40001), 0)
            XCTAssertEqual(m.warnings, 0)
        }
    }

    /// CONFIG_NVHE_EL2_DEBUG adds the completer-side check: the hyp must have NOPAGE at the VA.
    func testDebugChecksCompleter() throws {
        for debug in [false, true] {
            let m = try machine(.vmemmap, debug: debug)
            try m.hyp.map(m.hypVA(0x4000_2000), size: 0x1000, phys: 0x4000_2000, prot: .r)
            XCTAssertEqual(m.hostShareHyp(pfn: 0x40002), debug ? -KernelErrno.EPERM : 0)
        }
    }

    /// donate_hyp / donate_host: hyp OWNED mapping; host annotation PKVM_ID_HYP, then back to the host.
    func testDonations() throws {
        for s in HostStateStorage.allCases {
            let m = try machine(s)
            XCTAssertEqual(m.hostDonateHyp(pfn: 0x40200, pages: 2), 0)
            XCTAssertEqual(m.hypState(0x4020_1000), .owned)
            XCTAssertEqual(m.hostState(0x4020_1000), .noPage)
            // host: root[1] -> L2 0x43DCA, L2[1] -> L3 (first free order-0 page of host_s2_pool: 0x43DCD)
            XCTAssertEqual(try word(m, 0x43DC_A008), 0x43DC_D003)
            XCTAssertEqual(try word(m, 0x43DC_D000), 0x4)
            XCTAssertEqual(try word(m, 0x43DC_D008), 0x4)
            XCTAssertEqual(try word(m, 0x43DC_D010), 0)
            XCTAssertEqual(m.hostFault(0x4020_1000), -KernelErrno.EPERM)
            XCTAssertEqual(m.hostShareHyp(pfn: 0x40200), -KernelErrno.EPERM)
            XCTAssertEqual(m.hypDonateHost(pfn: 0x40200, pages: 2), 0)
            XCTAssertEqual(try word(m, 0x43DC_D000), 0)
            XCTAssertEqual(m.hostState(0x4020_1000), .owned)
            XCTAssertEqual(m.hypState(0x4020_1000), .noPage)
            XCTAssertEqual(m.hypDonateHost(pfn: 0x40200, pages: 1), -KernelErrno.EPERM)
        }
    }

    /// host_stage2_idmap: an unmapped RAM address gets the largest block the memory map allows. RAM is
    /// 64 MiB at 1 GiB: no 1 GiB block fits, a 2 MiB one does (L2 block, RWX normal).
    func testHostFaultMapsBlock() throws {
        let m = try machine(.vmemmap)
        XCTAssertEqual(m.hostFault(0x4012_3456), 0)
        XCTAssertEqual(try word(m, 0x43DC_A000), 0x4000_07FD)  // block at L2[0]: 0x4000_0000 | attrs | valid
        XCTAssertEqual(m.hostFault(0x4012_3456), -KernelErrno.EAGAIN)
        // MMIO at 0x0900_0000: the gap [0, 0x4000_0000) allows a 1 GiB block, RW, XN (bit 54).
        XCTAssertEqual(m.hostFault(0x0900_0000), 0)
        XCTAssertEqual(try word(m, 0x43DC_8000), 0x0040_0000_0000_07FD)
    }

    /// Guest sharing (`__pkvm_host_share_guest` … `__pkvm_host_mkyoung_guest`), multi-sharing counted.
    func testGuestSharing() throws {
        for s in HostStateStorage.allCases {
            let m = try machine(s)
            let h = m.createGuest(vmPFN: 0x40400, pgdPFN: 0x40402)  // 40-bit IPA: 2 concatenated PGD pages
            XCTAssertEqual(h, 0x1000)
            let g = try XCTUnwrap(m.guest(UInt32(h)))
            XCTAssertEqual(g.pgd, PhysAddr(0x4040_2000))
            for p: UInt64 in [0x40500, 0x40501, 0x40502] {
                XCTAssertEqual(m.topUpGuestMemcache(guest: 0x1000, pfn: p), 0)
            }
            XCTAssertEqual(m.hostShareGuest(pfn: 0x40010, gfn: 0x80, guest: 0x1000, prot: .rw), 0)
            // Memcache is LIFO: L2 table from 0x40502, L3 table from 0x40501.
            XCTAssertEqual(try word(m, 0x4040_2000), 0x4050_2003)
            XCTAssertEqual(try word(m, 0x4050_2000), 0x4050_1003)
            // FWB normal (MemAttr 0x6) | S2AP RW | SH IS | AF | XN | SW1 (SHARED_BORROWED) | page.
            XCTAssertEqual(try word(m, 0x4050_1000 + 0x80 * 8), 0x0140_0000_4001_07DB)
            XCTAssertEqual(m.shareGuestCount(0x40010), 1)
            XCTAssertEqual(m.hostShareGuest(pfn: 0x40010, gfn: 0x81, guest: 0x1000, prot: .r), 0)
            XCTAssertEqual(m.shareGuestCount(0x40010), 2)
            XCTAssertEqual(m.hostShareGuest(pfn: 0x40010, gfn: 0x81, guest: 0x1000, prot: .r), -KernelErrno.EPERM)
            XCTAssertEqual(m.hostShareGuest(pfn: 0x40011, gfn: 0x82, guest: 0x1000, prot: .device), -KernelErrno.EINVAL)
            XCTAssertEqual(m.hostShareGuest(pfn: 0x40011, gfn: 0x82, guest: 0x1001, prot: .r), -KernelErrno.EINVAL)
            XCTAssertEqual(m.hostShareHyp(pfn: 0x40010), -KernelErrno.EPERM)
            XCTAssertEqual(m.hostWrprotectGuest(gfn: 0x80, guest: 0x1000), 0)
            XCTAssertEqual(try word(m, 0x4050_1000 + 0x80 * 8), 0x0140_0000_4001_075B)
            XCTAssertEqual(m.hostRelaxPermsGuest(gfn: 0x80, guest: 0x1000, prot: .x), 0)
            XCTAssertEqual(try word(m, 0x4050_1000 + 0x80 * 8), 0x0100_0000_4001_075B)
            XCTAssertEqual(m.hostTestClearYoungGuest(gfn: 0x80, mkold: true, guest: 0x1000), 1)
            XCTAssertEqual(try word(m, 0x4050_1000 + 0x80 * 8), 0x0100_0000_4001_035B)
            XCTAssertEqual(m.hostTestClearYoungGuest(gfn: 0x80, mkold: true, guest: 0x1000), 0)
            XCTAssertEqual(m.hostMkyoungGuest(gfn: 0x80, guest: 0x1000), 0)
            XCTAssertEqual(try word(m, 0x4050_1000 + 0x80 * 8), 0x0100_0000_4001_075B)
            XCTAssertEqual(m.hostUnshareGuest(gfn: 0x90, guest: 0x1000), -KernelErrno.ENOENT)
            XCTAssertEqual(m.hostUnshareGuest(gfn: 0x80, guest: 0x1000), 0)
            XCTAssertEqual(m.hostState(0x4001_0000), .sharedOwned)
            XCTAssertEqual(m.hostUnshareGuest(gfn: 0x81, guest: 0x1000), 0)
            XCTAssertEqual(m.hostState(0x4001_0000), .owned)
            XCTAssertEqual(m.shareGuestCount(0x40010), 0)
            XCTAssertEqual(m.warnings, 0)
        }
    }

    /// Invalid requests return the kernel's errno and change no byte of memory.
    func testInvalidRequestsChangeNothing() throws {
        for s in HostStateStorage.allCases {
            let m = try machine(s)
            XCTAssertEqual(m.hostDonateHyp(pfn: 0x40600, pages: 1), 0)
            XCTAssertEqual(m.createGuest(vmPFN: 0x40400, pgdPFN: 0x40402), 0x1000)
            let straddle = s == .pte ? -KernelErrno.EPERM : -KernelErrno.EINVAL
            let before = try m.mem.read(PhysAddr(0x4000_0000), count: 64 << 20)
            let outOfIPA = s == .pte ? -KernelErrno.ERANGE : -KernelErrno.EPERM
            let cases: [(String, Int32, Int32)] = [
                ("MMIO share_hyp", m.hostShareHyp(pfn: 0x9000), -KernelErrno.EPERM),
                ("beyond PA share_hyp", m.hostShareHyp(pfn: 1 << 30), outOfIPA),
                ("hyp page share_ffa", m.hostShareFFA(pfn: 0x40600, pages: 1), -KernelErrno.EPERM),
                ("carve-out donate", m.hostDonateHyp(pfn: 0x43D80, pages: 1), -KernelErrno.EPERM),
                ("unowned donate_host", m.hypDonateHost(pfn: 0x40000, pages: 1), -KernelErrno.EPERM),
                ("unshare_ffa owned", m.hostUnshareFFA(pfn: 0x40000, pages: 4), -KernelErrno.EPERM),
                ("unknown guest", m.hostShareGuest(pfn: 0x40000, gfn: 0, guest: 0x1005, prot: .r), -KernelErrno.EINVAL),
                ("unknown guest wrprotect", m.hostWrprotectGuest(gfn: 0, guest: 7), -KernelErrno.EINVAL),
                (
                    "guest IPA beyond 40 bits", m.hostShareGuest(pfn: 0x40000, gfn: 1 << 30, guest: 0x1000, prot: .r),
                    -KernelErrno.ERANGE
                ),
                (
                    "unshare_guest IPA beyond 40 bits", m.hostUnshareGuest(gfn: 1 << 30, guest: 0x1000),
                    -KernelErrno.ERANGE
                ),
                (
                    "share_guest of MMIO", m.hostShareGuest(pfn: 0x9000, gfn: 1, guest: 0x1000, prot: .r),
                    -KernelErrno.EPERM
                ),
                (
                    "share_guest prot with SW bits", m.hostShareGuest(pfn: 0x40000, gfn: 1, guest: 0x1000, prot: .sw0),
                    -KernelErrno.EINVAL
                ),
                (
                    "relax_perms DEVICE", m.hostRelaxPermsGuest(gfn: 1, guest: 0x1000, prot: .device),
                    -KernelErrno.EINVAL
                ),
                ("straddling RAM/MMIO FF-A", m.hostShareFFA(pfn: 0x3ffff, pages: 2), straddle),
                ("hyp donate of hyp-unmapped range", m.hypDonateHost(pfn: 0x40600, pages: 2), -KernelErrno.EPERM),
                ("fault on a hyp-owned (annotated) page", m.hostFault(0x43D8_0000), -KernelErrno.EPERM),
            ]
            for (what, got, want) in cases { XCTAssertEqual(got, want, "\(s) \(what)") }
            let after = try m.mem.read(PhysAddr(0x4000_0000), count: 64 << 20)
            XCTAssertTrue(before == after, "\(s): memory changed")
        }
        XCTAssertThrowsError(try PKVMMachine.pfn(ofAddress: 0x4000_0010)) { e in
            XCTAssertEqual(e as? HypError, .unaligned(0x4000_0010))
        }
        XCTAssertEqual(try PKVMMachine.pfn(ofAddress: 0x4000_1000), 0x40001)
    }
}
