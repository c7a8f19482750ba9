/// What a descriptor is at a given level: `AArch64.DecodeDescriptorType` for 64-bit descriptors.
@frozen
public enum DescriptorType: String, Sendable {
    /// Points at the next-level table.
    case table
    /// A block (levels below 3) or page (level 3).
    case leaf
    /// Bit 0 clear, the reserved `01` encoding at level 3, or a block at a level where the granule allows
    /// none (`AArch64.BlockDescSupported`).
    case invalid

    /// `AArch64.DecodeDescriptorType(descriptor, d128 = 0, ds, tgx, level)`.
    @inlinable
    public static func decode(_ descriptor: Descriptor, level: Int, granule: Granule, ds: Bool, paMax: Int)
        -> DescriptorType
    {
        let raw = descriptor.rawValue
        if raw & 1 == 0 { return .invalid }
        if raw & 2 != 0 { return level == Granule.lastLevel ? .leaf : .table }
        if level == Granule.lastLevel || !blockSupported(granule: granule, level: level, ds: ds, paMax: paMax) {
            return .invalid
        }
        return .leaf
    }

    /// `AArch64.BlockDescSupported(d128 = 0, ds, tgx, level)`: 4K blocks at levels 1 and 2 (and 0 with
    /// DS=1); 16K at level 2 (and 1 with DS=1); 64K at level 2 (and 1 when PAMax is 52).
    @inlinable
    public static func blockSupported(granule: Granule, level: Int, ds: Bool, paMax: Int) -> Bool {
        switch granule {
        case .k4: return (level == 0 && ds) || level == 1 || level == 2
        case .k16: return (level == 1 && ds) || level == 2
        case .k64: return (level == 1 && paMax >= 52) || level == 2
        }
    }

    /// How a trace step shows a descriptor of this type at `level` (reserved encodings of a valid
    /// descriptor are `.reserved`).
    @inlinable
    public func stepKind(_ descriptor: Descriptor, level: Int) -> WalkStep.Kind {
        switch self {
        case .table: return .table
        case .leaf: return level == Granule.lastLevel ? .page : .block
        case .invalid: return descriptor.isValid ? .reserved : .invalid
        }
    }
}
