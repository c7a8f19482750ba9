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
        let k = descent
        let page = k.pageSize
        let start = addr & ~(page &- 1)
        // `_kvm_pgtable_walk`'s `addr > limit || end > limit` for end = start + PAGE_SIZE: as both are
        // page aligned, that is `start >= limit` (written so that a start near 2^64 cannot wrap past it).
        guard start < k.inputSize else {
            throw .outOfRange(start: start, end: start &+ page, limit: k.inputSize)
        }
        // `kvm_pgd_page_idx`: start < BIT(ia_bits) here, so the index needs no input mask.
        var table = root + (start &>> k.rootIndexShift) &* page
        var level = geometry.startLevel
        // The index shift of `level`, stepped down per level rather than recomputed (levelShift < 64).
        var shift = k.startShift
        while true {
            let index = (start &>> shift) & k.indexMask
            let p: UnsafeMutableRawPointer
            do { p = try mem.pointer(table, size: page) } catch { throw .unbackedTable(error) }
            let d = Descriptor(
                UInt64(littleEndian: p.load(fromByteOffset: Int(truncatingIfNeeded: index &* 8), as: UInt64.self)))
            guard d.isTable(at: level) else { return (d, level) }
            table = PhysAddr(k.tableAddress.address(of: d.rawValue))
            level &+= 1
            shift &-= k.stride
        }
    }
}

/// What `PgtableRoot.leaf` derives from the geometry, computed once per table: the kernel has these as
/// compile-time constants or fields of `struct kvm_pgtable`, and recomputing them (with overflow checks)
/// cost more than the descent's loads.
@usableFromInline
struct LeafDescent: Sendable, Equatable {
    /// `PAGE_SIZE`.
    @usableFromInline let pageSize: UInt64
    /// `BIT(ia_bits)`.
    @usableFromInline let inputSize: UInt64
    /// The shift of `kvm_pgd_page_idx` (`kvm_granule_shift(start_level - 1)`); 63 where that is 64 or more,
    /// which gives the same 0 for an address below `BIT(ia_bits)` (at most `BIT(52)`).
    @usableFromInline let rootIndexShift: UInt64
    /// Index shift of the start level (`kvm_granule_shift(start_level)`).
    @usableFromInline let startShift: UInt64
    /// Address bits resolved per level (`PAGE_SHIFT - 3`).
    @usableFromInline let stride: UInt64
    /// `PTRS_PER_PTE - 1`.
    @usableFromInline let indexMask: UInt64
    /// A table descriptor's address (`kvm_pte_to_phys` in the geometry's format).
    @usableFromInline let tableAddress: DescriptorAddressMasks

    @usableFromInline
    init(_ geometry: Geometry) {
        let g = geometry.granule
        pageSize = g.size
        inputSize = geometry.inputSize
        rootIndexShift = UInt64(min(g.levelShift(geometry.startLevel - 1), 63))
        startShift = UInt64(g.levelShift(geometry.startLevel))
        stride = UInt64(g.bitsPerLevel)
        indexMask = UInt64(g.entries - 1)
        tableAddress = DescriptorAddressMasks(format: geometry.format, shift: g.shift)
    }
}
