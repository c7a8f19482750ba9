import Mem

/// The hypervisor's stage-1 table (`struct kvm_pgtable` for EL2 with `kvm_pgtable_hyp_*`): a single root
/// table, no concatenation, mappings made with `hyp_set_prot_attr` attributes.
public struct HypTable<MM: PgtableMMOps> {
    public let mm: MM
    public let pgt: PgtableRoot
    /// Map output addresses beyond PS with the high bits dropped, as `kvm_phys_to_pte` does, instead of
    /// refusing with `PgtableError.outputBeyondPS` (the default).
    public var truncatesOutputAddress = false

    /// Allocates the root page (`kvm_pgtable_hyp_init`).
    /// - Throws: `invalidGeometry` (`-EINVAL`) for a geometry with concatenated roots or a granule other
    ///   than `mm`'s page size; `outOfMemory` (`-ENOMEM`).
    public init(mm: MM, geometry: Geometry) throws(PgtableError) {
        guard geometry.rootPages == 1 else {
            throw .invalidGeometry("a hyp stage 1 has one root table, not \(geometry.rootPages) concatenated ones")
        }
        guard geometry.granule.shift == mm.pageShift else {
            throw .invalidGeometry("\(geometry.granule) tables need a pool of \(geometry.granule) pages")
        }
        let root: PhysAddr
        do { root = try mm.zallocPage() } catch { throw .outOfMemory }
        self.init(mm: mm, root: root, geometry: geometry)
    }

    /// A hyp table whose root already sits at `root`.
    public init(mm: MM, root: PhysAddr, geometry: Geometry) {
        self.mm = mm
        self.pgt = PgtableRoot(root: root, geometry: geometry)
    }

    @inlinable public var geometry: Geometry { pgt.geometry }
    @inlinable public var root: PhysAddr { pgt.root }

    /// Maps `[addr, addr+size)` to `phys` (`kvm_pgtable_hyp_map`): blocks where alignment allows, tables
    /// allocated without a memcache.
    /// - Throws: `invalidArgument` (`-EINVAL`) for a prot `hyp_set_prot_attr` rejects, or a mapping that
    ///   would have to split a page; `outOfMemory`; `outOfRange`.
    @inlinable
    public func map(_ addr: UInt64, size: UInt64, phys: UInt64, prot: Prot) throws(PgtableError) {
        let attr = try HypAttributes.attributes(for: prot, lpa2: geometry.lpa2)
        if !truncatesOutputAddress { try geometry.checkOutputRange(addr: addr, size: size, phys: phys) }
        var v = HypMapVisitor(mm: mm, geometry: geometry, phys: phys & ~(geometry.granule.size &- 1), attr: attr)
        let r = try pgt.walk(mem: mm.mem, addr: addr, size: size, flags: .leaf, visitor: &v)
        // hyp_map_walker's only -EINVAL: a valid last-level entry that differs in more than software bits.
        if r != 0 {
            throw PgtableError.from(
                code: r, context: "hyp map 0x\(String(addr, radix: 16)): a valid page entry there maps something else")
        }
    }

    /// Unmaps `[addr, addr+size)` (`kvm_pgtable_hyp_unmap`), stopping at the first hole or at a block the
    /// range only partly covers; tables left empty are freed.
    /// - Returns: the number of bytes unmapped.
    @inlinable
    @discardableResult
    public func unmap(_ addr: UInt64, size: UInt64) throws(PgtableError) -> UInt64 {
        var v = HypUnmapVisitor(mm: mm, geometry: geometry)
        _ = try pgt.walk(mem: mm.mem, addr: addr, size: size, flags: [.leaf, .tablePost], visitor: &v)
        return v.unmapped
    }

    /// The entry mapping `addr` and its level (`kvm_pgtable_get_leaf`).
    @inlinable
    public func getLeaf(_ addr: UInt64) throws(PgtableError) -> (pte: Descriptor, level: Int) {
        try pgt.leaf(mem: mm.mem, addr: addr)
    }

    /// Drops every reference and frees every table, root last (`kvm_pgtable_hyp_destroy`).
    public func destroy() throws(PgtableError) {
        var v = HypFreeVisitor(mm: mm, geometry: geometry)
        _ = try pgt.walk(mem: mm.mem, addr: 0, size: geometry.inputSize, flags: [.leaf, .tablePost], visitor: &v)
        mm.putPage(root)
    }
}

/// Hyp stage-1 leaf attributes (`hyp_set_prot_attr`).
public enum HypAttributes {
    /// MAIR index of normal memory (`MT_NORMAL`).
    public static let mtNormal: UInt64 = 0
    /// MAIR index of device-nGnRE memory (`MT_DEVICE_nGnRE`).
    public static let mtDeviceNGnRE: UInt64 = 4
    /// AP for read-only at EL2 (`KVM_PTE_LEAF_ATTR_LO_S1_AP_RO`, without hVHE).
    public static let apRO: UInt64 = 3
    /// AP for read-write at EL2 (`KVM_PTE_LEAF_ATTR_LO_S1_AP_RW`, without hVHE).
    public static let apRW: UInt64 = 1

    /// The leaf attributes for `prot`: AttrIndx normal or device, AP RO/RW, XN unless executable,
    /// SH inner-shareable unless LPA2, AF, software bits. BTI (GP) is not modelled as enabled.
    /// - Throws: `invalidArgument` (`-EINVAL`) without R, and for executable writable or device mappings.
    @inlinable
    public static func attributes(for prot: Prot, lpa2: Bool) throws(PgtableError) -> UInt64 {
        let device = prot.contains(.device)
        var attr = Descriptor.attrIndx.prep(device ? mtDeviceNGnRE : mtNormal)
        guard prot.contains(.r) else { throw .invalidArgument("hyp mapping without R") }
        if prot.contains(.x) {
            guard !prot.contains(.w) else { throw .invalidArgument("hyp mapping both W and X") }
            guard !device else { throw .invalidArgument("executable hyp device mapping") }
        } else {
            attr |= Descriptor.s1xn.mask
        }
        attr |= Descriptor.ap.prep(prot.contains(.w) ? apRW : apRO)
        if !lpa2 { attr |= Descriptor.sh.prep(3) }
        attr |= Descriptor.af.mask
        attr |= prot.rawValue & Descriptor.sw.mask
        return attr
    }
}

/// `hyp_map_walker`.
@usableFromInline
struct HypMapVisitor<MM: PgtableMMOps>: PgtableVisitor {
    @usableFromInline let mm: MM
    @usableFromInline let geometry: Geometry
    @usableFromInline let phys: UInt64
    @usableFromInline let attr: UInt64

    @inlinable
    init(mm: MM, geometry: Geometry, phys: UInt64, attr: UInt64) {
        self.mm = mm
        self.geometry = geometry
        self.phys = phys
        self.attr = attr
    }

    /// `hyp_map_walker_try_leaf`.
    @inlinable
    func tryLeaf(_ ctx: VisitContext) -> Bool {
        let pa = phys &+ (ctx.addr &- ctx.start)
        guard Stage2MapVisitor<MM>.blockMappingSupported(ctx, pa, geometry.granule) else { return false }
        let new = Descriptor.leaf(pa, attributes: attr, level: ctx.level, granule: geometry.granule, format: geometry.format)
        if ctx.old == new { return true }
        if !ctx.old.isValid {
            mm.getPage(ctx.entryAddress)
        } else if (ctx.old.rawValue ^ new.rawValue) & ~Descriptor.sw.mask != 0 {
            return false
        }
        ctx.write(new)
        return true
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        if tryLeaf(ctx) { return 0 }
        if ctx.level == Granule.lastLevel { return -KernelErrno.EINVAL }
        guard let child = try? mm.zallocPage() else { return -KernelErrno.ENOMEM }
        mm.getPage(ctx.entryAddress)
        ctx.write(Descriptor.table(child.rawValue, granule: geometry.granule, format: geometry.format))
        return 0
    }
}

/// `hyp_unmap_walker`.
@usableFromInline
struct HypUnmapVisitor<MM: PgtableMMOps>: PgtableVisitor {
    @usableFromInline let mm: MM
    @usableFromInline let geometry: Geometry
    @usableFromInline var unmapped: UInt64 = 0

    @inlinable
    init(mm: MM, geometry: Geometry) {
        self.mm = mm
        self.geometry = geometry
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        guard ctx.old.isValid else { return -KernelErrno.EINVAL }
        var child: PhysAddr?
        if ctx.old.isTable(at: ctx.level) {
            let c = PhysAddr(ctx.old.outputAddress(granule: geometry.granule, format: geometry.format))
            if mm.pageCount(c) != 1 { return 0 }
            child = c
            ctx.write(Descriptor(0))
        } else {
            let size = geometry.granule.levelSize(ctx.level)
            if ctx.end &- ctx.addr < size { return -KernelErrno.EINVAL }
            ctx.write(Descriptor(0))
            unmapped &+= size
        }
        mm.putPage(ctx.entryAddress)
        if let child { mm.putPage(child) }
        return 0
    }
}

/// `hyp_free_walker`.
@usableFromInline
struct HypFreeVisitor<MM: PgtableMMOps>: PgtableVisitor {
    @usableFromInline let mm: MM
    @usableFromInline let geometry: Geometry

    @inlinable
    init(mm: MM, geometry: Geometry) {
        self.mm = mm
        self.geometry = geometry
    }

    @inlinable
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        guard ctx.old.isValid else { return 0 }
        mm.putPage(ctx.entryAddress)
        if ctx.old.isTable(at: ctx.level) {
            mm.putPage(PhysAddr(ctx.old.outputAddress(granule: geometry.granule, format: geometry.format)))
        }
        return 0
    }
}
