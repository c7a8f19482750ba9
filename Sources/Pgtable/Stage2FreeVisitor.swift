import Mem

/// Drops the references a subtree holds (`stage2_free_walker`), for `kvm_pgtable_stage2_destroy` and
/// `kvm_pgtable_stage2_free_unlinked`. Entries are left as they are; freed pages are zeroed by the pool.
@usableFromInline
struct Stage2FreeVisitor<MM: PgtableMMOps>: PgtableVisitor {
    @usableFromInline let mm: MM
    @usableFromInline let geometry: Geometry

    @inlinable
    init(mm: MM, geometry: Geometry) {
        self.mm = mm
        self.geometry = geometry
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        guard Stage2Entry.isCounted(ctx.old) else { return 0 }
        mm.putPage(ctx.entryAddress)
        if ctx.old.isTable(at: ctx.level) {
            mm.putPage(PhysAddr(ctx.old.outputAddress(granule: geometry.granule, format: geometry.format)))
        }
        return 0
    }

    /// `kvm_pgtable_stage2_free_unlinked`: frees the table `table` that an entry at `level` pointed to,
    /// with everything below it.
    @inlinable
    static func freeUnlinked(mm: MM, geometry: Geometry, table: PhysAddr, level: Int) throws(MemError) {
        var v = Stage2FreeVisitor(mm: mm, geometry: geometry)
        var state = WalkState(start: 0, addr: 0, end: geometry.granule.levelSize(level), flags: [.leaf, .tablePost])
        let sub = PgtableRoot(root: table, geometry: geometry)
        do {
            _ = try sub.walkTable(mem: mm.mem, table: table, level: level + 1, state: &state, visitor: &v)
        } catch {
            if case .unbackedTable(let m) = error { throw m }
        }
        mm.putPage(table)
    }
}
