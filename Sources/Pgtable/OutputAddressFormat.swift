/// Where a descriptor keeps its output (next-level table or leaf) address.
///
/// Models `kvm_pte_to_phys`/`kvm_phys_to_pte` and the Arm ARM's descriptor address layouts:
/// 48-bit PA (OA[47:granule]); FEAT_LPA with the 64K granule (OA[51:48] in bits 15:12);
/// FEAT_LPA2 with DS=1 (OA[49:granule] in place and OA[51:50] in bits 9:8).
@frozen
public enum OutputAddressFormat: Sendable, Equatable, CustomStringConvertible {
    /// OA[47:shift] in place (`KVM_PTE_ADDR_MASK`).
    case pa48
    /// 64K granule, FEAT_LPA: OA[47:16] in place, OA[51:48] in bits 15:12 (`KVM_PTE_ADDR_51_48`).
    case lpa
    /// FEAT_LPA2 (DS=1): OA[49:shift] in place (`KVM_PTE_ADDR_MASK_LPA2`), OA[51:50] in bits 9:8
    /// (`KVM_PTE_ADDR_51_50_LPA2`).
    case lpa2

    /// The format the kernel uses for `granule`: with LPA2 enabled `lpa2`; otherwise `lpa` for 64K pages
    /// (the kernel always folds bits 15:12 in for 64K) and `pa48` for 4K/16K.
    @inlinable @inline(__always)
    public static func kernel(granule: Granule, lpa2: Bool) -> OutputAddressFormat {
        lpa2 ? .lpa2 : (granule == .k64 ? .lpa : .pa48)
    }

    /// Largest output address width this format can express.
    @inlinable @inline(__always)
    public var maxBits: Int { self == .pa48 ? 48 : 52 }

    /// The address in `descriptor` for pages of `1 << shift` bytes (`kvm_pte_to_phys`).
    @inlinable @inline(__always)
    public func address(of descriptor: UInt64, shift: Int) -> UInt64 {
        switch self {
        case .pa48:
            return descriptor & BitField(47, shift).mask
        case .lpa:
            return (descriptor & BitField(47, shift).mask) | (BitField(15, 12).get(descriptor) << 48)
        case .lpa2:
            return (descriptor & BitField(49, shift).mask) | (BitField(9, 8).get(descriptor) << 50)
        }
    }

    /// The descriptor bits holding `address` (`kvm_phys_to_pte`); bits the format cannot hold are dropped.
    @inlinable @inline(__always)
    public func bits(for address: UInt64, shift: Int) -> UInt64 {
        switch self {
        case .pa48:
            return address & BitField(47, shift).mask
        case .lpa:
            return (address & BitField(47, shift).mask) | BitField(15, 12).prep(address >> 48)
        case .lpa2:
            return (address & BitField(49, shift).mask) | BitField(9, 8).prep(address >> 50)
        }
    }

    /// The descriptor bits that hold address bits in this format.
    @inlinable @inline(__always)
    public func addressMask(shift: Int) -> UInt64 { bits(for: ~0, shift: shift) }

    public var description: String {
        switch self {
        case .pa48: return "48-bit"
        case .lpa: return "LPA (52-bit, 64K)"
        case .lpa2: return "LPA2 (52-bit, DS=1)"
        }
    }
}
