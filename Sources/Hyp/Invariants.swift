import Mem
import Pgtable

/// A broken ownership invariant: the page and what is wrong.
public struct InvariantViolation: Sendable, Equatable, CustomStringConvertible {
    public let phys: UInt64
    public let what: String
    public var description: String { "page 0x\(String(phys, radix: 16)): \(what)" }
}

/// Collects a guest's SHARED_BORROWED leaves by the PA they map.
struct BorrowedVisitor: PgtableVisitor {
    let layout: PageStateLayout
    let map: MemoryMap
    var borrowed: [UInt64: UInt32] = [:]
    var other: [UInt64] = []

    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        guard ctx.old.isValid else { return 0 }
        let pa = ctx.old.outputAddress(granule: .k4, format: .kernel(granule: .k4, lpa2: false))
        if StateCheckVisitor.state(.guest, layout, map, ctx.old, ctx.addr) == .sharedBorrowed {
            borrowed[pa, default: 0] += 1
        } else {
            other.append(pa)
        }
        return 0
    }
}

/// The pKVM ownership invariants (the "ghost state" checks), evaluated on the machine's real state.
extension PKVMMachine {
    /// Checks the invariants of one page:
    /// - memory has exactly one owner (host OWNED/SHARED_OWNED or hyp OWNED/SHARED_OWNED; the model's
    ///   non-protected guests only borrow);
    /// - a host SHARED_OWNED page has exactly one kind of borrower: the hyp (SHARED_BORROWED at `__hyp_va`),
    ///   guests (`host_share_guest_count` > 0) or FF-A; a hyp SHARED_BORROWED page is host SHARED_OWNED;
    /// - a hyp-owned page is annotated `PKVM_ID_HYP` in the host stage-2 and never host-mapped;
    /// - MMIO: with `vmemmap` storage and no device sharing, the host has NOPAGE and the host stage-2 keeps no
    ///   state bits for it.
    public func checkInvariants(phys: UInt64) -> InvariantViolation? {
        let p = phys & ~0xfff
        let leaf = try? host.getLeaf(p)
        if !memoryMap.isMemory(p) {
            if storage == .vmemmap && !config.deviceSharing {
                if hostState(p) != .noPage { return .init(phys: p, what: "MMIO not NOPAGE for the host") }
                if let l = leaf, l.pte.isValid, l.pte.rawValue & PageStateLayout.protMask.mask != 0 {
                    return .init(phys: p, what: "MMIO host PTE carries state bits \(l.pte)")
                }
            }
            return nil
        }
        guard let hs = hostState(p) else { return .init(phys: p, what: "host state has the reserved encoding") }
        guard let ys = hypState(p) else { return .init(phys: p, what: "hyp state has the reserved encoding") }
        let owners = (hs == .owned || hs == .sharedOwned ? 1 : 0) + (ys == .owned || ys == .sharedOwned ? 1 : 0)
        if owners != 1 { return .init(phys: p, what: "\(owners) owners (host \(hs), hyp \(ys))") }
        let count = shareGuestCount(p >> 12)
        let ffa = ffaShared[p >> 12] ?? 0
        if hs == .sharedOwned {
            let kinds = (ys == .sharedBorrowed ? 1 : 0) + (count > 0 ? 1 : 0) + (ffa > 0 ? 1 : 0)
            if kinds != 1 {
                return .init(
                    phys: p,
                    what: "host SHARED_OWNED with \(kinds) kinds of borrower (hyp \(ys), guests \(count), ffa \(ffa))")
            }
        } else if ys == .sharedBorrowed || count > 0 || ffa > 0 {
            return .init(phys: p, what: "borrowed (hyp \(ys), guests \(count), ffa \(ffa)) but host \(hs)")
        }
        if ys == .owned || ys == .sharedOwned {
            guard let l = leaf, !l.pte.isValid, l.pte[Descriptor.ownerID] == UInt64(Self.idHyp) else {
                return .init(phys: p, what: "hyp-owned but host stage-2 entry \(leaf.map { "\($0.pte)" } ?? "?")")
            }
        }
        return nil
    }

    /// How many guest SHARED_BORROWED mappings point at each PA, or the first guest mapping that is not
    /// SHARED_BORROWED (the model's guests only borrow).
    public func guestBorrowCounts() -> ([UInt64: UInt32], InvariantViolation?) {
        var total: [UInt64: UInt32] = [:]
        for g in guests {
            var v = BorrowedVisitor(layout: layout, map: memoryMap)
            _ = try? g.s2.walk(0, size: g.s2.geometry.inputSize, flags: .leaf, visitor: &v)
            if let pa = v.other.first {
                return (total, .init(phys: pa, what: "guest \(g.handle) maps it other than SHARED_BORROWED"))
            }
            for (pa, n) in v.borrowed { total[pa, default: 0] += n }
        }
        return (total, nil)
    }

    /// Checks every RAM page, plus that each guest's SHARED_BORROWED mappings of a page number exactly its
    /// `host_share_guest_count`, and that guests map nothing else.
    public func checkAllInvariants() -> InvariantViolation? {
        for r in vmemmap.pfnRanges {
            for pfn in r { if let v = checkInvariants(phys: pfn << 12) { return v } }
        }
        let (total, bad) = guestBorrowCounts()
        if let bad { return bad }
        for r in vmemmap.pfnRanges {
            for pfn in r where total[pfn << 12, default: 0] != shareGuestCount(pfn) {
                return .init(
                    phys: pfn << 12,
                    what:
                        "host_share_guest_count \(shareGuestCount(pfn)) but \(total[pfn << 12, default: 0]) guest mapping(s)"
                )
            }
        }
        return nil
    }
}
