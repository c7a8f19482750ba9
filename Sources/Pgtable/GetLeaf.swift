import Mem

extension PgtableRoot {
    /// The leaf entry (valid or not) a walk for the page holding `addr` reaches, and its level: the result
    /// of `kvm_pgtable_get_leaf`, computed by descending directly instead of through the visitor walk.
    ///
    /// Equivalent to the kernel's walk over `[ALIGN_DOWN(addr, PAGE_SIZE), +PAGE_SIZE)` with a `LEAF`
    /// visitor: that walk follows table entries down and visits exactly one non-table entry, after which
    /// its address has passed the end of the range.
    /// - Throws: `outOfRange` (`-ERANGE`) beyond `BIT(ia_bits)`; `unbackedTable` for a table outside memory.
    @inlinable
    public func leaf(mem: PhysMem, addr: UInt64) throws(PgtableError) -> (pte: Descriptor, level: Int) {
        let g = geometry.granule
        let page = g.size
        let start = addr & ~(page &- 1)
        guard start &+ page <= geometry.inputSize else {
            throw .outOfRange(start: start, end: start &+ page, limit: geometry.inputSize)
        }
        var table = root + geometry.rootIndex(start) &* page
        var level = geometry.startLevel
        let mask = UInt64(truncatingIfNeeded: g.entries &- 1)
        // The index shift of `level`, stepped down per level rather than recomputed (levelShift < 64).
        var shift = UInt64(truncatingIfNeeded: g.levelShift(level))
        let stride = UInt64(truncatingIfNeeded: g.bitsPerLevel)
        let format = geometry.format
        while true {
            let index = (start &>> shift) & mask
            let p: UnsafeMutableRawPointer
            do { p = try mem.pointer(table, size: page) } catch { throw .unbackedTable(error) }
            let d = Descriptor(
                UInt64(littleEndian: p.load(fromByteOffset: Int(truncatingIfNeeded: index &* 8), as: UInt64.self)))
            guard d.isTable(at: level) else { return (d, level) }
            table = PhysAddr(d.outputAddress(granule: g, format: format))
            level &+= 1
            shift &-= stride
        }
    }
}
