import Mem

/// What a visitor sees of one entry (`struct kvm_pgtable_visit_ctx`).
@frozen
public struct VisitContext {
    /// Host pointer to the entry (`ptep`); use `write` to store.
    public let ptep: UnsafeMutablePointer<UInt64>
    /// Physical address of the entry.
    public let entryAddress: PhysAddr
    /// The entry's value when it was visited (`old`).
    public var old: Descriptor
    /// Start of the walk, page aligned (`start`).
    public let start: UInt64
    /// Input address this entry's range begins at, as far as the walk has got (`addr`).
    public let addr: UInt64
    /// End of the walk, page aligned (`end`).
    public let end: UInt64
    /// Level of the table holding the entry.
    public let level: Int
    /// The walk's flags.
    public let flags: WalkFlags

    @inlinable
    public init(
        ptep: UnsafeMutablePointer<UInt64>, entryAddress: PhysAddr, old: Descriptor, start: UInt64, addr: UInt64,
        end: UInt64, level: Int, flags: WalkFlags
    ) {
        self.ptep = ptep
        self.entryAddress = entryAddress
        self.old = old
        self.start = start
        self.addr = addr
        self.end = end
        self.level = level
        self.flags = flags
    }

    /// Stores `new` into the entry (`WRITE_ONCE(*ptep, new)`).
    @inlinable
    public func write(_ new: Descriptor) { ptep.pointee = new.rawValue.littleEndian }

    /// Reads the entry now (`READ_ONCE(*ptep)`).
    @inlinable
    public func read() -> Descriptor { Descriptor(UInt64(littleEndian: ptep.pointee)) }

    /// Whether the walk was started as a shared walk (`kvm_pgtable_walk_shared`).
    @inlinable
    public var isShared: Bool { flags.contains(.shared) }
}

/// A walker callback (`kvm_pgtable_walker.cb`): called for each entry the walk visits with the kind of
/// visit (`.leaf`, `.tablePre` or `.tablePost`); returns 0 or a negative errno, which stops the walk
/// except for `-EAGAIN` outside a fault-handling walk.
public protocol PgtableVisitor {
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32
}

/// A translation table in emulated memory as the kernel's walker sees it (`struct kvm_pgtable` without
/// its `mm_ops`): the root address and the regime's geometry.
@frozen
public struct PgtableRoot: Sendable, Equatable {
    /// Physical address of the first (or only) root table (`pgd`).
    public let root: PhysAddr
    /// Granule, input size, start level and descriptor format.
    public let geometry: Geometry
    /// What `leaf(mem:addr:)` derives from `geometry`, computed once here.
    @usableFromInline let descent: LeafDescent

    @inlinable
    public init(root: PhysAddr, geometry: Geometry) {
        self.root = root
        self.geometry = geometry
        self.descent = LeafDescent(geometry)
    }

    /// Walks `[addr, addr+size)` calling `visitor` as `kvm_pgtable_walk` does: depth first, in address
    /// order, entries clipped to the page-aligned range, the table reloaded after each callback so that
    /// a callback may install or replace a table and the walk descends into it.
    ///
    /// - Returns: 0, or the first negative errno that stopped the walk.
    /// - Throws: `PgtableError.outOfRange` if the range reaches past `BIT(ia_bits)` (`-ERANGE`),
    ///   `PgtableError.unbackedTable` if a table pointer leaves backed memory.
    @inlinable
    public func walk<V: PgtableVisitor>(
        mem: PhysMem, addr: UInt64, size: UInt64, flags: WalkFlags, visitor: inout V
    ) throws(PgtableError) -> Int32 {
        let page = geometry.granule.size
        let start = addr & ~(page &- 1)
        let end = (start &+ size &+ page &- 1) & ~(page &- 1)
        let limit = geometry.inputSize
        guard start <= limit, end <= limit else { throw .outOfRange(start: start, end: end, limit: limit) }
        var state = WalkState(start: start, addr: start, end: end, flags: flags)
        var idx = geometry.rootIndex(start)
        var ret: Int32 = 0
        while state.addr < state.end {
            let table = root + idx &* page
            ret = try walkTable(mem: mem, table: table, level: geometry.startLevel, state: &state, visitor: &visitor)
            if ret != 0 { break }
            idx &+= 1
        }
        return ret
    }

    /// `__kvm_pgtable_walk`: the entries of one table from the walk's current address on.
    @inlinable
    func walkTable<V: PgtableVisitor>(
        mem: PhysMem, table: PhysAddr, level: Int, state: inout WalkState, visitor: inout V
    ) throws(PgtableError) -> Int32 {
        let granule = geometry.granule
        guard level >= granule.firstLevel, level <= Granule.lastLevel else { return -KernelErrno.EINVAL }
        let base: UnsafeMutableRawPointer
        do { base = try mem.pointer(table, size: granule.size) } catch { throw .unbackedTable(error) }
        let entries = base.assumingMemoryBound(to: UInt64.self)
        let count = granule.entries
        var idx = Int((state.addr >> UInt64(granule.levelShift(level))) & UInt64(count &- 1))
        // What one entry of this table maps, computed once for all its entries.
        let entrySize = granule.levelSize(level)
        var ret: Int32 = 0
        while idx < count {
            if state.addr >= state.end { break }
            ret = try visitEntry(
                mem: mem, ptep: entries + idx, entryAddress: table + UInt64(idx &* 8), level: level,
                entrySize: entrySize, state: &state, visitor: &visitor)
            if ret != 0 { break }
            idx &+= 1
        }
        return ret
    }

    /// `__kvm_pgtable_visit`: one entry, its callbacks and, for a table, its subtree.
    @inlinable
    func visitEntry<V: PgtableVisitor>(
        mem: PhysMem, ptep: UnsafeMutablePointer<UInt64>, entryAddress: PhysAddr, level: Int, entrySize: UInt64,
        state: inout WalkState, visitor: inout V
    ) throws(PgtableError) -> Int32 {
        let flags = state.flags
        var ctx = VisitContext(
            ptep: ptep, entryAddress: entryAddress, old: Descriptor(UInt64(littleEndian: ptep.pointee)),
            start: state.start, addr: state.addr, end: state.end, level: level, flags: flags)
        var ret: Int32 = 0
        var reload = false
        var table = ctx.old.isTable(at: level)
        if table && flags.contains(.tablePre) {
            ret = visitor.visit(ctx, .tablePre)
            reload = true
        }
        if !table && flags.contains(.leaf) {
            ret = visitor.visit(ctx, .leaf)
            reload = true
        }
        if reload {
            ctx.old = ctx.read()
            table = ctx.old.isTable(at: level)
        }
        if !state.shouldContinue(ret) { return ret }
        if !table {
            state.addr = (state.addr & ~(entrySize &- 1)) &+ entrySize
            return 0
        }
        let child = PhysAddr(ctx.old.outputAddress(granule: geometry.granule, format: geometry.format))
        ret = try walkTable(mem: mem, table: child, level: level + 1, state: &state, visitor: &visitor)
        if !state.shouldContinue(ret) { return ret }
        if flags.contains(.tablePost) {
            ret = visitor.visit(ctx, .tablePost)
        }
        return state.shouldContinue(ret) ? 0 : ret
    }
}

/// The walk's progress (`struct kvm_pgtable_walk_data`).
@usableFromInline
struct WalkState {
    @usableFromInline let start: UInt64
    @usableFromInline var addr: UInt64
    @usableFromInline let end: UInt64
    @usableFromInline let flags: WalkFlags

    @inlinable
    init(start: UInt64, addr: UInt64, end: UInt64, flags: WalkFlags) {
        self.start = start
        self.addr = addr
        self.end = end
        self.flags = flags
    }

    /// `kvm_pgtable_walk_continue`: `-EAGAIN` stops only a fault-handling walk; any other error stops.
    @inlinable
    func shouldContinue(_ r: Int32) -> Bool {
        if r == -KernelErrno.EAGAIN { return !flags.contains(.handleFault) }
        return r == 0
    }
}
