/// What a translated leaf allows, after `AArch64.S2ApplyOutputPerms` / `AArch64.S1ApplyOutputPerms` and the
/// table-level restrictions (hyp stage 1): read, write, and execute from EL1 and from EL0.
@frozen
public struct TranslationPermissions: Sendable, Equatable, CustomStringConvertible {
    public let read: Bool
    public let write: Bool
    /// Instruction fetch allowed for an EL1 (privileged) access; at the hyp stage 1, for EL2.
    public let executeEL1: Bool
    /// Instruction fetch allowed for an EL0 access (stage 2 only; always false at the hyp stage 1).
    public let executeEL0: Bool

    @inlinable
    public init(read: Bool, write: Bool, executeEL1: Bool, executeEL0: Bool) {
        self.read = read
        self.write = write
        self.executeEL1 = executeEL1
        self.executeEL0 = executeEL0
    }

    /// Whether `access` is allowed (`AArch64.S2CheckPermissions` for direct permissions).
    @inlinable
    public func allows(_ access: TranslationAccess) -> Bool {
        switch access.kind {
        case .read: return read
        case .write: return write
        case .execute: return access.el0 ? executeEL0 : executeEL1
        }
    }

    public var description: String {
        (read ? "R" : "-") + (write ? "W" : "-") + (executeEL1 ? "X" : "-") + (executeEL0 ? "x" : "-")
    }
}
