import Pgtable

/// A page's state from one component's point of view (`enum pkvm_page_state`), independent of how a
/// kernel version encodes it. See `PageStateLayout` for the encodings.
public enum PageState: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The component owns the page and nobody else has access (`PKVM_PAGE_OWNED`).
    case owned
    /// The component owns the page and shares it with another (`PKVM_PAGE_SHARED_OWNED`).
    case sharedOwned
    /// The component has access to a page another owns (`PKVM_PAGE_SHARED_BORROWED`).
    case sharedBorrowed
    /// Meta state: no page here for this component (`PKVM_NOPAGE`); never stored in a PTE.
    case noPage

    public var description: String {
        switch self {
        case .owned: return "OWNED"
        case .sharedOwned: return "SHARED_OWNED"
        case .sharedBorrowed: return "SHARED_BORROWED"
        case .noPage: return "NOPAGE"
        }
    }
}
