/// VTCR_EL2, the stage-2 translation control register, with its fields at their Arm ARM positions
/// (the kernel's `VTCR_EL2_*` in `arch/arm64/include/asm/kvm_arm.h`).
@frozen
public struct VTCR: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// T0SZ[5:0]: the IPA size is 64 - T0SZ (`VTCR_EL2_T0SZ_MASK`).
    public static let t0sz = BitField(5, 0)
    /// SL0[7:6]: start level, with SL2 (`VTCR_EL2_SL0_MASK`).
    public static let sl0 = BitField(7, 6)
    /// IRGN0[9:8].
    public static let irgn0 = BitField(9, 8)
    /// ORGN0[11:10].
    public static let orgn0 = BitField(11, 10)
    /// SH0[13:12]: shareability of walks, and of leaves under DS=1.
    public static let sh0 = BitField(13, 12)
    /// TG0[15:14]: 0b00 4K, 0b01 64K, 0b10 16K (`VTCR_EL2_TG0_MASK`).
    public static let tg0 = BitField(15, 14)
    /// PS[18:16]: output (physical) address size (`VTCR_EL2_PS_MASK`).
    public static let ps = BitField(18, 16)
    /// VS, bit 19: 16-bit VMIDs.
    public static let vs = BitField(bit: 19)
    /// HA, bit 21: hardware access flag update (`VTCR_EL2_HA`).
    public static let ha = BitField(bit: 21)
    /// HD, bit 22: hardware dirty state update (`VTCR_EL2_HD`).
    public static let hd = BitField(bit: 22)
    /// DS, bit 32: FEAT_LPA2 52-bit addresses with 4K/16K (`VTCR_EL2_DS`).
    public static let ds = BitField(bit: 32)
    /// SL2, bit 33: with SL0=0 and 4K under DS=1, start at level -1.
    public static let sl2 = BitField(bit: 33)

    @inlinable
    public subscript(field: BitField) -> UInt64 {
        get { field.get(rawValue) }
        set { rawValue = field.set(rawValue, newValue) }
    }

    /// The granule TG0 selects, or nil for the reserved encoding 0b11.
    public var granule: Granule? {
        switch self[VTCR.tg0] {
        case 0: return .k4
        case 1: return .k64
        case 2: return .k16
        default: return nil
        }
    }

    /// TG0's encoding of `granule`.
    public static func tg0(_ granule: Granule) -> UInt64 {
        switch granule {
        case .k4: return 0
        case .k64: return 1
        case .k16: return 2
        }
    }

    /// The IPA size in bits, 64 - T0SZ (`VTCR_EL2_IPA`).
    public var ipaBits: Int { 64 - Int(self[VTCR.t0sz]) }

    /// The physical address size PS encodes (0b000 32 … 0b110 52), or nil for 0b111.
    public var paBits: Int? { PARange.bits(self[VTCR.ps]) }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// The PARange / PS / IPS encoding of physical address sizes (`ID_AA64MMFR0_EL1.PARange`).
public enum PARange {
    static let table = [32, 36, 40, 42, 44, 48, 52]

    /// Bits for an encoding, or nil if reserved.
    public static func bits(_ encoding: UInt64) -> Int? {
        encoding < UInt64(table.count) ? table[Int(encoding)] : nil
    }

    /// The encoding of exactly `bits` bits, or nil if there is none.
    public static func encoding(_ bits: Int) -> UInt64? {
        table.firstIndex(of: bits).map { UInt64($0) }
    }
}
