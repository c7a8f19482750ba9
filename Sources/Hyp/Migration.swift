import Mem
import Pgtable

/// What a `pte` → `vmemmap` migration did.
public struct MigrationReport: Sendable, Equatable, CustomStringConvertible {
    /// A page whose host state could not be carried into the vmemmap, and why.
    public struct Uncarried: Sendable, Equatable {
        public let phys: UInt64
        public let reason: String
    }

    /// RAM pages whose host state was written into the vmemmap, by state.
    public var carried: [PageState: Int] = [:]
    /// Host stage-2 leaves whose SW0/SW1 bits were cleared.
    public var clearedPTEs = 0
    /// Pages that could not be carried.
    public var uncarried: [Uncarried] = []

    public var description: String {
        let states = PageState.allCases.map { "\($0)=\(carried[$0] ?? 0)" }.joined(separator: " ")
        var s = "carried \(states); cleared \(clearedPTEs) PTE(s); \(uncarried.count) page(s) not carried"
        for u in uncarried.prefix(16) { s += "\n  0x\(String(u.phys, radix: 16)): \(u.reason)" }
        return s
    }
}

/// Clears the host-state software bits of valid leaves (memory only when `keepMMIO`).
struct ClearStateBitsVisitor: PgtableVisitor {
    let map: MemoryMap
    let keepMMIO: Bool
    var cleared = 0
    var mmio: [UInt64] = []

    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        let mask = PageStateLayout.protMask.mask
        guard ctx.old.isValid, ctx.old.rawValue & mask != 0 else { return 0 }
        if !map.isMemory(ctx.addr) {
            if keepMMIO { return 0 }
            mmio.append(ctx.addr)
        }
        ctx.write(Descriptor(ctx.old.rawValue & ~mask))
        cleared += 1
        return 0
    }
}

/// Carries the host state of one RAM region's pages into the vmemmap from a single LEAF walk over the region:
/// each leaf's state is `host_get_page_state` of its entry (the same for all pages it maps inside one region,
/// whose `MEMBLOCK_NOMAP` is the same throughout), written as the new layout's value to the whole run of pages.
struct HostStateCarryVisitor: PgtableVisitor {
    let layout: PageStateLayout
    let newLayout: PageStateLayout
    let map: MemoryMap
    let vmemmap: Vmemmap
    let granule: Granule
    /// The region, `[start, end)`.
    let start: UInt64
    let end: UInt64
    /// Pages per state.
    var counts: (owned: Int, sharedOwned: Int, sharedBorrowed: Int, noPage: Int) = (0, 0, 0, 0)
    /// Pages with the reserved state encoding, lowest first.
    var reserved: [UInt64] = []

    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        let size = granule.levelSize(ctx.level)
        let lo = max(ctx.addr, start)
        let hi = min((ctx.addr & ~(size &- 1)) &+ size, end)
        guard lo < hi else { return 0 }
        let pages = Int(truncatingIfNeeded: (hi &- lo) >> 12)
        guard let s = StateCheckVisitor.state(.host, layout, map, ctx.old, lo) else {
            var a = lo
            while a < hi {
                reserved.append(a)
                a &+= 0x1000
            }
            return 0
        }
        switch s {
        case .owned: counts.owned += pages
        case .sharedOwned: counts.sharedOwned += pages
        case .sharedBorrowed: counts.sharedBorrowed += pages
        case .noPage: counts.noPage += pages
        }
        let v = UInt8(truncatingIfNeeded: newLayout.value(of: s))
        if v != 0 { vmemmap.setHostState((lo >> 12)..<(hi >> 12), v) }
        return 0
    }
}

extension PKVMMachine {
    /// Converts a live `pte` machine to `vmemmap` storage in place: each RAM page's host state is read from
    /// the host stage-2 (software bits, owner annotations: `host_get_page_state`), the vmemmap is rewritten
    /// from `struct hyp_page` v6.13 to v6.14 with that state and the `host_share_guest_count`, and the
    /// SW0/SW1 bits v6.14 no longer keeps are cleared from the host stage-2 leaves (in place: only software
    /// bits change, so no break-before-make, as `stage2_map_walker_try_leaf` does). Hyp stage-1 and guest
    /// stage-2 entries keep their bits: their encodings are identical in both layouts.
    ///
    /// Pages that cannot be carried are reported: the reserved state encoding, and host state kept in the
    /// PTEs of MMIO (the vmemmap covers memory only) unless `deviceSharing` is on, in which case those bits stay.
    /// - Throws: `HypError.invalidConfig` if the machine does not use `pte` storage.
    public func migrateToVmemmap(layout newLayout: PageStateLayout = .v614) throws(HypError) -> MigrationReport {
        guard storage == .pte else { throw .invalidConfig("migration needs a machine with pte storage") }
        var report = MigrationReport()
        let counts = pteShareCounts
        vmemmap.relayout(to: .v614)
        for (pfn, c) in counts { vmemmap.setShareGuestCount(pfn, c) }
        for range in vmemmap.pfnRanges {
            var carry = HostStateCarryVisitor(
                layout: layout, newLayout: newLayout, map: memoryMap, vmemmap: vmemmap, granule: host.geometry.granule,
                start: range.lowerBound << 12, end: range.upperBound << 12)
            if (try? host.walk(carry.start, size: carry.end - carry.start, flags: .leaf, visitor: &carry)) != nil {
                let c = carry.counts
                for (s, n) in [(PageState.owned, c.owned), (.sharedOwned, c.sharedOwned),
                    (.sharedBorrowed, c.sharedBorrowed), (.noPage, c.noPage)] where n > 0
                {
                    report.carried[s, default: 0] += n
                }
                for a in carry.reserved {
                    report.uncarried.append(.init(phys: a, reason: "reserved state encoding (SW0|SW1)"))
                }
                continue
            }
            // The walk stopped at a table outside memory: page by page, as `host_get_page_state` after a
            // failed `kvm_pgtable_get_leaf` (NOPAGE).
            for pfn in range {
                guard let s = hostState(pfn << 12) else {
                    report.uncarried.append(.init(phys: pfn << 12, reason: "reserved state encoding (SW0|SW1)"))
                    continue
                }
                report.carried[s, default: 0] += 1
                let v = UInt8(truncatingIfNeeded: newLayout.value(of: s))
                if v != 0 { vmemmap.setHostState(pfn, v) }
            }
        }
        var v = ClearStateBitsVisitor(map: memoryMap, keepMMIO: config.deviceSharing)
        do {
            _ = try host.walk(0, size: host.geometry.inputSize, flags: .leaf, visitor: &v)
        } catch { throw .pgtable(error) }
        report.clearedPTEs = v.cleared
        for a in v.mmio {
            report.uncarried.append(
                .init(phys: a, reason: "MMIO host state in PTE software bits (vmemmap covers memory only)"))
        }
        pteShareCounts = [:]
        storage = .vmemmap
        layout = newLayout
        return report
    }
}
