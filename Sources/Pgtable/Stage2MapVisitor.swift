import Mem

/// The visitor behind `kvm_pgtable_stage2_map` and `kvm_pgtable_stage2_set_owner` (`stage2_map_walker`
/// with `struct stage2_map_data`).
@usableFromInline
struct Stage2MapVisitor<MM: PgtableMMOps>: PgtableVisitor {
    @usableFromInline let mm: MM
    @usableFromInline let geometry: Geometry
    @usableFromInline let phys: UInt64
    @usableFromInline let attr: UInt64
    @usableFromInline let ownerID: UInt8
    /// Only record ownership (`annotation`).
    @usableFromInline let annotation: Bool
    /// Force page mappings (`force_pte`).
    @usableFromInline let forcePTE: Bool
    /// Whether a memcache was supplied.
    @usableFromInline let memcache: Bool
    /// Set if a table to be freed lies outside backed memory.
    @usableFromInline var fault: MemError?

    @inlinable
    init(
        mm: MM, geometry: Geometry, phys: UInt64, attr: UInt64, ownerID: UInt8, annotation: Bool, forcePTE: Bool,
        memcache: Bool
    ) {
        self.mm = mm
        self.geometry = geometry
        self.phys = phys
        self.attr = attr
        self.ownerID = ownerID
        self.annotation = annotation
        self.forcePTE = forcePTE
        self.memcache = memcache
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        switch kind {
        case .tablePre: return tablePre(ctx)
        case .leaf: return leaf(ctx)
        default: return -KernelErrno.EINVAL
        }
    }

    /// `stage2_map_walker_phys_addr`.
    @inlinable
    func physAddr(_ ctx: VisitContext) -> UInt64 { phys &+ (ctx.addr &- ctx.start) }

    /// `stage2_leaf_mapping_allowed`.
    @inlinable
    func leafAllowed(_ ctx: VisitContext) -> Bool {
        if forcePTE && ctx.level < Granule.lastLevel { return false }
        if annotation { return true }
        return Stage2MapVisitor.blockMappingSupported(ctx, physAddr(ctx), geometry.granule)
    }

    /// `kvm_block_mapping_supported`: the level allows blocks, the rest of the range covers the whole
    /// entry, and both addresses are aligned to it.
    @inlinable
    static func blockMappingSupported(_ ctx: VisitContext, _ phys: UInt64, _ granule: Granule) -> Bool {
        let size = granule.levelSize(ctx.level)
        guard granule.supportsBlock(at: ctx.level), size <= ctx.end &- ctx.addr else { return false }
        return phys & (size &- 1) == 0 && ctx.addr & (size &- 1) == 0
    }

    /// `stage2_try_break_pte`: lock the entry (`KVM_INVALID_PTE_LOCKED`) and drop the old entry's reference.
    @inlinable
    func tryBreak(_ ctx: VisitContext) -> Bool {
        if Stage2Entry.isLocked(ctx.old) { return false }
        ctx.write(Descriptor(Descriptor.locked.mask))
        if Stage2Entry.isCounted(ctx.old) { mm.putPage(ctx.entryAddress) }
        return true
    }

    /// `stage2_make_pte`: take a reference for a counted new entry and store it.
    @inlinable
    func make(_ ctx: VisitContext, _ new: Descriptor) {
        if Stage2Entry.isCounted(new) { mm.getPage(ctx.entryAddress) }
        ctx.write(new)
    }

    /// `stage2_map_walker_try_leaf`.
    @inlinable
    func tryLeaf(_ ctx: VisitContext) -> Int32 {
        guard leafAllowed(ctx) else { return -KernelErrno.E2BIG }
        let new =
            annotation
            ? Descriptor.invalidOwner(ownerID)
            : Descriptor.leaf(
                physAddr(ctx), attributes: attr, level: ctx.level, granule: geometry.granule, format: geometry.format)
        guard Stage2Entry.needsUpdate(ctx.old, new) else { return -KernelErrno.EAGAIN }
        // Only software bits change: store them without break-before-make.
        if !ctx.isShared && (ctx.old.rawValue ^ new.rawValue) & ~Descriptor.sw.mask == 0 {
            let oldCounted = Stage2Entry.isCounted(ctx.old)
            if oldCounted != Stage2Entry.isCounted(new) {
                if oldCounted { mm.putPage(ctx.entryAddress) } else { mm.getPage(ctx.entryAddress) }
            }
            ctx.write(new)
            return 0
        }
        guard tryBreak(ctx) else { return -KernelErrno.EAGAIN }
        make(ctx, new)
        return 0
    }

    /// `stage2_map_walk_table_pre`: replace a table by a block when one now fits, freeing the old subtree.
    @inlinable
    mutating func tablePre(_ ctx: VisitContext) -> Int32 {
        let child = PhysAddr(ctx.old.outputAddress(granule: geometry.granule, format: geometry.format))
        guard leafAllowed(ctx) else { return 0 }
        let ret = tryLeaf(ctx)
        if ret != 0 { return ret }
        do {
            try Stage2FreeVisitor.freeUnlinked(mm: mm, geometry: geometry, table: child, level: ctx.level)
        } catch {
            fault = error
            return -KernelErrno.EFAULT
        }
        return 0
    }

    /// `stage2_map_walk_leaf`: install a leaf, or a new table to descend into.
    @inlinable
    func leaf(_ ctx: VisitContext) -> Int32 {
        let ret = tryLeaf(ctx)
        if ret != -KernelErrno.E2BIG { return ret }
        if ctx.level == Granule.lastLevel { return -KernelErrno.EINVAL }
        if !memcache { return -KernelErrno.ENOMEM }
        guard let child = try? mm.zallocPage() else { return -KernelErrno.ENOMEM }
        guard tryBreak(ctx) else {
            mm.putPage(child)
            return -KernelErrno.EAGAIN
        }
        make(ctx, Descriptor.table(child.rawValue, granule: geometry.granule, format: geometry.format))
        return 0
    }
}

/// Stage-2 entry predicates of `pgtable.c`.
public enum Stage2Entry {
    /// `stage2_pte_is_counted`: an entry holds a reference on its table page if it is non-zero (valid, or
    /// an invalid entry recording another owner, or locked).
    @inlinable
    public static func isCounted(_ pte: Descriptor) -> Bool { pte.rawValue != 0 }

    /// `stage2_pte_is_locked`: an invalid entry with `KVM_INVALID_PTE_LOCKED`.
    @inlinable
    public static func isLocked(_ pte: Descriptor) -> Bool {
        !pte.isValid && pte.rawValue & Descriptor.locked.mask != 0
    }

    /// `stage2_pte_needs_update`: always when either entry is invalid; otherwise only when something
    /// beyond the permission bits differs.
    @inlinable
    public static func needsUpdate(_ old: Descriptor, _ new: Descriptor) -> Bool {
        if !old.isValid || !new.isValid { return true }
        return (old.rawValue ^ new.rawValue) & ~Stage2Attributes.permissions != 0
    }
}
