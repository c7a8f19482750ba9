/// How a walk visits entries and what the caller allows (`enum kvm_pgtable_walk_flags`, same bit values).
@frozen
public struct WalkFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Visit leaf entries, including invalid ones (`KVM_PGTABLE_WALK_LEAF`).
    @inlinable public static var leaf: WalkFlags { WalkFlags(rawValue: 1 << 0) }
    /// Visit table entries before their children (`KVM_PGTABLE_WALK_TABLE_PRE`).
    @inlinable public static var tablePre: WalkFlags { WalkFlags(rawValue: 1 << 1) }
    /// Visit table entries after their children (`KVM_PGTABLE_WALK_TABLE_POST`).
    @inlinable public static var tablePost: WalkFlags { WalkFlags(rawValue: 1 << 2) }
    /// The walk may race with others and must use atomics (`KVM_PGTABLE_WALK_SHARED`).
    @inlinable public static var shared: WalkFlags { WalkFlags(rawValue: 1 << 3) }
    /// The walk handles a fault: `-EAGAIN` stops it (`KVM_PGTABLE_WALK_HANDLE_FAULT`).
    @inlinable public static var handleFault: WalkFlags { WalkFlags(rawValue: 1 << 4) }
    /// Skip TLB invalidation in break-before-make (`KVM_PGTABLE_WALK_SKIP_BBM_TLBI`).
    @inlinable public static var skipBBMTLBI: WalkFlags { WalkFlags(rawValue: 1 << 5) }
    /// Skip cache maintenance (`KVM_PGTABLE_WALK_SKIP_CMO`).
    @inlinable public static var skipCMO: WalkFlags { WalkFlags(rawValue: 1 << 6) }
}
