/// The visitor behind `stage2_update_leaf_attrs` (`stage2_attr_walker`): wrprotect, mkyoung, relax_perms.
@usableFromInline
struct Stage2AttrVisitor: PgtableVisitor {
    @usableFromInline let set: UInt64
    @usableFromInline let clear: UInt64
    /// The last visited leaf's old value (`data->pte`).
    @usableFromInline var pte = Descriptor(0)
    /// The last visited leaf's level (`data->level`).
    @usableFromInline var level = 0

    @inlinable
    init(set: UInt64, clear: UInt64) {
        self.set = set
        self.clear = clear
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        guard ctx.old.isValid else { return -KernelErrno.EAGAIN }
        level = ctx.level
        pte = ctx.old
        let new = Descriptor((ctx.old.rawValue & ~clear) | set)
        if new != ctx.old { ctx.write(new) }
        return 0
    }
}

/// The visitor behind `kvm_pgtable_stage2_test_clear_young` (`stage2_age_walker`).
@usableFromInline
struct Stage2AgeVisitor: PgtableVisitor {
    @usableFromInline let mkold: Bool
    @usableFromInline var young = false

    @inlinable
    init(mkold: Bool) { self.mkold = mkold }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        let new = Descriptor(ctx.old.rawValue & ~Descriptor.af.mask)
        guard ctx.old.isValid, new != ctx.old else { return 0 }
        young = true
        if mkold { ctx.write(new) }
        return 0
    }
}
