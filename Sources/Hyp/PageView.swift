import Mem
import Pgtable

/// The abstract state of pages as each component sees them (the ghost view the invariants and the
/// equivalence checker compare), read from wherever the storage keeps it.
extension PKVMMachine {
    /// The host's state of the page at `phys`: from the vmemmap (`vmemmap` storage; MMIO is NOPAGE unless
    /// device sharing is on) or from the host stage-2 leaf (`pte`: `host_get_page_state`). nil for the
    /// reserved encoding.
    public func hostState(_ phys: UInt64) -> PageState? {
        if hostStateInPTE(phys) {
            guard let leaf = try? host.getLeaf(phys) else { return .noPage }
            return StateCheckVisitor.state(
                storage == .pte ? .host : .hostDevice, layout, memoryMap, leaf.pte, phys)
        }
        guard let v = vmemmap.hostState(phys >> 12) else { return .noPage }
        return layout.state(ofValue: UInt64(v))
    }

    /// The hyp's state of the page at `phys` (its hyp stage-1 leaf at `__hyp_va(phys)`).
    public func hypState(_ phys: UInt64) -> PageState? {
        guard let leaf = try? hyp.getLeaf(hypVA(phys)) else { return .noPage }
        return StateCheckVisitor.state(.hyp, layout, memoryMap, leaf.pte, hypVA(phys))
    }

    /// A guest's state of the page at `ipa`, and the PA it maps.
    public func guestState(_ g: Guest, ipa: UInt64) -> (state: PageState?, phys: UInt64?) {
        guard let leaf = try? g.s2.getLeaf(ipa) else { return (.noPage, nil) }
        let s = StateCheckVisitor.state(.guest, layout, memoryMap, leaf.pte, ipa)
        guard leaf.pte.isValid else { return (s, nil) }
        let size = g.s2.geometry.granule.levelSize(leaf.level)
        let base = leaf.pte.outputAddress(granule: g.s2.geometry.granule, format: g.s2.geometry.format)
        return (s, base + (ipa & (size - 1) & ~0xfff))
    }
}
