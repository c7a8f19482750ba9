import Mem

/// Options of a stage-2 table (`enum kvm_pgtable_stage2_flags`).
@frozen
public struct Stage2Flags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The CPU lacks FEAT_S2FWB, or it is not to be used: MemAttr takes the non-FWB encodings
    /// (`KVM_PGTABLE_S2_NOFWB`).
    public static let noFWB = Stage2Flags(rawValue: 1 << 0)
    /// An identity map: `map` requires IPA == PA (`KVM_PGTABLE_S2_IDMAP`), as pKVM's host stage 2.
    public static let idmap = Stage2Flags(rawValue: 1 << 1)
}

/// A stage-2 translation table and its operations: the kernel's `struct kvm_pgtable` for a guest or for
/// pKVM's host, with `kvm_pgtable_stage2_*` as methods. Every operation is a visitor over the one walker
/// (`PgtableRoot.walk`) and writes exactly the descriptors, and takes and drops exactly the page
/// references, that Linux v6.14's `arch/arm64/kvm/hyp/pgtable.c` does for the same call.
///
/// Table pages come from `mm` (the kernel's `mm_ops`); with a deterministic `PagePool` the tables land at
/// the addresses a reference run of the kernel's code with the same allocation order gives.
public struct Stage2Table<MM: PgtableMMOps> {
    /// The page allocator and memory (`mm_ops`).
    public let mm: MM
    /// Root and geometry (`pgd`, `ia_bits`, `start_level`).
    public let pgt: PgtableRoot
    /// `KVM_PGTABLE_S2_NOFWB`, `KVM_PGTABLE_S2_IDMAP`.
    public let flags: Stage2Flags
    /// `force_pte_cb`: asked once per `map` with `(addr, end, prot)`; true forces page mappings.
    public var forcePTE: (@Sendable (UInt64, UInt64, Prot) -> Bool)?
    /// Model the kernel exactly for output addresses beyond PS: map them with the high bits dropped, as
    /// `kvm_phys_to_pte` does, instead of refusing with `PgtableError.outputBeyondPS` (the default).
    public var truncatesOutputAddress = false

    /// Allocates a zeroed root of `geometry.rootPages` concatenated pages (`__kvm_pgtable_stage2_init`).
    /// - Throws: `PgtableError.outOfMemory` if `mm` cannot provide them (`-ENOMEM`), or
    ///   `invalidGeometry` if the geometry's granule is not `mm`'s page size.
    public init(
        mm: MM, geometry: Geometry, flags: Stage2Flags = [],
        forcePTE: (@Sendable (UInt64, UInt64, Prot) -> Bool)? = nil
    ) throws(PgtableError) {
        guard geometry.granule.shift == mm.pageShift else {
            throw .invalidGeometry("\(geometry.granule) tables need a pool of \(geometry.granule) pages")
        }
        let root: PhysAddr
        do {
            root = try mm.zallocPagesExact(UInt64(geometry.rootPages) << UInt64(geometry.granule.shift))
        } catch { throw .outOfMemory }
        self.init(mm: mm, root: root, geometry: geometry, flags: flags, forcePTE: forcePTE)
    }

    /// A table whose root already sits at `root` (loaded from an image, or built by another table).
    public init(
        mm: MM, root: PhysAddr, geometry: Geometry, flags: Stage2Flags = [],
        forcePTE: (@Sendable (UInt64, UInt64, Prot) -> Bool)? = nil
    ) {
        self.mm = mm
        self.pgt = PgtableRoot(root: root, geometry: geometry)
        self.flags = flags
        self.forcePTE = forcePTE
    }

    /// The regime's geometry.
    @inlinable public var geometry: Geometry { pgt.geometry }
    /// Physical address of the root (`pgd`).
    @inlinable public var root: PhysAddr { pgt.root }
    /// Whether MemAttr uses the FEAT_S2FWB encodings.
    @inlinable public var fwb: Bool { !flags.contains(.noFWB) }

    /// Runs `visitor` over `[addr, addr+size)` (`kvm_pgtable_walk`) and turns a negative errno into an error.
    @inlinable
    func run<V: PgtableVisitor>(
        _ visitor: inout V, _ addr: UInt64, _ size: UInt64, _ flags: WalkFlags, _ what: @autoclosure () -> String
    ) throws(PgtableError) {
        let r = try pgt.walk(mem: mm.mem, addr: addr, size: size, flags: flags, visitor: &visitor)
        if r != 0 { throw PgtableError.from(code: r, context: what()) }
    }

    /// Runs any visitor over a range with the given flags (`kvm_pgtable_walk`).
    /// - Returns: the walk's result, 0 or a negative errno.
    @inlinable
    public func walk<V: PgtableVisitor>(_ addr: UInt64, size: UInt64, flags: WalkFlags, visitor: inout V)
        throws(PgtableError) -> Int32
    {
        try pgt.walk(mem: mm.mem, addr: addr, size: size, flags: flags, visitor: &visitor)
    }

    /// Maps `[addr, addr+size)` to `phys` with `prot` (`kvm_pgtable_stage2_map`): the largest blocks the
    /// alignment and `forcePTE` allow, tables allocated from `mm` as needed, an existing block split by
    /// replacing it with a table holding only the new mapping, and an existing table replaced (and freed)
    /// when a block now covers it.
    ///
    /// - Parameters:
    ///   - memcache: whether the caller supplies a memcache; without one, any table allocation fails
    ///     with `-ENOMEM`, as in the kernel.
    ///   - walkFlags: extra walk flags (`.handleFault`, `.shared`, …).
    /// - Throws: `invalidArgument` (`-EINVAL`) for bad prot or an identity map with `addr != phys`;
    ///   `tryAgain` (`-EAGAIN`) when the entry already maps this (fault-handling walks only);
    ///   `outOfMemory` (`-ENOMEM`); `outOfRange` (`-ERANGE`); `outputBeyondPS` (no kernel errno: see
    ///   `truncatesOutputAddress`). Entries written before a failure stay.
    @inlinable
    public func map(
        _ addr: UInt64, size: UInt64, phys: UInt64, prot: Prot, memcache: Bool = true, walkFlags: WalkFlags = []
    ) throws(PgtableError) {
        let force = forcePTE?(addr, addr &+ size, prot) ?? false
        if flags.contains(.idmap) && addr != phys {
            throw .invalidArgument("identity map with IPA 0x\(String(addr, radix: 16)) != PA 0x\(String(phys, radix: 16))")
        }
        let attr = try Stage2Attributes.attributes(for: prot, fwb: fwb, lpa2: geometry.lpa2)
        if !truncatesOutputAddress { try geometry.checkOutputRange(addr: addr, size: size, phys: phys) }
        var v = Stage2MapVisitor(
            mm: mm, geometry: geometry, phys: phys & ~(geometry.granule.size &- 1), attr: attr, ownerID: 0,
            annotation: false, forcePTE: force, memcache: memcache)
        try runMap(&v, addr, size, walkFlags.union([.tablePre, .leaf]), "map 0x\(String(addr, radix: 16))")
    }

    /// Runs a map visitor, reporting a freed subtree outside memory as `unbackedTable`.
    @inlinable
    func runMap(
        _ v: inout Stage2MapVisitor<MM>, _ addr: UInt64, _ size: UInt64, _ flags: WalkFlags,
        _ what: @autoclosure () -> String
    ) throws(PgtableError) {
        let r = try pgt.walk(mem: mm.mem, addr: addr, size: size, flags: flags, visitor: &v)
        if let fault = v.fault { throw .unbackedTable(fault) }
        if r != 0 { throw PgtableError.from(code: r, context: what()) }
    }

    /// Replaces the entries of `[addr, addr+size)` with invalid entries recording `owner`, page by page
    /// (`kvm_pgtable_stage2_set_owner`). Owner 0 is the table's owner and leaves the entry zero.
    /// - Throws: `invalidArgument` (`-EINVAL`) for an owner id above `KVM_MAX_OWNER_ID`... see `maxOwnerID`;
    ///   `outOfMemory` (`-ENOMEM`); `outOfRange` (`-ERANGE`).
    @inlinable
    public func setOwner(_ addr: UInt64, size: UInt64, owner: UInt8, memcache: Bool = true) throws(PgtableError) {
        guard owner <= Stage2Table.maxOwnerID else {
            throw .invalidArgument("owner id \(owner) > KVM_MAX_OWNER_ID (\(Stage2Table.maxOwnerID))")
        }
        var v = Stage2MapVisitor(
            mm: mm, geometry: geometry, phys: 0, attr: 0, ownerID: owner, annotation: true, forcePTE: true,
            memcache: memcache)
        try runMap(&v, addr, size, [.tablePre, .leaf], "set_owner 0x\(String(addr, radix: 16))")
    }

    /// The largest owner id an invalid entry can record (`KVM_MAX_OWNER_ID`).
    public static var maxOwnerID: UInt8 { 1 }

    /// Removes every mapping and annotation in `[addr, addr+size)` (`kvm_pgtable_stage2_unmap`): a block
    /// is removed whole even if the range covers only part of it; tables left empty are freed.
    @inlinable
    public func unmap(_ addr: UInt64, size: UInt64) throws(PgtableError) {
        var v = Stage2UnmapVisitor(mm: mm, geometry: geometry)
        try run(&v, addr, size, [.leaf, .tablePost], "unmap 0x\(String(addr, radix: 16))")
    }

    /// Sets and clears leaf attribute bits on the valid leaves of a range (`stage2_update_leaf_attrs`).
    /// - Returns: the last leaf's old value and level (`orig_pte`, `level`).
    /// - Throws: `tryAgain` (`-EAGAIN`) if an entry is invalid and the walk handles a fault.
    @inlinable
    public func updateLeafAttributes(
        _ addr: UInt64, size: UInt64, set: UInt64, clear: UInt64, walkFlags: WalkFlags = []
    ) throws(PgtableError) -> (old: Descriptor, level: Int) {
        let mask = Descriptor.attrLo.mask | Descriptor.attrHi.mask
        var v = Stage2AttrVisitor(set: set & mask, clear: clear & mask)
        try run(&v, addr, size, walkFlags.union(.leaf), "update attributes at 0x\(String(addr, radix: 16))")
        return (v.pte, v.level)
    }

    /// Clears S2AP.W on every valid leaf of the range (`kvm_pgtable_stage2_wrprotect`).
    @inlinable
    public func wrprotect(_ addr: UInt64, size: UInt64) throws(PgtableError) {
        _ = try updateLeafAttributes(addr, size: size, set: 0, clear: Descriptor.s2apW.mask)
    }

    /// Sets the access flag of the leaf mapping `addr` (`kvm_pgtable_stage2_mkyoung`, v6.14: the caller
    /// passes the walk flags; pKVM passes none). The kernel returns nothing; s2emu reports the walk's
    /// result, which is `-EAGAIN` only for an unmapped `addr` in a fault-handling walk.
    @inlinable
    public func mkyoung(_ addr: UInt64, walkFlags: WalkFlags = []) throws(PgtableError) {
        _ = try updateLeafAttributes(addr, size: 1, set: Descriptor.af.mask, clear: 0, walkFlags: walkFlags)
    }

    /// Reports whether any valid leaf of the range has its access flag set, clearing it when `mkold`
    /// (`kvm_pgtable_stage2_test_clear_young`).
    @inlinable
    public func testClearYoung(_ addr: UInt64, size: UInt64, mkold: Bool) throws(PgtableError) -> Bool {
        var v = Stage2AgeVisitor(mkold: mkold)
        try run(&v, addr, size, .leaf, "test_clear_young 0x\(String(addr, radix: 16))")
        return v.young
    }

    /// Adds the permissions of `prot` to the leaf mapping `addr` (`kvm_pgtable_stage2_relax_perms`):
    /// R and W set S2AP bits, X clears `KVM_PTE_LEAF_ATTR_HI_S2_XN` (bit 54 only).
    /// - Throws: `invalidArgument` (`-EINVAL`) if `prot` has software bits; `tryAgain` (`-EAGAIN`) if
    ///   `addr` is unmapped in a fault-handling walk.
    @inlinable
    public func relaxPerms(_ addr: UInt64, prot: Prot, walkFlags: WalkFlags = []) throws(PgtableError) {
        guard prot.isDisjoint(with: .software) else { throw .invalidArgument("relax_perms with software bits") }
        var set: UInt64 = 0
        var clear: UInt64 = 0
        if prot.contains(.r) { set |= Descriptor.s2apR.mask }
        if prot.contains(.w) { set |= Descriptor.s2apW.mask }
        if prot.contains(.x) { clear |= Stage2Attributes.xnBit }
        _ = try updateLeafAttributes(addr, size: 1, set: set, clear: clear, walkFlags: walkFlags)
    }

    /// The entry mapping `addr` and its level (`kvm_pgtable_get_leaf`): the leaf (valid or not) the walk
    /// reaches for the page holding `addr`.
    @inlinable
    public func getLeaf(_ addr: UInt64) throws(PgtableError) -> (pte: Descriptor, level: Int) {
        try pgt.leaf(mem: mm.mem, addr: addr)
    }

    /// Frees every table page and drops every reference, then frees the root (`kvm_pgtable_stage2_destroy`).
    public func destroy() throws(PgtableError) {
        var v = Stage2FreeVisitor(mm: mm, geometry: geometry)
        _ = try pgt.walk(mem: mm.mem, addr: 0, size: geometry.inputSize, flags: [.leaf, .tablePost], visitor: &v)
        mm.freePagesExact(root, size: UInt64(geometry.rootPages) << UInt64(geometry.granule.shift))
    }
}
