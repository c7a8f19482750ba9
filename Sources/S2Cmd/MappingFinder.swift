import Pgtable

/// Finds the valid leaves of a guest stage 2 whose output covers one physical page.
struct MappingFinder: PgtableVisitor {
    let geometry: Geometry
    let target: UInt64
    var found: [(UInt64, UInt64)] = []

    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        guard ctx.old.isValid else { return 0 }
        let size = geometry.granule.levelSize(ctx.level)
        let base = ctx.old.outputAddress(granule: geometry.granule, format: geometry.format)
        if target >= base && target < base &+ size {
            let ipa = (ctx.addr & ~(size &- 1)) + (target - base)
            found.append((ipa, target))
        }
        return 0
    }
}
