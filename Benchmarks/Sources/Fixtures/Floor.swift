import Mem
import Pgtable

/// The physical limit of a table walk: the same dependent 64-bit loads a walk of `table` makes (one per
/// level down to the leaf), as raw loads from one host pointer, with no checks, no decoding beyond the
/// output-address mask and no bookkeeping.
public struct Floor {
    @usableFromInline let host: UnsafeRawPointer
    /// Physical address of `host`.
    @usableFromInline let hostBase: UInt64
    /// Physical address of the (first) root table.
    @usableFromInline let root: UInt64
    /// Shift of the root level's index.
    @usableFromInline let rootShift: UInt64
    /// Index mask of the root (all concatenated root tables as one array).
    @usableFromInline let rootMask: UInt64
    @usableFromInline let bitsPerLevel: UInt64
    @usableFromInline let mask: UInt64
    @usableFromInline let addressMask: UInt64
    @usableFromInline let loads: Int

    public init(table: Stage2Table<PagePool>, host: UnsafeRawPointer, hostBase: PhysAddr, loads: Int) {
        let g = table.geometry
        self.host = host
        self.hostBase = hostBase.rawValue
        root = table.root.rawValue
        rootShift = UInt64(g.granule.levelShift(g.startLevel))
        rootMask = UInt64(g.granule.entries * g.rootPages - 1)
        bitsPerLevel = UInt64(g.granule.bitsPerLevel)
        mask = UInt64(g.granule.entries - 1)
        addressMask = g.format.addressMask(shift: g.granule.shift)
        self.loads = loads
    }

    /// The descriptor `loads` dependent loads reach for `addr`.
    @inlinable @inline(__always)
    public func walk(_ addr: UInt64) -> UInt64 {
        var d = host.load(
            fromByteOffset: Int(truncatingIfNeeded: root &- hostBase &+ ((addr >> rootShift) & rootMask) &* 8),
            as: UInt64.self)
        var shift = rootShift
        var n = loads
        while n > 1 {
            shift &-= bitsPerLevel
            let entry = (d & addressMask) &- hostBase &+ ((addr >> shift) & mask) &* 8
            d = host.load(fromByteOffset: Int(truncatingIfNeeded: entry), as: UInt64.self)
            n &-= 1
        }
        return d
    }
}
