import Pgtable

/// How one kernel version encodes `enum pkvm_page_state`: the enum's values, how `pkvm_mkstate` puts a
/// state into a prot (and so into the PTE software bits SW0/SW1, bits 55/56), and how `pkvm_getstate`
/// reads it back. Layouts are values in a table (`PageStateLayout.all`), not constants scattered in code.
///
/// - v6.13 (`mem_protect.h`): the enum values *are* the PTE bits (`SHARED_OWNED = KVM_PGTABLE_PROT_SW0`,
///   `SHARED_BORROWED = KVM_PGTABLE_PROT_SW1`); `mkstate` is `(prot & ~mask) | state`, `getstate` is
///   `prot & mask`.
/// - v6.14 (`memory.h`, the seed patch "Change the layout of enum pkvm_page_state"): `OWNED = 0`,
///   `SHARED_OWNED = BIT(0)`, `SHARED_BORROWED = BIT(1)`, `NOPAGE = BIT(2)`; `mkstate` is
///   `FIELD_PREP(mask, state)`, `getstate` is `FIELD_GET(mask, prot)`.
///
/// Later layouts (v6.15+ also keeps the hyp's state in `struct hyp_page`, complemented) are new entries
/// of this table plus a new `HypPageLayout`; the transition code only goes through these functions.
public struct PageStateLayout: Sendable, Equatable, CustomStringConvertible {
    /// How `pkvm_mkstate`/`pkvm_getstate` move the enum value in and out of the prot.
    public enum Encoding: Sendable, Equatable {
        /// The enum values are prot bits: `(prot & ~mask) | state`, `prot & mask` (v6.13).
        case protBits
        /// `FIELD_PREP(mask, state)`, `FIELD_GET(mask, prot)` (v6.14).
        case fieldPrep
    }

    /// Short name (`v6.13`, `v6.14`, …).
    public let name: String
    public let encoding: Encoding
    /// `PKVM_PAGE_OWNED`.
    public let owned: UInt64
    /// `PKVM_PAGE_SHARED_OWNED`.
    public let sharedOwned: UInt64
    /// `PKVM_PAGE_SHARED_BORROWED`.
    public let sharedBorrowed: UInt64
    /// `__PKVM_PAGE_RESERVED` (lending, unused).
    public let reserved: UInt64
    /// `PKVM_NOPAGE`, a meta state.
    public let noPage: UInt64
    /// `PKVM_PAGE_META_STATES_MASK`: values with any of these bits set are meta states. v6.13 has no such
    /// mask; its only meta state is `PKVM_NOPAGE`, the value after `__PKVM_PAGE_RESERVED`.
    public let metaStatesMask: UInt64?
    /// What each value of the 2-bit SW1:SW0 field decodes to (index = `FIELD_GET(mask, pte)`); nil for the
    /// reserved value. Only a planted layout changes this.
    public let fieldDecode: (PageState?, PageState?, PageState?, PageState?)

    /// `PKVM_PAGE_STATE_PROT_MASK` = `KVM_PGTABLE_PROT_SW0 | KVM_PGTABLE_PROT_SW1` (PTE bits 55, 56).
    public static let protMask = BitField(56, 55)

    /// The v6.13 layout (state in the host stage-2 PTE software bits).
    public static let v613 = PageStateLayout(
        name: "v6.13", encoding: .protBits, owned: 0, sharedOwned: Prot.sw0.rawValue,
        sharedBorrowed: Prot.sw1.rawValue, reserved: Prot.sw0.rawValue | Prot.sw1.rawValue,
        noPage: (Prot.sw0.rawValue | Prot.sw1.rawValue) + 1, metaStatesMask: nil,
        fieldDecode: (.owned, .sharedOwned, .sharedBorrowed, nil))

    /// The v6.14 layout (host state in `struct hyp_page`).
    public static let v614 = PageStateLayout(
        name: "v6.14", encoding: .fieldPrep, owned: 0, sharedOwned: 1 << 0, sharedBorrowed: 1 << 1,
        reserved: (1 << 0) | (1 << 1), noPage: 1 << 2, metaStatesMask: ~((1 << 0) | (1 << 1)),
        fieldDecode: (.owned, .sharedOwned, .sharedBorrowed, nil))

    /// A deliberately broken v6.14: SHARED_BORROWED PTEs decode as SHARED_OWNED. Exists only to show that
    /// the equivalence checker catches a behaviour change.
    public static let plantedBorrowedBug = PageStateLayout(
        name: "planted-borrowed-bug", encoding: .fieldPrep, owned: 0, sharedOwned: 1 << 0, sharedBorrowed: 1 << 1,
        reserved: (1 << 0) | (1 << 1), noPage: 1 << 2, metaStatesMask: ~((1 << 0) | (1 << 1)),
        fieldDecode: (.owned, .sharedOwned, .sharedOwned, nil))

    /// Every layout, by name.
    public static let all: [PageStateLayout] = [.v613, .v614, .plantedBorrowedBug]

    /// The layout called `name`, if any.
    public static func named(_ name: String) -> PageStateLayout? { all.first { $0.name == name } }

    public init(
        name: String, encoding: Encoding, owned: UInt64, sharedOwned: UInt64, sharedBorrowed: UInt64,
        reserved: UInt64, noPage: UInt64, metaStatesMask: UInt64?,
        fieldDecode: (PageState?, PageState?, PageState?, PageState?)
    ) {
        self.name = name
        self.encoding = encoding
        self.owned = owned
        self.sharedOwned = sharedOwned
        self.sharedBorrowed = sharedBorrowed
        self.reserved = reserved
        self.noPage = noPage
        self.metaStatesMask = metaStatesMask
        self.fieldDecode = fieldDecode
    }

    public static func == (a: PageStateLayout, b: PageStateLayout) -> Bool {
        a.name == b.name && a.encoding == b.encoding && a.owned == b.owned && a.sharedOwned == b.sharedOwned
            && a.sharedBorrowed == b.sharedBorrowed && a.reserved == b.reserved && a.noPage == b.noPage
            && a.metaStatesMask == b.metaStatesMask && a.fieldDecode.0 == b.fieldDecode.0
            && a.fieldDecode.1 == b.fieldDecode.1 && a.fieldDecode.2 == b.fieldDecode.2
            && a.fieldDecode.3 == b.fieldDecode.3
    }

    public var description: String { name }

    /// The enum value of `state` in this layout.
    @inlinable
    public func value(of state: PageState) -> UInt64 {
        switch state {
        case .owned: return owned
        case .sharedOwned: return sharedOwned
        case .sharedBorrowed: return sharedBorrowed
        case .noPage: return noPage
        }
    }

    /// The state an enum value names (`reserved` and unknown values give nil).
    @inlinable
    public func state(ofValue v: UInt64) -> PageState? {
        if v == owned { return .owned }
        if v == sharedOwned { return .sharedOwned }
        if v == sharedBorrowed { return .sharedBorrowed }
        if v == noPage { return .noPage }
        return nil
    }

    /// Whether `state` is a meta state (`state & PKVM_PAGE_META_STATES_MASK`; v6.13: `PKVM_NOPAGE`).
    @inlinable
    public func isMeta(_ state: PageState) -> Bool {
        if let m = metaStatesMask { return value(of: state) & m != 0 }
        return state == .noPage
    }

    /// `pkvm_mkstate(prot, state)`.
    /// - Throws: `HypError.metaStateInPTE` for a meta state (the seed's `BUG_ON`; merged v6.14 dropped the
    ///   check and `FIELD_PREP` would silently give the OWNED bits).
    @inlinable
    public func mkstate(_ prot: Prot, _ state: PageState) throws(HypError) -> Prot {
        guard !isMeta(state) else { throw .metaStateInPTE(state) }
        let mask = Self.protMask.mask
        let bits: UInt64
        switch encoding {
        case .protBits: bits = value(of: state)
        case .fieldPrep: bits = Self.protMask.prep(value(of: state))
        }
        return Prot(rawValue: (prot.rawValue & ~mask) | bits)
    }

    /// `pkvm_getstate(prot)`: the raw enum value stored in the prot.
    @inlinable
    public func getstate(_ prot: Prot) -> UInt64 {
        switch encoding {
        case .protBits: return prot.rawValue & Self.protMask.mask
        case .fieldPrep: return Self.protMask.get(prot.rawValue)
        }
    }

    /// The state a PTE's prot records (nil for the reserved encoding).
    @inlinable
    public func state(ofPTEProt prot: Prot) -> PageState? {
        switch Self.protMask.get(prot.rawValue) {
        case 0: return fieldDecode.0
        case 1: return fieldDecode.1
        case 2: return fieldDecode.2
        default: return fieldDecode.3
        }
    }
}
