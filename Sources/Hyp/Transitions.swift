import Mem
import Pgtable

/// The ownership transitions of `mem_protect.c` (v6.14 code; the host-state accesses go through the
/// machine's storage, so over `pte` storage they behave as v6.13's did), plus the hyp-side helpers.
/// Each returns the kernel function's return value. Addresses are PFNs / GFNs as in the hypercall ABI.
extension PKVMMachine {
    // MARK: hyp and guest state checks

    /// `__hyp_check_page_state_range`: walk the hyp stage-1 over `[va, va+size)`.
    func hypCheckPageStateRange(_ va: UInt64, size: UInt64, _ state: PageState) -> Int32 {
        var v = StateCheckVisitor(regime: .hyp, layout: layout, map: memoryMap, desired: state)
        do throws(PgtableError) {
            return try hyp.pgt.walk(mem: mem, addr: va, size: size, flags: .leaf, visitor: &v)
        } catch { return errno(error) }
    }

    /// `__guest_check_page_state_range`.
    func guestCheckPageStateRange(_ g: Guest, _ ipa: UInt64, size: UInt64, _ state: PageState) -> Int32 {
        var v = StateCheckVisitor(regime: .guest, layout: layout, map: memoryMap, desired: state)
        do { return try g.s2.walk(ipa, size: size, flags: .leaf, visitor: &v) } catch { return errno(error) }
    }

    /// `pkvm_create_mappings_locked`: map `[va, va+size)` page by page to `__hyp_pa`.
    func pkvmCreateMappingsLocked(_ va: UInt64, size: UInt64, prot: Prot) -> Int32 {
        var a = va
        while a < va &+ size {
            do throws(PgtableError) {
                try hyp.map(a, size: Self.page, phys: a &+ config.hypPhysVirtOffset, prot: prot)
            } catch { return errno(error) }
            a &+= Self.page
        }
        return 0
    }

    /// `kvm_pgtable_hyp_unmap`: bytes unmapped.
    func hypUnmap(_ va: UInt64, size: UInt64) -> UInt64 {
        (try? hyp.unmap(va, size: size)) ?? 0
    }

    // MARK: host <-> hyp

    /// `__pkvm_host_share_hyp(pfn)`: host OWNED → SHARED_OWNED, hyp maps the page SHARED_BORROWED.
    public func hostShareHyp(pfn: UInt64) -> Int32 {
        let phys = pfn << 12
        let va = hypVA(phys)
        var r = hostCheckPageStateRange(phys, size: Self.page, .owned)
        if r != 0 { return r }
        if config.debug {
            r = hypCheckPageStateRange(va, size: Self.page, .noPage)
            if r != 0 { return r }
        }
        let prot = (try? layout.mkstate(Self.pageHyp, .sharedBorrowed)) ?? Self.pageHyp
        if pkvmCreateMappingsLocked(va, size: Self.page, prot: prot) != 0 { warn("share_hyp: hyp map") }
        if hostSetPageStateRange(phys, size: Self.page, .sharedOwned) != 0 { warn("share_hyp: host state") }
        return 0
    }

    /// `__pkvm_host_unshare_hyp(pfn)`: needs host SHARED_OWNED, hyp SHARED_BORROWED and no hyp pin
    /// (`hyp_page_count`, else -EBUSY); unmaps the hyp side, host back to OWNED.
    public func hostUnshareHyp(pfn: UInt64) -> Int32 {
        let phys = pfn << 12
        let va = hypVA(phys)
        var r = hostCheckPageStateRange(phys, size: Self.page, .sharedOwned)
        if r != 0 { return r }
        if config.transitionCode == .v613 { return v613HostUnshareHyp(pfn: pfn) }
        r = hypCheckPageStateRange(va, size: Self.page, .sharedBorrowed)
        if r != 0 { return r }
        if vmemmap.refcount(pfn) != 0 { return -KernelErrno.EBUSY }
        if hypUnmap(va, size: Self.page) != Self.page { warn("unshare_hyp: hyp unmap") }
        if hostSetPageStateRange(phys, size: Self.page, .owned) != 0 { warn("unshare_hyp: host state") }
        return 0
    }

    /// The rest of v6.13's `do_unshare` after the host check: `hyp_ack_unshare` (-EBUSY if pinned; the hyp
    /// state only under `CONFIG_NVHE_EL2_DEBUG`), then `host_initiate_unshare` and `hyp_complete_unshare`
    /// (-EFAULT if nothing was unmapped), a failure returned as `WARN_ON(ret)` = 1.
    func v613HostUnshareHyp(pfn: UInt64) -> Int32 {
        let phys = pfn << 12
        let va = hypVA(phys)
        if vmemmap.refcount(pfn) != 0 { return -KernelErrno.EBUSY }
        if config.debug {
            let r = hypCheckPageStateRange(va, size: Self.page, .sharedBorrowed)
            if r != 0 { return r }
        }
        var r = hostSetPageStateRange(phys, size: Self.page, .owned)
        if r == 0 && hypUnmap(va, size: Self.page) != Self.page { r = -KernelErrno.EFAULT }
        if r != 0 {
            warn("do_unshare: \(KernelErrno.name(r))")
            return 1
        }
        return 0
    }

    /// `__pkvm_host_donate_hyp(pfn, nr_pages)`: host OWNED pages become hyp OWNED (mapped in the hyp
    /// stage-1, annotated `PKVM_ID_HYP` in the host stage-2).
    public func hostDonateHyp(pfn: UInt64, pages: UInt64) -> Int32 {
        let phys = pfn << 12
        let size = Self.page &* pages
        let va = hypVA(phys)
        var r = hostCheckPageStateRange(phys, size: size, .owned)
        if r != 0 { return r }
        if config.debug {
            r = hypCheckPageStateRange(va, size: size, .noPage)
            if r != 0 { return r }
        }
        let prot = (try? layout.mkstate(Self.pageHyp, .owned)) ?? Self.pageHyp
        if pkvmCreateMappingsLocked(va, size: size, prot: prot) != 0 { warn("donate_hyp: hyp map") }
        if hostStage2SetOwnerLocked(phys, size: size, owner: Self.idHyp) != 0 { warn("donate_hyp: set owner") }
        return 0
    }

    /// `__pkvm_hyp_donate_host(pfn, nr_pages)`: hyp OWNED pages go back to the host.
    public func hypDonateHost(pfn: UInt64, pages: UInt64) -> Int32 {
        let phys = pfn << 12
        let size = Self.page &* pages
        let va = hypVA(phys)
        var r = hypCheckPageStateRange(va, size: size, .owned)
        if r != 0 { return r }
        if config.debug {
            r = hostCheckPageStateRange(phys, size: size, .noPage)
            if r != 0 { return r }
        }
        if hypUnmap(va, size: size) != size { warn("donate_host: hyp unmap") }
        if hostStage2SetOwnerLocked(phys, size: size, owner: Self.idHost) != 0 { warn("donate_host: set owner") }
        return 0
    }

    /// `hyp_pin_shared_mem(from, to)` over `pages` pages: the host must have them SHARED_OWNED and the hyp
    /// SHARED_BORROWED; each page's `hyp_page` refcount is raised, which makes `hostUnshareHyp` -EBUSY.
    public func hypPinSharedMem(pfn: UInt64, pages: UInt64) -> Int32 {
        let phys = pfn << 12
        let size = Self.page &* pages
        var r = hostCheckPageStateRange(phys, size: size, .sharedOwned)
        if r != 0 { return r }
        r = hypCheckPageStateRange(hypVA(phys), size: size, .sharedBorrowed)
        if r != 0 { return r }
        for i in 0..<Self.pagesUpTo(hypVA(phys), size) {
            let p = pfn &+ i
            let rc = vmemmap.refcount(p)
            if rc == UInt16.max { warn("hyp_page_ref_inc overflow (BUG_ON)") } else { vmemmap.setRefcount(p, rc + 1) }
        }
        return 0
    }

    /// The pages `for (cur = start; cur < end; cur += PAGE_SIZE)` visits in `hyp_pin_shared_mem` /
    /// `hyp_unpin_shared_mem` for `end = start + size`: none when the end wraps past 2^64.
    static func pagesUpTo(_ start: UInt64, _ size: UInt64) -> UInt64 {
        start &+ size < start ? 0 : size >> 12
    }

    /// `hyp_unpin_shared_mem`: drops the references `hypPinSharedMem` took. A zero count is the kernel's
    /// `BUG_ON` in `hyp_page_ref_dec`, where the hypervisor stops: counted as a warning, and the loop stops
    /// there too (so a huge page count ends at the first unpinned page instead of running for ever).
    public func hypUnpinSharedMem(pfn: UInt64, pages: UInt64) {
        for i in 0..<Self.pagesUpTo(hypVA(pfn << 12), Self.page &* pages) {
            let p = pfn &+ i
            let rc = vmemmap.refcount(p)
            if rc == 0 {
                warn("hyp_page_ref_dec of a zero count (BUG_ON)")
                return
            }
            vmemmap.setRefcount(p, rc - 1)
        }
    }

    // MARK: FF-A

    /// `__pkvm_host_share_ffa(pfn, nr_pages)`: host OWNED → SHARED_OWNED (the borrower is the secure world).
    public func hostShareFFA(pfn: UInt64, pages: UInt64) -> Int32 {
        let phys = pfn << 12
        let size = Self.page &* pages
        var r = hostCheckPageStateRange(phys, size: size, .owned)
        if r == 0 { r = hostSetPageStateRange(phys, size: size, .sharedOwned) }
        if r == 0 { for i in 0..<Self.pagesVisited(phys, size: size) { ffaShared[pfn &+ i, default: 0] += 1 } }
        return r
    }

    /// Pages a kernel loop `for (cur = phys; cur < phys + size; cur += PAGE_SIZE)` visits: none when
    /// `phys + size` wraps past 2^64 (a `PAGE_SIZE * nr_pages` that overflowed), as the state checks and
    /// `__host_set_page_state_range` before it visit none.
    @inlinable
    static func pagesVisited(_ phys: UInt64, size: UInt64) -> UInt64 {
        phys &+ size > phys ? size >> 12 : 0
    }

    /// `__pkvm_host_unshare_ffa(pfn, nr_pages)`: host SHARED_OWNED → OWNED.
    public func hostUnshareFFA(pfn: UInt64, pages: UInt64) -> Int32 {
        let phys = pfn << 12
        let size = Self.page &* pages
        var r = hostCheckPageStateRange(phys, size: size, .sharedOwned)
        if r == 0 { r = hostSetPageStateRange(phys, size: size, .owned) }
        if r == 0 {
            for i in 0..<Self.pagesVisited(phys, size: size) {
                let p = pfn &+ i
                if let n = ffaShared[p], n > 1 { ffaShared[p] = n - 1 } else { ffaShared[p] = nil }
            }
        }
        return r
    }

    // MARK: host <-> guest (v6.14)

    /// `__pkvm_host_share_guest(pfn, gfn, vcpu, prot)`: map host page `pfn` at `gfn` in the guest,
    /// SHARED_BORROWED; host OWNED → SHARED_OWNED, or stays SHARED_OWNED if already shared with guests;
    /// `host_share_guest_count` + 1. Unknown guest: -EINVAL (hyp-main's handler).
    public func hostShareGuest(pfn: UInt64, gfn: UInt64, guest handle: UInt32, prot: Prot) -> Int32 {
        guard let g = guest(handle) else { return -KernelErrno.EINVAL }
        let phys = pfn << 12
        let ipa = gfn << 12
        if !prot.isSubset(of: .rwx) { return -KernelErrno.EINVAL }
        var r = memoryMap.checkRangeAllowedMemory(phys, phys &+ Self.page)
        if r != 0 { return r }
        r = guestCheckPageStateRange(g, ipa, size: Self.page, .noPage)
        if r != 0 { return r }
        switch hostState(phys) {
        case .owned:
            if hostSetPageStateRange(phys, size: Self.page, .sharedOwned) != 0 { warn("share_guest: host state") }
        case .sharedOwned where shareGuestCount(pfn) != 0:
            break
        case .sharedOwned:
            warn("share_guest: only host to np-guest multi-sharing is tolerated")
            return -KernelErrno.EPERM
        default:
            return -KernelErrno.EPERM
        }
        let gprot = (try? layout.mkstate(prot, .sharedBorrowed)) ?? prot
        do { try g.s2.map(ipa, size: Self.page, phys: phys, prot: gprot) } catch { warn("share_guest: map \(error)") }
        setShareGuestCount(pfn, shareGuestCount(pfn) &+ 1)
        return 0
    }

    /// `__check_host_shared_guest`: the guest leaf at `ipa` must be a valid last-level SHARED_BORROWED
    /// mapping (-ENOENT, -E2BIG, -EPERM) of a host SHARED_OWNED page with a non-zero count.
    func checkHostSharedGuest(_ g: Guest, _ ipa: UInt64) -> (Int32, UInt64) {
        let leaf: (pte: Descriptor, level: Int)
        do { leaf = try g.s2.getLeaf(ipa) } catch { return (errno(error), 0) }
        if !leaf.pte.isValid { return (-KernelErrno.ENOENT, 0) }
        if leaf.level != Granule.lastLevel { return (-KernelErrno.E2BIG, 0) }
        if StateCheckVisitor.state(.guest, layout, memoryMap, leaf.pte, ipa) != .sharedBorrowed {
            return (-KernelErrno.EPERM, 0)
        }
        let phys = leaf.pte.outputAddress(granule: g.s2.geometry.granule, format: g.s2.geometry.format)
        let r = memoryMap.checkRangeAllowedMemory(phys, phys &+ Self.page)
        if r != 0 {
            warn("check_host_shared_guest: not memory")
            return (r, 0)
        }
        if hostState(phys) != .sharedOwned { return (-KernelErrno.EPERM, 0) }
        if shareGuestCount(phys >> 12) == 0 {
            warn("check_host_shared_guest: zero share count")
            return (-KernelErrno.EINVAL, 0)
        }
        return (0, phys)
    }

    /// `__pkvm_host_unshare_guest(gfn, vm)`: unmap `gfn`; count − 1; at zero the host page is OWNED again.
    public func hostUnshareGuest(gfn: UInt64, guest handle: UInt32) -> Int32 {
        guard let g = guest(handle) else { return -KernelErrno.EINVAL }
        let ipa = gfn << 12
        let (r, phys) = checkHostSharedGuest(g, ipa)
        if r != 0 { return r }
        do { try g.s2.unmap(ipa, size: Self.page) } catch { return errno(error) }
        let n = shareGuestCount(phys >> 12) &- 1
        setShareGuestCount(phys >> 12, n)
        if n == 0 && hostSetPageStateRange(phys, size: Self.page, .owned) != 0 { warn("unshare_guest: host state") }
        return 0
    }

    /// `assert_host_shared_guest` (CONFIG_NVHE_EL2_DEBUG only): warn unless the mapping checks out.
    func assertHostSharedGuest(_ g: Guest, _ ipa: UInt64) {
        guard config.debug else { return }
        let (r, _) = checkHostSharedGuest(g, ipa)
        if r != 0 && r != -KernelErrno.ENOENT { warn("assert_host_shared_guest: \(KernelErrno.name(r))") }
    }

    /// `__pkvm_host_relax_perms_guest(gfn, vcpu, prot)`: add R/W/X to the leaf at `gfn` (walk flags 0, so an
    /// unmapped `gfn` gives 0).
    public func hostRelaxPermsGuest(gfn: UInt64, guest handle: UInt32, prot: Prot) -> Int32 {
        guard let g = guest(handle) else { return -KernelErrno.EINVAL }
        if !prot.isSubset(of: .rwx) { return -KernelErrno.EINVAL }
        assertHostSharedGuest(g, gfn << 12)
        do { try g.s2.relaxPerms(gfn << 12, prot: prot, walkFlags: []) } catch { return errno(error) }
        return 0
    }

    /// `__pkvm_host_wrprotect_guest(gfn, vm)`.
    public func hostWrprotectGuest(gfn: UInt64, guest handle: UInt32) -> Int32 {
        guard let g = guest(handle) else { return -KernelErrno.EINVAL }
        assertHostSharedGuest(g, gfn << 12)
        do { try g.s2.wrprotect(gfn << 12, size: Self.page) } catch { return errno(error) }
        return 0
    }

    /// `__pkvm_host_test_clear_young_guest(gfn, mkold, vm)`: 1 if the access flag was set (cleared when
    /// `mkold`), else 0. `kvm_pgtable_stage2_test_clear_young` returns a bool: a failed walk (a gfn beyond
    /// the IPA size) is its `WARN_ON(kvm_pgtable_walk(...))` and "not young", never an errno.
    public func hostTestClearYoungGuest(gfn: UInt64, mkold: Bool, guest handle: UInt32) -> Int32 {
        guard let g = guest(handle) else { return -KernelErrno.EINVAL }
        assertHostSharedGuest(g, gfn << 12)
        do { return try g.s2.testClearYoung(gfn << 12, size: Self.page, mkold: mkold) ? 1 : 0 } catch {
            warn("test_clear_young: \(error)")
            return 0
        }
    }

    /// `__pkvm_host_mkyoung_guest(gfn, vcpu)`: set the access flag (walk flags 0); always 0.
    public func hostMkyoungGuest(gfn: UInt64, guest handle: UInt32) -> Int32 {
        guard let g = guest(handle) else { return -KernelErrno.EINVAL }
        assertHostSharedGuest(g, gfn << 12)
        _ = try? g.s2.updateLeafAttributes(gfn << 12, size: 1, set: Descriptor.af.mask, clear: 0)
        return 0
    }

    // MARK: guests

    /// `__pkvm_init_vm` as far as memory goes: the host donates the VM page and the PGD pages to the hyp,
    /// `vm->pool` is initialised over the PGD and the stage-2 root taken from it.
    /// - Returns: the new guest's handle (≥ 0x1000), or a negative errno from the donations.
    public func createGuest(vmPFN: UInt64, pgdPFN: UInt64, ipaBits: Int = 40) -> Int32 {
        guard let geometry = try? Geometry.kernelStage2(granule: .k4, ipaBits: ipaBits) else {
            return -KernelErrno.EINVAL
        }
        let pgdPages = UInt64(geometry.rootPages)
        // The host allocates the PGD with alloc_pages_exact: naturally aligned. A misaligned one would make
        // hyp_alloc_pages() fail and the kernel dereference NULL; refuse it instead.
        guard pgdPFN % pgdPages == 0 else { return -KernelErrno.EINVAL }
        var r = hostDonateHyp(pfn: vmPFN, pages: 1)
        if r != 0 { return r }
        r = hostDonateHyp(pfn: pgdPFN, pages: pgdPages)
        if r != 0 {
            _ = hypDonateHost(pfn: vmPFN, pages: 1)
            return r
        }
        guard
            let pool = try? HypPool(
                vmemmap: vmemmap, pfn: pgdPFN, pages: Int(pgdPages), headsAt: PhysAddr(vmPFN << 12),
                physVirtOffset: config.hypPhysVirtOffset)
        else { return -KernelErrno.EINVAL }
        pool.memcache = HypMemcache()
        guard
            let s2 = try? Stage2Table(
                mm: pool, geometry: geometry, flags: config.guestFWB ? [] : [.noFWB], forcePTE: { _, _, _ in true })
        else { return -KernelErrno.ENOMEM }
        let handle = Guest.handleOffset + UInt32(guests.count)
        guests.append(
            Guest(
                handle: handle, vmid: UInt16(guests.count + 1), vmPage: PhysAddr(vmPFN << 12), pgd: s2.root, pool: pool,
                s2: s2))
        return Int32(handle)
    }

    /// `pkvm_refill_memcache` for one page (`admit_host_page`): the host donates `pfn` to the hyp and it is
    /// pushed on the guest's memcache.
    public func topUpGuestMemcache(guest handle: UInt32, pfn: UInt64) -> Int32 {
        guard let g = guest(handle) else { return -KernelErrno.EINVAL }
        let r = hostDonateHyp(pfn: pfn, pages: 1)
        if r != 0 { return r }
        do throws(MemError) { try g.pool.memcache?.push(PhysAddr(pfn << 12), mem: mem) } catch { warn("\(error)") }
        return 0
    }
}
