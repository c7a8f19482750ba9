/// A field of a 64-bit register or descriptor, declared once by its bit range (`GENMASK(hi, lo)`), from
/// which both `FIELD_GET` and `FIELD_PREP` are derived.
@frozen
public struct BitField: Sendable, Equatable {
    /// Lowest bit of the field.
    public let low: Int
    /// Number of bits.
    public let width: Int

    /// The field `[high:low]`, as the Arm ARM and `GENMASK(high, low)` write it.
    @inlinable @inline(__always)
    public init(_ high: Int, _ low: Int) {
        self.low = low
        self.width = high - low + 1
    }

    /// The single bit `bit` (`BIT(bit)`).
    @inlinable @inline(__always)
    public init(bit: Int) { self.init(bit, bit) }

    /// The field's bits in place (`GENMASK(high, low)`).
    @inlinable @inline(__always)
    public var mask: UInt64 { (width == 64 ? ~0 : (1 << UInt64(width)) - 1) << UInt64(low) }

    /// `FIELD_GET(mask, word)`.
    @inlinable @inline(__always)
    public func get(_ word: UInt64) -> UInt64 { (word & mask) >> UInt64(low) }

    /// `FIELD_PREP(mask, value)`: `value` moved into place and clipped to the field.
    @inlinable @inline(__always)
    public func prep(_ value: UInt64) -> UInt64 { (value << UInt64(low)) & mask }

    /// `word` with the field replaced by `value`.
    @inlinable @inline(__always)
    public func set(_ word: UInt64, _ value: UInt64) -> UInt64 { (word & ~mask) | prep(value) }
}
