/// A physical address in emulated memory (the kernel's `phys_addr_t`).
///
/// A thin newtype so that physical addresses, intermediate physical addresses and
/// hypervisor virtual addresses cannot be mixed up by accident.
@frozen
public struct PhysAddr: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    @inlinable
    public init(_ value: UInt64) { self.rawValue = value }

    @inlinable
    public static func < (lhs: PhysAddr, rhs: PhysAddr) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The address `offset` bytes further on (wrapping is the caller's concern: see `MemError.outOfRange`).
    @inlinable
    public static func + (lhs: PhysAddr, offset: UInt64) -> PhysAddr { PhysAddr(lhs.rawValue &+ offset) }

    /// The distance in bytes from `rhs` up to `lhs`.
    @inlinable
    public static func - (lhs: PhysAddr, rhs: PhysAddr) -> UInt64 { lhs.rawValue &- rhs.rawValue }

    /// Whether the address is a multiple of `alignment` (a power of two).
    @inlinable
    public func isAligned(_ alignment: UInt64) -> Bool { rawValue & (alignment &- 1) == 0 }

    /// The address rounded down to a multiple of `alignment` (a power of two), the kernel's `ALIGN_DOWN`.
    @inlinable
    public func alignedDown(_ alignment: UInt64) -> PhysAddr { PhysAddr(rawValue & ~(alignment &- 1)) }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// A physical frame number for a given page size (the kernel's `pfn`, `hyp_phys_to_pfn`).
@frozen
public struct PFN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The frame holding `address` for pages of `1 << pageShift` bytes.
    @inlinable
    public init(_ address: PhysAddr, pageShift: Int) { self.rawValue = address.rawValue >> UInt64(pageShift) }

    /// The first byte of the frame for pages of `1 << pageShift` bytes.
    @inlinable
    public func address(pageShift: Int) -> PhysAddr { PhysAddr(rawValue << UInt64(pageShift)) }

    @inlinable
    public static func < (lhs: PFN, rhs: PFN) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "pfn 0x" + String(rawValue, radix: 16) }
}
