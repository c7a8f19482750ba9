/// A translation granule: the page size of a translation regime (the kernel's `PAGE_SHIFT` when the
/// tables are built for a kernel with that page size; the Arm ARM's `TGx`).
@frozen
public enum Granule: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// 4 KiB pages, 512 entries per table.
    case k4 = 12
    /// 16 KiB pages, 2048 entries per table.
    case k16 = 14
    /// 64 KiB pages, 8192 entries per table.
    case k64 = 16

    /// log2 of the page size (`PAGE_SHIFT`).
    @inlinable @inline(__always) public var shift: Int { rawValue }
    /// Bytes per page and per table (`PAGE_SIZE`).
    @inlinable @inline(__always) public var size: UInt64 { 1 << UInt64(rawValue) }
    /// Address bits resolved per level (`PAGE_SHIFT - 3`).
    @inlinable @inline(__always) public var bitsPerLevel: Int { rawValue - 3 }
    /// Entries per table (`PTRS_PER_PTE`).
    @inlinable @inline(__always) public var entries: Int { 1 << (rawValue - 3) }

    /// The lowest level a walk can start at: -1 for 4K (LPA2), 0 otherwise (`KVM_PGTABLE_FIRST_LEVEL`
    /// is -1 in a kernel built for LPA2; levels below 0 only exist for 4K).
    @inlinable @inline(__always) public var firstLevel: Int { self == .k4 ? -1 : 0 }

    /// The last level (`KVM_PGTABLE_LAST_LEVEL`).
    public static let lastLevel = 3

    /// log2 of the address range one entry at `level` maps (`kvm_granule_shift`,
    /// `ARM64_HW_PGTABLE_LEVEL_SHIFT`).
    @inlinable @inline(__always)
    public func levelShift(_ level: Int) -> Int { (rawValue - 3) * (4 - level) + 3 }

    /// Bytes one entry at `level` maps (`kvm_granule_size`).
    @inlinable @inline(__always)
    public func levelSize(_ level: Int) -> UInt64 {
        let s = levelShift(level)
        return s >= 64 ? 0 : 1 << UInt64(s)
    }

    /// The first level at which the kernel makes block mappings (`KVM_PGTABLE_MIN_BLOCK_LEVEL`):
    /// 1 for 4K (1 GiB blocks), 2 for 16K and 64K (32 MiB / 512 MiB blocks).
    @inlinable @inline(__always)
    public var minBlockLevel: Int { self == .k4 ? 1 : 2 }

    /// Whether the kernel maps blocks at `level` (`kvm_level_supports_block_mapping`).
    @inlinable @inline(__always)
    public func supportsBlock(at level: Int) -> Bool { level >= minBlockLevel }

    /// `ARM64_HW_PGTABLE_LEVELS(va_bits)`: levels needed to resolve `vaBits` bits of address.
    @inlinable @inline(__always)
    public func levels(forAddressBits vaBits: Int) -> Int { (vaBits - 4) / (rawValue - 3) }

    public var description: String {
        switch self {
        case .k4: return "4K"
        case .k16: return "16K"
        case .k64: return "64K"
        }
    }

    /// The granule named `4K`/`16K`/`64K` (case-insensitive; `4k`, `4096` also accepted).
    public init?(name: String) {
        switch name.lowercased() {
        case "4k", "4096", "k4": self = .k4
        case "16k", "16384", "k16": self = .k16
        case "64k", "65536", "k64": self = .k64
        default: return nil
        }
    }
}
