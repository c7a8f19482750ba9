/// The access a translation is made for: the Arm ARM's `AccessDescriptor` reduced to what a stage-2 or
/// EL2 stage-1 walk looks at.
@frozen
public struct TranslationAccess: Sendable, Equatable, CustomStringConvertible {
    /// Read, write or instruction fetch (`accdesc.read`, `accdesc.write`, `AccessType_IFETCH`).
    @frozen
    public enum Kind: String, Sendable, CaseIterable {
        case read, write, execute
    }

    public var kind: Kind
    /// The stage-1 access came from EL0 (`accdesc.el == EL0`): selects the EL0 half of the stage-2
    /// XN[1:0] encoding. Ignored for the hyp stage 1.
    public var el0: Bool
    /// An address translation instruction (`AccessType_AT`, e.g. `AT S12E1W`): hardware does not set the
    /// dirty state for it (`AArch64.S2Translate`), though it may set the access flag.
    public var addressTranslation: Bool

    @inlinable
    public init(_ kind: Kind, el0: Bool = false, addressTranslation: Bool = false) {
        self.kind = kind
        self.el0 = el0
        self.addressTranslation = addressTranslation
    }

    // Computed rather than `static let`: another module reaches a `static let` through its lazy-initialising
    // addressor, a call on every use.
    /// A data read from EL1.
    @inlinable public static var read: TranslationAccess { TranslationAccess(.read) }
    /// A data write from EL1.
    @inlinable public static var write: TranslationAccess { TranslationAccess(.write) }
    /// An instruction fetch from EL1.
    @inlinable public static var execute: TranslationAccess { TranslationAccess(.execute) }

    /// `AT S12E1R` / `AT S12E1W` (or `AT S1E2R` / `AT S1E2W` for the hyp stage 1).
    @inlinable
    public static func at(write: Bool) -> TranslationAccess {
        TranslationAccess(write ? .write : .read, addressTranslation: true)
    }

    @inlinable public var isWrite: Bool { kind == .write }

    public var description: String {
        (addressTranslation ? "AT " : "") + kind.rawValue + (el0 ? " (EL0)" : "")
    }
}
