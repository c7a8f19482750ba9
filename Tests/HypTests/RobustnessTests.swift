import Foundation
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

/// Every transition kind with every bad-input class that applies to it, on both storages, with and without
/// CONFIG_NVHE_EL2_DEBUG: the kernel's return value, the kernel's WARNs and nothing else changed (every byte
/// of RAM, vmemmap, pools and tables included, the FF-A and guest share counts, the guests and their
/// memcaches, the pools' BUG counts). Expected errnos are read from v6.14
/// `arch/arm64/kvm/hyp/nvhe/mem_protect.c` (host state in the vmemmap) and, for the host checks of the `pte`
/// storage, v6.13's `__host_check_page_state_range` (a `kvm_pgtable_walk` of the host stage 2 with
/// `host_get_page_state(pte, addr)`: not allowed memory or an owner annotation is `PKVM_NOPAGE`); unknown
/// guests from v6.14 `hyp-main.c` (each handler starts with `int ret = -EINVAL` and jumps out when
/// `get_np_pkvm_hyp_vm` / `pkvm_get_loaded_hyp_vcpu` finds none).
///
/// Classes: "range" = beyond the 40-bit PA/IPA size or wrapping; "MMIO" = outside RAM; "state" = the page is
/// not in the state the transition needs; "guest" = unknown guest handle; "arg" = a bad prot. "Unaligned" has
/// no row: the hypercall ABI takes frame numbers (`PKVMMachine.pfn(ofAddress:)` refuses an unaligned address,
/// `testUnalignedAddressNamesIt`), and `handle_host_mem_abort` builds the fault address from HPFAR_EL2, page
/// aligned by construction.
final class InvalidRequestTableTests: XCTestCase {
    /// RAM 0x4000_0000-0x4080_0000 (PFNs 0x40000-0x407ff; the carve-out takes the top 569 pages).
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 8 << 20)]
    static let guest: UInt32 = 0x1000
    static let owned: UInt64 = 0x40100  // host OWNED
    static let hypShared: UInt64 = 0x40101  // host SHARED_OWNED, hyp SHARED_BORROWED
    static let ffa: UInt64 = 0x40102  // host SHARED_OWNED with FF-A, hyp NOPAGE
    static let guestShared: UInt64 = 0x40103  // shared with guest 0x1000 at gfn 0x80
    static let pinned: UInt64 = 0x40104  // shared with the hyp and pinned once
    static let donated: UInt64 = 0x40200  // hyp OWNED, host NOPAGE
    static let beyondPA: UInt64 = 1 << 30  // PA 2^42 > BIT(40)
    static let wrapsToZero: UInt64 = 1 << 52  // hyp_pfn_to_phys(pfn) = pfn << 12 wraps to PA 0 (MMIO)
    static let mmio: UInt64 = 0x9000  // PA 0x0900_0000, below RAM

    /// Everything a transition could touch.
    struct Snapshot: Equatable {
        let regions: [MemRegion]
        let bytes: [Data]
        let ffaShared: [UInt64: Int]
        let pteShareCounts: [UInt64: UInt32]
        let guests: [[UInt64]]
        let storage: HostStateStorage
        let layout: PageStateLayout
        let bugs: [Int]

        init(_ m: PKVMMachine) throws {
            regions = m.mem.regions
            bytes = try m.mem.regions.map { r in
                Data(bytes: try m.mem.pointer(r.base, size: r.size), count: Int(r.size))
            }
            ffaShared = m.ffaShared
            pteShareCounts = m.pteShareCounts
            guests = m.guests.map {
                [UInt64($0.handle), UInt64($0.vmid), $0.pgd.rawValue, $0.pool.memcache?.head ?? 0,
                 UInt64($0.pool.memcache?.count ?? -1)]
            }
            storage = m.storage
            layout = m.layout
            bugs = [m.hypPool.bugs, m.hostPool.bugs] + m.guests.map(\.pool.bugs)
        }
    }

    func machine(_ storage: HostStateStorage, debug: Bool) throws -> PKVMMachine {
        var config = PKVMConfig(storage: storage, ram: Self.ram)
        config.debug = debug
        let m = try PKVMMachine(config)
        XCTAssertEqual(m.createGuest(vmPFN: 0x40010, pgdPFN: 0x40012), Int32(Self.guest))
        for p: UInt64 in 0x40020..<0x40024 { XCTAssertEqual(m.topUpGuestMemcache(guest: Self.guest, pfn: p), 0) }
        XCTAssertEqual(m.hostShareHyp(pfn: Self.hypShared), 0)
        XCTAssertEqual(m.hostShareHyp(pfn: Self.pinned), 0)
        XCTAssertEqual(m.hypPinSharedMem(pfn: Self.pinned, pages: 1), 0)
        XCTAssertEqual(m.hostDonateHyp(pfn: Self.donated, pages: 1), 0)
        XCTAssertEqual(m.hostShareFFA(pfn: Self.ffa, pages: 1), 0)
        XCTAssertEqual(m.hostShareGuest(pfn: Self.guestShared, gfn: 0x80, guest: Self.guest, prot: .rw), 0)
        XCTAssertEqual(m.warnings, 0, m.lastWarning)
        return m
    }

    /// One bad request: kind, class, the request, the errno name for `pte` and for `vmemmap` storage, and the
    /// kernel code that returns it. `warns`: the kernel WARNs (the model counts it) and changes nothing else;
    /// `debugWarns`: more WARNs under CONFIG_NVHE_EL2_DEBUG (`assert_host_shared_guest`'s `WARN_ON(ret && ret !=
    /// -ENOENT)` of a gfn `kvm_pgtable_get_leaf` refuses).
    struct Row {
        let kind: String
        let bad: String
        let request: Transition
        let pte: String
        let vmemmap: String
        let source: String
        var warns = 0
        var debugWarns = 0
    }

    static let g = guest
    static let rows: [Row] = [
        // __pkvm_host_share_hyp: __host_check_page_state_range(phys, PAGE_SIZE, PKVM_PAGE_OWNED) first.
        // v6.14: check_range_allowed_memory: no region -> -EPERM; v6.13: kvm_pgtable_walk: -ERANGE past BIT(ia_bits).
        Row(kind: "share_hyp", bad: "range", request: .shareHyp(pfn: beyondPA), pte: "-ERANGE", vmemmap: "-EPERM",
            source: "__host_check_page_state_range"),
        Row(kind: "share_hyp", bad: "range", request: .shareHyp(pfn: wrapsToZero), pte: "-EPERM", vmemmap: "-EPERM",
            source: "hyp_pfn_to_phys wraps to PA 0: MMIO"),
        Row(kind: "share_hyp", bad: "MMIO", request: .shareHyp(pfn: mmio), pte: "-EPERM", vmemmap: "-EPERM",
            source: "check_range_allowed_memory / host_get_page_state: !addr_is_allowed_memory"),
        Row(kind: "share_hyp", bad: "state", request: .shareHyp(pfn: hypShared), pte: "-EPERM", vmemmap: "-EPERM",
            source: "host state SHARED_OWNED != OWNED"),
        Row(kind: "share_hyp", bad: "state", request: .shareHyp(pfn: donated), pte: "-EPERM", vmemmap: "-EPERM",
            source: "host state NOPAGE (annotated hyp-owned) != OWNED"),
        // __pkvm_host_unshare_hyp: host SHARED_OWNED, then hyp SHARED_BORROWED, then hyp_page_count -> -EBUSY.
        Row(kind: "unshare_hyp", bad: "range", request: .unshareHyp(pfn: beyondPA), pte: "-ERANGE", vmemmap: "-EPERM",
            source: "__host_check_page_state_range"),
        Row(kind: "unshare_hyp", bad: "MMIO", request: .unshareHyp(pfn: mmio), pte: "-EPERM", vmemmap: "-EPERM",
            source: "__host_check_page_state_range"),
        Row(kind: "unshare_hyp", bad: "state", request: .unshareHyp(pfn: owned), pte: "-EPERM", vmemmap: "-EPERM",
            source: "host state OWNED != SHARED_OWNED"),
        Row(kind: "unshare_hyp", bad: "state", request: .unshareHyp(pfn: ffa), pte: "-EPERM", vmemmap: "-EPERM",
            source: "__hyp_check_page_state_range: hyp NOPAGE != SHARED_BORROWED"),
        Row(kind: "unshare_hyp", bad: "state", request: .unshareHyp(pfn: pinned), pte: "-EBUSY", vmemmap: "-EBUSY",
            source: "hyp_page_count(virt) != 0"),
        // __pkvm_host_donate_hyp: host OWNED over PAGE_SIZE * nr_pages.
        Row(kind: "donate_hyp", bad: "range", request: .donateHyp(pfn: beyondPA, pages: 1), pte: "-ERANGE",
            vmemmap: "-EPERM", source: "__host_check_page_state_range"),
        Row(kind: "donate_hyp", bad: "range", request: .donateHyp(pfn: 0x3ffff, pages: 2), pte: "-EPERM",
            vmemmap: "-EINVAL",
            source: "straddles MMIO/RAM: check_range_allowed_memory end - 1 outside the range -> -EINVAL; v6.13 walk: "
                + "first page NOPAGE -> -EPERM"),
        Row(kind: "donate_hyp", bad: "MMIO", request: .donateHyp(pfn: mmio, pages: 1), pte: "-EPERM", vmemmap: "-EPERM",
            source: "__host_check_page_state_range"),
        Row(kind: "donate_hyp", bad: "state", request: .donateHyp(pfn: owned, pages: 2), pte: "-EPERM",
            vmemmap: "-EPERM", source: "second page SHARED_OWNED != OWNED: nothing donated"),
        Row(kind: "donate_hyp", bad: "state", request: .donateHyp(pfn: donated, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "host NOPAGE != OWNED"),
        // __pkvm_hyp_donate_host: __hyp_check_page_state_range(virt, size, PKVM_PAGE_OWNED) over the hyp stage 1
        // (48-bit VA, hyp VA = PA + 2^47): both storages alike.
        Row(kind: "donate_host", bad: "range", request: .donateHost(pfn: beyondPA, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "hyp VA 2^47 + 2^42 unmapped: hyp_get_page_state NOPAGE != OWNED"),
        Row(kind: "donate_host", bad: "range", request: .donateHost(pfn: 1 << 36, pages: 1), pte: "-ERANGE",
            vmemmap: "-ERANGE", source: "hyp VA 2^48 + 2^47 > BIT(48): kvm_pgtable_walk -ERANGE"),
        Row(kind: "donate_host", bad: "MMIO", request: .donateHost(pfn: mmio, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "hyp NOPAGE != OWNED"),
        Row(kind: "donate_host", bad: "state", request: .donateHost(pfn: owned, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "hyp NOPAGE != OWNED"),
        Row(kind: "donate_host", bad: "state", request: .donateHost(pfn: hypShared, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "hyp SHARED_BORROWED != OWNED"),
        Row(kind: "donate_host", bad: "state", request: .donateHost(pfn: donated, pages: 2), pte: "-EPERM",
            vmemmap: "-EPERM", source: "second page not hyp-owned: nothing given back"),
        // __pkvm_host_share_ffa / __pkvm_host_unshare_ffa: __host_check_page_state_range only.
        Row(kind: "share_ffa", bad: "range", request: .shareFFA(pfn: beyondPA, pages: 1), pte: "-ERANGE",
            vmemmap: "-EPERM", source: "__host_check_page_state_range"),
        Row(kind: "share_ffa", bad: "range", request: .shareFFA(pfn: 0x3ffff, pages: 2), pte: "-EPERM",
            vmemmap: "-EINVAL", source: "straddles MMIO/RAM (check_range_allowed_memory)"),
        Row(kind: "share_ffa", bad: "MMIO", request: .shareFFA(pfn: mmio, pages: 1), pte: "-EPERM", vmemmap: "-EPERM",
            source: "__host_check_page_state_range"),
        Row(kind: "share_ffa", bad: "state", request: .shareFFA(pfn: ffa, pages: 1), pte: "-EPERM", vmemmap: "-EPERM",
            source: "host SHARED_OWNED != OWNED"),
        Row(kind: "share_ffa", bad: "state", request: .shareFFA(pfn: owned, pages: 2), pte: "-EPERM",
            vmemmap: "-EPERM", source: "second page SHARED_OWNED: nothing shared, no FF-A count"),
        Row(kind: "unshare_ffa", bad: "range", request: .unshareFFA(pfn: beyondPA, pages: 1), pte: "-ERANGE",
            vmemmap: "-EPERM", source: "__host_check_page_state_range"),
        Row(kind: "unshare_ffa", bad: "MMIO", request: .unshareFFA(pfn: mmio, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "__host_check_page_state_range"),
        Row(kind: "unshare_ffa", bad: "state", request: .unshareFFA(pfn: owned, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "host OWNED != SHARED_OWNED"),
        Row(kind: "unshare_ffa", bad: "state", request: .unshareFFA(pfn: donated, pages: 1), pte: "-EPERM",
            vmemmap: "-EPERM", source: "host NOPAGE != SHARED_OWNED"),
        // __pkvm_host_share_guest (v6.14 code over both storages): prot & ~RWX -> -EINVAL,
        // check_range_allowed_memory(phys) -> -EPERM / -EINVAL, __guest_check_page_state_range(NOPAGE),
        // then the host state: OWNED, or SHARED_OWNED with a guest count, else -EPERM.
        Row(kind: "share_guest", bad: "guest", request: .shareGuest(pfn: owned, gfn: 1, guest: 0x1005, prot: .r),
            pte: "-EINVAL", vmemmap: "-EINVAL", source: "handle___pkvm_host_share_guest: no vcpu"),
        Row(kind: "share_guest", bad: "arg", request: .shareGuest(pfn: owned, gfn: 1, guest: g, prot: .sw0),
            pte: "-EINVAL", vmemmap: "-EINVAL", source: "prot & ~KVM_PGTABLE_PROT_RWX"),
        Row(kind: "share_guest", bad: "range", request: .shareGuest(pfn: beyondPA, gfn: 1, guest: g, prot: .r),
            pte: "-EPERM", vmemmap: "-EPERM", source: "check_range_allowed_memory: no region"),
        Row(kind: "share_guest", bad: "range", request: .shareGuest(pfn: owned, gfn: 1 << 30, guest: g, prot: .r),
            pte: "-ERANGE", vmemmap: "-ERANGE", source: "__guest_check_page_state_range: IPA 2^42 > BIT(40)"),
        Row(kind: "share_guest", bad: "MMIO", request: .shareGuest(pfn: mmio, gfn: 1, guest: g, prot: .r),
            pte: "-EPERM", vmemmap: "-EPERM", source: "check_range_allowed_memory: MMIO"),
        Row(kind: "share_guest", bad: "state", request: .shareGuest(pfn: donated, gfn: 1, guest: g, prot: .r),
            pte: "-EPERM", vmemmap: "-EPERM", source: "host_state NOPAGE: default -> -EPERM"),
        Row(kind: "share_guest", bad: "state", request: .shareGuest(pfn: hypShared, gfn: 1, guest: g, prot: .r),
            pte: "-EPERM", vmemmap: "-EPERM",
            source: "SHARED_OWNED without host_share_guest_count: WARN_ON(1), -EPERM", warns: 1),
        Row(kind: "share_guest", bad: "state", request: .shareGuest(pfn: owned, gfn: 0x80, guest: g, prot: .r),
            pte: "-EPERM", vmemmap: "-EPERM", source: "gfn mapped: guest SHARED_BORROWED != NOPAGE"),
        // __pkvm_host_unshare_guest -> __check_host_shared_guest: kvm_pgtable_get_leaf, -ENOENT if invalid.
        Row(kind: "unshare_guest", bad: "guest", request: .unshareGuest(gfn: 0x80, guest: 7), pte: "-EINVAL",
            vmemmap: "-EINVAL", source: "handle___pkvm_host_unshare_guest: get_np_pkvm_hyp_vm NULL"),
        Row(kind: "unshare_guest", bad: "range", request: .unshareGuest(gfn: 1 << 30, guest: g), pte: "-ERANGE",
            vmemmap: "-ERANGE", source: "kvm_pgtable_get_leaf: -ERANGE"),
        Row(kind: "unshare_guest", bad: "state", request: .unshareGuest(gfn: 0x81, guest: g), pte: "-ENOENT",
            vmemmap: "-ENOENT", source: "!kvm_pte_valid(pte)"),
        // __pkvm_host_relax_perms_guest: prot & ~RWX -> -EINVAL; kvm_pgtable_stage2_relax_perms (walk flags 0).
        Row(kind: "relax_perms", bad: "guest", request: .relaxPerms(gfn: 0x80, guest: 0x1001, prot: .x),
            pte: "-EINVAL", vmemmap: "-EINVAL", source: "handle___pkvm_host_relax_perms_guest: no vcpu"),
        Row(kind: "relax_perms", bad: "arg", request: .relaxPerms(gfn: 0x80, guest: g, prot: .device), pte: "-EINVAL",
            vmemmap: "-EINVAL", source: "prot & ~KVM_PGTABLE_PROT_RWX"),
        Row(kind: "relax_perms", bad: "range", request: .relaxPerms(gfn: 1 << 30, guest: g, prot: .x), pte: "-ERANGE",
            vmemmap: "-ERANGE", source: "stage2_update_leaf_attrs -> kvm_pgtable_walk -ERANGE", debugWarns: 1),
        Row(kind: "relax_perms", bad: "state", request: .relaxPerms(gfn: 0x81, guest: g, prot: .x), pte: "0",
            vmemmap: "0", source: "unmapped gfn: stage2_attr_walker's -EAGAIN ignored without HANDLE_FAULT"),
        // __pkvm_host_wrprotect_guest: kvm_pgtable_stage2_wrprotect.
        Row(kind: "wrprotect", bad: "guest", request: .wrprotect(gfn: 0x80, guest: 0), pte: "-EINVAL",
            vmemmap: "-EINVAL", source: "handle___pkvm_host_wrprotect_guest: get_np_pkvm_hyp_vm NULL"),
        Row(kind: "wrprotect", bad: "range", request: .wrprotect(gfn: 1 << 30, guest: g), pte: "-ERANGE",
            vmemmap: "-ERANGE", source: "stage2_update_leaf_attrs -> kvm_pgtable_walk -ERANGE", debugWarns: 1),
        Row(kind: "wrprotect", bad: "state", request: .wrprotect(gfn: 0x81, guest: g), pte: "0", vmemmap: "0",
            source: "unmapped gfn: -EAGAIN ignored without HANDLE_FAULT"),
        // __pkvm_host_test_clear_young_guest: kvm_pgtable_stage2_test_clear_young WARN_ON(kvm_pgtable_walk(...))
        // and returns data.young (false).
        Row(kind: "test_clear_young", bad: "guest", request: .testClearYoung(gfn: 0x80, guest: 0x2000, mkold: true),
            pte: "-EINVAL", vmemmap: "-EINVAL", source: "handle___pkvm_host_test_clear_young_guest: no VM"),
        Row(kind: "test_clear_young", bad: "range", request: .testClearYoung(gfn: 1 << 30, guest: g, mkold: true),
            pte: "0", vmemmap: "0", source: "WARN_ON(-ERANGE), young = false", warns: 1, debugWarns: 1),
        Row(kind: "test_clear_young", bad: "state", request: .testClearYoung(gfn: 0x81, guest: g, mkold: true),
            pte: "0", vmemmap: "0", source: "unmapped gfn: not young"),
        // __pkvm_host_mkyoung_guest: kvm_pgtable_stage2_mkyoung is void; the hypercall returns 0.
        Row(kind: "mkyoung", bad: "guest", request: .mkyoung(gfn: 0x80, guest: 0x1001), pte: "-EINVAL",
            vmemmap: "-EINVAL", source: "handle___pkvm_host_mkyoung_guest: no vcpu"),
        Row(kind: "mkyoung", bad: "range", request: .mkyoung(gfn: 1 << 30, guest: g), pte: "0", vmemmap: "0",
            source: "stage2_update_leaf_attrs' -ERANGE dropped", debugWarns: 1),
        Row(kind: "mkyoung", bad: "state", request: .mkyoung(gfn: 0x81, guest: g), pte: "0", vmemmap: "0",
            source: "unmapped gfn: nothing to mark"),
        // hyp_pin_shared_mem: host SHARED_OWNED, then hyp SHARED_BORROWED, over the whole range.
        Row(kind: "pin", bad: "range", request: .pin(pfn: beyondPA, pages: 1), pte: "-ERANGE", vmemmap: "-EPERM",
            source: "__host_check_page_state_range"),
        Row(kind: "pin", bad: "MMIO", request: .pin(pfn: mmio, pages: 1), pte: "-EPERM", vmemmap: "-EPERM",
            source: "__host_check_page_state_range"),
        Row(kind: "pin", bad: "state", request: .pin(pfn: owned, pages: 1), pte: "-EPERM", vmemmap: "-EPERM",
            source: "host OWNED != SHARED_OWNED"),
        Row(kind: "pin", bad: "state", request: .pin(pfn: hypShared, pages: 2), pte: "-EPERM", vmemmap: "-EPERM",
            source: "second page (FF-A share) hyp NOPAGE != SHARED_BORROWED: no refcount raised"),
        // hyp_unpin_shared_mem is void; hyp_page_ref_dec of a zero count is a BUG_ON (the model warns, stops).
        Row(kind: "unpin", bad: "state", request: .unpin(pfn: owned, pages: 1), pte: "0", vmemmap: "0",
            source: "hyp_page_ref_dec: BUG_ON(!p->refcount)", warns: 1),
        // host_stage2_idmap (handle_host_mem_abort): host_stage2_adjust_range.
        Row(kind: "host_fault", bad: "range", request: .hostFault(addr: 1 << 42), pte: "-ERANGE", vmemmap: "-ERANGE",
            source: "kvm_pgtable_get_leaf: -ERANGE"),
        Row(kind: "host_fault", bad: "state", request: .hostFault(addr: donated << 12), pte: "-EPERM",
            vmemmap: "-EPERM", source: "owner annotation: if (pte) return -EPERM"),
        Row(kind: "host_fault", bad: "state", request: .hostFault(addr: 0x4030_0000), pte: "-EAGAIN",
            vmemmap: "-EAGAIN", source: "kvm_pte_valid(pte): -EAGAIN"),
        // The memcache top-up (pkvm_refill_memcache -> __pkvm_host_donate_hyp of one page).
        Row(kind: "topup", bad: "guest", request: .topUp(guest: 0x1001, pfn: owned), pte: "-EINVAL",
            vmemmap: "-EINVAL", source: "no such VM"),
        Row(kind: "topup", bad: "range", request: .topUp(guest: g, pfn: beyondPA), pte: "-ERANGE", vmemmap: "-EPERM",
            source: "__pkvm_host_donate_hyp"),
        Row(kind: "topup", bad: "MMIO", request: .topUp(guest: g, pfn: mmio), pte: "-EPERM", vmemmap: "-EPERM",
            source: "__pkvm_host_donate_hyp"),
        Row(kind: "topup", bad: "state", request: .topUp(guest: g, pfn: donated), pte: "-EPERM", vmemmap: "-EPERM",
            source: "__pkvm_host_donate_hyp: host NOPAGE"),
    ]

    func testEveryKindAndBadInputChangesNothing() throws {
        for storage in HostStateStorage.allCases {
            for debug in [false, true] { try run(storage, debug: debug) }
        }
    }

    func run(_ storage: HostStateStorage, debug: Bool) throws {
        let m = try machine(storage, debug: debug)
        XCTAssertEqual(m.hostFault(0x4030_0000), 0)
        // No row may change anything, so each is compared with the state before the first.
        let before = try Snapshot(m)
        for row in Self.rows {
            let context = "\(storage)\(debug ? " debug" : "") \(row.kind) [\(row.bad)] \(row.request) (\(row.source))"
            let warnings = m.warnings
            let r = m.apply(row.request)
            XCTAssertEqual(KernelErrno.name(r), storage == .pte ? row.pte : row.vmemmap, context)
            let warned = m.warnings - warnings
            XCTAssertEqual(warned, row.warns + (debug ? row.debugWarns : 0), "\(context): \(m.lastWarning)")
            XCTAssertEqual(try Snapshot(m), before, "\(context): state changed")
        }
        XCTAssertNil(m.checkAllInvariants(), "\(storage)")
    }

    /// Every transition kind has a row (`topup` included).
    func testEveryKindHasARow() {
        XCTAssertEqual(Set(Self.rows.map(\.kind)), Set(Transition.names))
        for row in Self.rows { XCTAssertEqual(Transition.names[row.request.kind], row.kind) }
    }

    /// An address where the ABI takes a frame number: the error names it.
    func testUnalignedAddressNamesIt() {
        XCTAssertThrowsError(try PKVMMachine.pfn(ofAddress: 0x4000_0010)) { e in
            XCTAssertEqual((e as? HypError)?.description, "address 0x40000010 is not page aligned")
        }
    }
}
