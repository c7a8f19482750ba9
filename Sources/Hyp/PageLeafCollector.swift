import Pgtable

/// Records, for each page of a chunk of input addresses, the leaf entry that maps it, narrowed to the page:
/// a valid block becomes the page descriptor inside it (output address advanced, type bit set), an invalid
/// entry is copied to every page it covers. One walk per chunk instead of one per page (the full checks).
struct PageLeafCollector: PgtableVisitor {
    /// First input address of the chunk (page aligned).
    let start: UInt64
    /// One slot per page of the chunk.
    let out: UnsafeMutablePointer<UInt64>
    let pages: Int
    let geometry: Geometry

    /// The page descriptor for `page` inside the valid leaf `pte` that maps from `entryStart`.
    static func narrow(_ pte: Descriptor, entryStart: UInt64, page: UInt64, geometry: Geometry) -> Descriptor {
        let oa =
            pte.outputAddress(granule: geometry.granule, format: geometry.format) &+ ((page &- entryStart) & ~0xfff)
        return Descriptor.leaf(
            oa, attributes: pte.rawValue & (Descriptor.attrLo.mask | Descriptor.attrHi.mask), level: Granule.lastLevel,
            granule: geometry.granule, format: geometry.format)
    }

    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        let size = geometry.granule.levelSize(ctx.level)
        let entryStart = ctx.addr & ~(size &- 1)
        var a = max(entryStart, start)
        let end = min(entryStart &+ size, start &+ UInt64(pages) << 12)
        let pte = ctx.old
        while a < end {
            let i = Int((a &- start) >> 12)
            if pte.isValid {
                out[i] = Self.narrow(pte, entryStart: entryStart, page: a, geometry: geometry).rawValue
            } else {
                out[i] = pte.rawValue
            }
            a &+= 0x1000
        }
        return 0
    }
}
