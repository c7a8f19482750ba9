import Mem
import Pgtable

/// The host stage-2 and the host's page state: `host_stage2_idmap*`, `host_stage2_try`,
/// `host_stage2_set_owner_locked`, `host_stage2_adjust_range`, `__host_check_page_state_range`,
/// `__host_set_page_state_range`, for both storages.
extension PKVMMachine {
    /// `host_stage2_try(fn)`: on -ENOMEM, unmap all MMIO (`host_stage2_unmap_dev_all`) and retry once.
    func hostStage2Try(_ fn: () -> Int32) -> Int32 {
        var r = fn()
        if r == -KernelErrno.ENOMEM {
            r = unmapDevAll()
            if r == 0 { r = fn() }
        }
        return r
    }

    /// `host_stage2_unmap_dev_all`: unmap every gap between RAM regions and everything above the last.
    func unmapDevAll() -> Int32 {
        var addr: UInt64 = 0
        do {
            for r in memoryMap.regions {
                try host.unmap(addr, size: r.base - addr)
                addr = r.end
            }
            try host.unmap(addr, size: host.geometry.inputSize - addr)
        } catch { return errno(error) }
        return 0
    }

    /// `host_stage2_idmap_locked`: identity-map `[addr, addr+size)` with `prot` (`kvm_pgtable_stage2_map`
    /// with the host pool as memcache), through `host_stage2_try`.
    func hostStage2IdmapLocked(_ addr: UInt64, size: UInt64, prot: Prot) -> Int32 {
        hostStage2Try {
            do throws(PgtableError) { try host.map(addr, size: size, phys: addr, prot: prot) } catch {
                return errno(error)
            }
            return 0
        }
    }

    /// `host_stage2_set_owner_locked`. v6.14 (`vmemmap`): -EPERM unless `addr` is memory, then the vmemmap
    /// state follows (HOST → OWNED, else NOPAGE). v6.13 (`pte`): the annotation alone.
    func hostStage2SetOwnerLocked(_ addr: UInt64, size: UInt64, owner: UInt8) -> Int32 {
        if storage == .vmemmap && !memoryMap.isMemory(addr) { return -KernelErrno.EPERM }
        let r = hostStage2Try {
            do throws(PgtableError) { try host.setOwner(addr, size: size, owner: owner) } catch { return errno(error) }
            return 0
        }
        guard r == 0 else { return r }
        if storage == .vmemmap {
            updateHostPageState(addr, size: size, owner == Self.idHost ? .owned : .noPage)
        }
        return 0
    }

    /// `__host_update_page_state`: write `state` into the vmemmap for every page of the range.
    func updateHostPageState(_ addr: UInt64, size: UInt64, _ state: PageState) {
        let v = UInt8(truncatingIfNeeded: layout.value(of: state))
        var a = addr
        while a < addr &+ size {
            vmemmap.setHostState(a >> 12, v)
            a &+= Self.page
        }
    }

    /// Whether the host's state at `addr` is kept in the PTE software bits: always with `pte` storage; with
    /// `vmemmap` only for MMIO under the device-sharing option.
    @inlinable
    func hostStateInPTE(_ addr: UInt64) -> Bool {
        storage == .pte || (config.deviceSharing && !memoryMap.isMemory(addr))
    }

    /// `__host_check_page_state_range`: 0 if every page of the range is in `state` for the host, else -EPERM
    /// (or the walk's / `check_range_allowed_memory`'s errno).
    func hostCheckPageStateRange(_ addr: UInt64, size: UInt64, _ state: PageState) -> Int32 {
        let end = addr &+ size
        if storage == .pte { return walkHostState(addr, size: size, .host, state) }
        let r = memoryMap.checkRangeAllowedMemory(addr, end)
        if r == -KernelErrno.EPERM && config.deviceSharing && memoryMap.find(addr).region == nil {
            return walkHostState(addr, size: size, .hostDevice, state)
        }
        guard r == 0 else { return r }
        let want = UInt8(truncatingIfNeeded: layout.value(of: state))
        var a = addr
        while a < end {
            if vmemmap.hostState(a >> 12) != want { return -KernelErrno.EPERM }
            a &+= Self.page
        }
        return 0
    }

    /// `check_page_state_range` over the host stage-2: each leaf of the range must record `state`.
    func walkHostState(_ addr: UInt64, size: UInt64, _ regime: StateCheckVisitor.Regime, _ state: PageState) -> Int32 {
        var v = StateCheckVisitor(regime: regime, layout: layout, map: memoryMap, desired: state)
        do { return try host.walk(addr, size: size, flags: .leaf, visitor: &v) } catch { return errno(error) }
    }

    /// `__host_set_page_state_range`. v6.14: map the range first if the host had no page there (NOPAGE),
    /// then update the vmemmap. v6.13: identity-map the range with `pkvm_mkstate(PKVM_HOST_MEM_PROT, state)`
    /// (page mappings, since `host_stage2_force_pte_cb` forces them for any other prot).
    func hostSetPageStateRange(_ addr: UInt64, size: UInt64, _ state: PageState) -> Int32 {
        if hostStateInPTE(addr) {
            let base = storage == .pte || memoryMap.isMemory(addr) ? Self.hostMemProt : Self.hostMMIOProt
            guard let prot = try? layout.mkstate(base, state) else { return -KernelErrno.EINVAL }
            return hostStage2IdmapLocked(addr, size: size, prot: prot)
        }
        if vmemmap.hostState(addr >> 12) == UInt8(truncatingIfNeeded: layout.noPage) {
            let r = hostStage2IdmapLocked(addr, size: size, prot: Self.hostMemProt)
            if r != 0 { return r }
        }
        updateHostPageState(addr, size: size, state)
        return 0
    }

    /// `host_stage2_adjust_range`: -EAGAIN if `addr` is already mapped, -EPERM if annotated; else narrow
    /// `range` to the largest block around `addr` that the entry's level and the range allow.
    func hostStage2AdjustRange(_ addr: UInt64, _ range: inout MemoryMap.Range) -> Int32 {
        let leaf: (pte: Descriptor, level: Int)
        do { leaf = try host.getLeaf(addr) } catch { return errno(error) }
        if leaf.pte.isValid { return -KernelErrno.EAGAIN }
        if leaf.pte.rawValue != 0 {
            if storage == .vmemmap && memoryMap.isMemory(addr)
                && vmemmap.hostState(addr >> 12) != UInt8(truncatingIfNeeded: layout.noPage)
            {
                warn("host_stage2_adjust_range: annotated page 0x\(String(addr, radix: 16)) not NOPAGE")
            }
            return -KernelErrno.EPERM
        }
        let granule = host.geometry.granule
        var level = leaf.level
        var cur = MemoryMap.Range(start: 0, end: 0)
        repeat {
            let size = granule.levelSize(level)
            cur.start = addr & ~(size &- 1)
            cur.end = cur.start &+ size
            level += 1
        } while level <= Granule.lastLevel
            && !(granule.supportsBlock(at: level) && range.start <= cur.start && cur.end <= range.end)
        range = cur
        return 0
    }

    /// `host_stage2_idmap` (the host's stage-2 fault handler, `handle_host_mem_abort`): map the largest
    /// block around `addr` that the memory map and the table allow, RWX for memory and RW for MMIO.
    /// - Returns: 0, -EAGAIN (already mapped), -EPERM (not the host's), or the map's errno.
    public func hostFault(_ addr: UInt64) -> Int32 {
        let (reg, r0) = memoryMap.find(addr)
        var range = r0
        let prot = reg != nil ? Self.hostMemProt : Self.hostMMIOProt
        let r = hostStage2AdjustRange(addr, &range)
        if r != 0 { return r }
        return hostStage2IdmapLocked(range.start, size: range.end - range.start, prot: prot)
    }
}
