import Mem

/// The visitor behind `kvm_pgtable_stage2_unmap` (`stage2_unmap_walker`).
@usableFromInline
struct Stage2UnmapVisitor<MM: PgtableMMOps>: PgtableVisitor {
    @usableFromInline let mm: MM
    @usableFromInline let geometry: Geometry

    @inlinable
    init(mm: MM, geometry: Geometry) {
        self.mm = mm
        self.geometry = geometry
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        let old = ctx.old
        if !old.isValid {
            // An ownership annotation is removed too.
            if Stage2Entry.isCounted(old) {
                ctx.write(Descriptor(0))
                mm.putPage(ctx.entryAddress)
            }
            return 0
        }
        var child: PhysAddr?
        if old.isTable(at: ctx.level) {
            let c = PhysAddr(old.outputAddress(granule: geometry.granule, format: geometry.format))
            // Only a table left empty (holding nothing but its own reference) goes.
            if mm.pageCount(c) != 1 { return 0 }
            child = c
        }
        // stage2_unmap_put_pte: clear, then drop the entry's reference.
        ctx.write(Descriptor(0))
        mm.putPage(ctx.entryAddress)
        if let child { mm.putPage(child) }
        return 0
    }
}
