import Pgtable

/// A LEAF visitor counting the valid leaves a walk reaches (what a ptdump-style full-tree visit does
/// per entry, minus the printing).
public struct LeafCounter: PgtableVisitor {
    public var valid = 0
    @inlinable public init() {}
    @inlinable
    public mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        if ctx.old.isValid { valid &+= 1 }
        return 0
    }
}
