import Pgtable

/// The visitor of `check_page_state_range` (`__check_page_state_visitor`): each leaf the walk reaches must
/// be in `desired` state, else -EPERM. The state of an entry is read as the kernel's `*_get_page_state`.
@usableFromInline
struct StateCheckVisitor: PgtableVisitor {
    /// Which `get_page_state` function.
    @usableFromInline
    enum Regime {
        /// v6.13 `host_get_page_state(pte, addr)`: not allowed memory or an owner annotation → NOPAGE.
        case host
        /// The host's MMIO state in PTE software bits (device-sharing option): annotations → NOPAGE.
        case hostDevice
        /// `hyp_get_page_state`: invalid → NOPAGE, else the stage-1 software bits.
        case hyp
        /// `guest_get_page_state`: invalid → NOPAGE, else the stage-2 software bits.
        case guest
    }

    @usableFromInline let regime: Regime
    @usableFromInline let layout: PageStateLayout
    @usableFromInline let map: MemoryMap
    @usableFromInline let desired: PageState

    @inlinable
    init(regime: Regime, layout: PageStateLayout, map: MemoryMap, desired: PageState) {
        self.regime = regime
        self.layout = layout
        self.map = map
        self.desired = desired
    }

    /// The state `pte` at `addr` records.
    @inlinable
    static func state(_ regime: Regime, _ layout: PageStateLayout, _ map: MemoryMap, _ pte: Descriptor, _ addr: UInt64)
        -> PageState?
    {
        switch regime {
        case .host, .hostDevice:
            if regime == .host && !map.isAllowedMemory(addr) { return .noPage }
            if !pte.isValid && pte.rawValue != 0 { return .noPage }
            return layout.state(ofPTEProt: Stage2Attributes.prot(of: pte))
        case .hyp, .guest:
            if !pte.isValid { return .noPage }
            return layout.state(ofPTEProt: Prot(rawValue: pte.rawValue & Descriptor.sw.mask))
        }
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        Self.state(regime, layout, map, ctx.old, ctx.addr) == desired ? 0 : -KernelErrno.EPERM
    }
}
