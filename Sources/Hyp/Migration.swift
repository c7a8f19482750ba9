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
        var states: [UInt64: UInt8] = [:]
        for range in vmemmap.pfnRanges {
            for pfn in range {
                let s = hostState(pfn << 12)
                guard let s else {
                    report.uncarried.append(.init(phys: pfn << 12, reason: "reserved state encoding (SW0|SW1)"))
                    continue
                }
                report.carried[s, default: 0] += 1
                let v = UInt8(truncatingIfNeeded: newLayout.value(of: s))
                if v != 0 { states[pfn] = v }
            }
        }
        let counts = pteShareCounts
        vmemmap.relayout(to: .v614) { pfn in
            if let v = states[pfn] { self.vmemmap.setHostState(pfn, v) }
            if let c = counts[pfn] { self.vmemmap.setShareGuestCount(pfn, c) }
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
