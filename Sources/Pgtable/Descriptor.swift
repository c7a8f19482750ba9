/// A raw 64-bit translation table descriptor (the kernel's `kvm_pte_t`), with every field at its
/// architectural bit position, declared once below.
///
/// Field names follow the Arm ARM (VMSAv8-64 descriptor formats) and the kernel's `KVM_PTE_*` masks in
/// `arch/arm64/include/asm/kvm_pgtable.h`.
@frozen
public struct Descriptor: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    @inlinable @inline(__always) public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable @inline(__always) public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    // MARK: Fields common to every descriptor

    /// Bit 0, `KVM_PTE_VALID`.
    @inlinable public static var valid: BitField { BitField(bit: 0) }
    /// Bit 1, `KVM_PTE_TYPE`: 1 = table (levels < 3) or page (level 3), 0 = block.
    @inlinable public static var type: BitField { BitField(bit: 1) }

    // MARK: Stage-2 leaf attributes (`KVM_PTE_LEAF_ATTR_LO_S2_*`, `_HI_S2_*`)

    /// MemAttr[5:2] (`KVM_PTE_LEAF_ATTR_LO_S2_MEMATTR`).
    @inlinable public static var memAttr: BitField { BitField(5, 2) }
    /// S2AP[7:6]: bit 6 read (`KVM_PTE_LEAF_ATTR_LO_S2_S2AP_R`), bit 7 write (`_S2AP_W`).
    @inlinable public static var s2ap: BitField { BitField(7, 6) }
    /// S2AP bit 6, read permission.
    @inlinable public static var s2apR: BitField { BitField(bit: 6) }
    /// S2AP bit 7, write permission.
    @inlinable public static var s2apW: BitField { BitField(bit: 7) }
    /// SH[9:8] shareability (`KVM_PTE_LEAF_ATTR_LO_S2_SH`); OA[51:50] under LPA2 instead.
    @inlinable public static var sh: BitField { BitField(9, 8) }
    /// AF, the access flag, bit 10 (`KVM_PTE_LEAF_ATTR_LO_S2_AF`, `_S1_AF`).
    @inlinable public static var af: BitField { BitField(bit: 10) }
    /// nG, bit 11 (stage 1 only).
    @inlinable public static var nG: BitField { BitField(bit: 11) }
    /// DBM, dirty bit modifier, bit 51.
    @inlinable public static var dbm: BitField { BitField(bit: 51) }
    /// Contiguous hint, bit 52.
    @inlinable public static var contiguous: BitField { BitField(bit: 52) }
    /// Stage-2 XN[54:53] (`KVM_PTE_LEAF_ATTR_HI_S2_XN`; bit 53 is XN[0] under FEAT_XNX).
    @inlinable public static var xn: BitField { BitField(54, 53) }
    /// Software bits SW0..SW3 [58:55] (`KVM_PTE_LEAF_ATTR_HI_SW`).
    @inlinable public static var sw: BitField { BitField(58, 55) }
    /// The lower leaf attributes [11:2] (`KVM_PTE_LEAF_ATTR_LO`).
    @inlinable public static var attrLo: BitField { BitField(11, 2) }
    /// The upper leaf attributes [63:50] (`KVM_PTE_LEAF_ATTR_HI`).
    @inlinable public static var attrHi: BitField { BitField(63, 50) }

    // MARK: Stage-1 (hyp) leaf attributes (`KVM_PTE_LEAF_ATTR_LO_S1_*`, `_HI_S1_*`)

    /// AttrIndx[4:2], the MAIR index (`KVM_PTE_LEAF_ATTR_LO_S1_ATTRIDX`).
    @inlinable public static var attrIndx: BitField { BitField(4, 2) }
    /// AP[7:6] (`KVM_PTE_LEAF_ATTR_LO_S1_AP`).
    @inlinable public static var ap: BitField { BitField(7, 6) }
    /// GP, guarded page, bit 50 (`KVM_PTE_LEAF_ATTR_HI_S1_GP`).
    @inlinable public static var gp: BitField { BitField(bit: 50) }
    /// PXN, bit 53 (stage 1).
    @inlinable public static var pxn: BitField { BitField(bit: 53) }
    /// XN / UXN, bit 54 (`KVM_PTE_LEAF_ATTR_HI_S1_XN`).
    @inlinable public static var s1xn: BitField { BitField(bit: 54) }

    // MARK: Invalid-entry annotations

    /// Owner id of an invalid entry [9:2] (`KVM_INVALID_PTE_OWNER_MASK`).
    @inlinable public static var ownerID: BitField { BitField(9, 2) }
    /// Bit 10 of an invalid entry: a stage-2 entry locked for break-before-make (`KVM_INVALID_PTE_LOCKED`).
    @inlinable public static var locked: BitField { BitField(bit: 10) }

    // MARK: Access

    /// `FIELD_GET` of `field`.
    @inlinable @inline(__always)
    public subscript(field: BitField) -> UInt64 {
        get { field.get(rawValue) }
        set { rawValue = field.set(rawValue, newValue) }
    }

    /// `kvm_pte_valid`.
    @inlinable @inline(__always) public var isValid: Bool { rawValue & 1 != 0 }

    /// `kvm_pte_table`: a valid descriptor with the type bit set, above the last level.
    @inlinable @inline(__always)
    public func isTable(at level: Int) -> Bool {
        level < Granule.lastLevel && rawValue & 3 == 3
    }

    /// The output address (next table, block or page) for `granule` in `format` (`kvm_pte_to_phys`).
    @inlinable @inline(__always)
    public func outputAddress(granule: Granule, format: OutputAddressFormat) -> UInt64 {
        format.address(of: rawValue, shift: granule.shift)
    }

    /// A table descriptor pointing at `table` (`kvm_init_table_pte`).
    @inlinable @inline(__always)
    public static func table(_ table: UInt64, granule: Granule, format: OutputAddressFormat) -> Descriptor {
        Descriptor(format.bits(for: table, shift: granule.shift) | 3)
    }

    /// A valid leaf (block below the last level, page at it) for `address` with the leaf attributes of
    /// `attributes` (`kvm_init_valid_leaf_pte`).
    @inlinable @inline(__always)
    public static func leaf(
        _ address: UInt64, attributes: UInt64, level: Int, granule: Granule, format: OutputAddressFormat
    ) -> Descriptor {
        var d = format.bits(for: address, shift: granule.shift)
        d |= attributes & (attrLo.mask | attrHi.mask)
        if level == Granule.lastLevel { d |= 2 }
        return Descriptor(d | 1)
    }

    /// An invalid entry recording that the page belongs to `owner` (`kvm_init_invalid_leaf_owner`).
    @inlinable @inline(__always)
    public static func invalidOwner(_ owner: UInt8) -> Descriptor {
        Descriptor(ownerID.prep(UInt64(owner)))
    }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}
