/// How a walk visits entries and what the caller allows (`enum kvm_pgtable_walk_flags`, same bit values).
@frozen
public struct WalkFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Visit leaf entries, including invalid ones (`KVM_PGTABLE_WALK_LEAF`).
    public static let leaf = WalkFlags(rawValue: 1 << 0)
    /// Visit table entries before their children (`KVM_PGTABLE_WALK_TABLE_PRE`).
    public static let tablePre = WalkFlags(rawValue: 1 << 1)
    /// Visit table entries after their children (`KVM_PGTABLE_WALK_TABLE_POST`).
    public static let tablePost = WalkFlags(rawValue: 1 << 2)
    /// The walk may race with others and must use atomics (`KVM_PGTABLE_WALK_SHARED`).
    public static let shared = WalkFlags(rawValue: 1 << 3)
    /// The walk handles a fault: `-EAGAIN` stops it (`KVM_PGTABLE_WALK_HANDLE_FAULT`).
    public static let handleFault = WalkFlags(rawValue: 1 << 4)
    /// Skip TLB invalidation in break-before-make (`KVM_PGTABLE_WALK_SKIP_BBM_TLBI`).
    public static let skipBBMTLBI = WalkFlags(rawValue: 1 << 5)
    /// Skip cache maintenance (`KVM_PGTABLE_WALK_SKIP_CMO`).
    public static let skipCMO = WalkFlags(rawValue: 1 << 6)
}
