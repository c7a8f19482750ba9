import Mem
import Pgtable

/// Errors of the pKVM model. Kernel-visible failures are not errors: transitions return the kernel's
/// return value (0 or a negative errno) as `Int32`. These cases are what the kernel would turn into a
/// `BUG_ON`, a bad configuration of the model, or a failure of the emulated memory underneath.
public enum HypError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A meta state (`PKVM_NOPAGE`) was passed to `pkvm_mkstate`: the seed patch's
    /// `BUG_ON(state & PKVM_PAGE_META_STATES_MASK)`.
    case metaStateInPTE(PageState)
    /// A machine configuration the model cannot build (the string says why).
    case invalidConfig(String)
    /// The emulated memory refused an access.
    case memory(MemError)
    /// The table code failed outside the kernel's errno contract (a table outside backed memory).
    case pgtable(PgtableError)
    /// `hyp_pool` ran dry while the model was being set up (the kernel would fail to initialise).
    case outOfPages(String)
    /// An address given where the hypercall ABI takes a frame number is not page aligned.
    case unaligned(UInt64)

    public var description: String {
        switch self {
        case .metaStateInPTE(let s): return "pkvm_mkstate with meta state \(s) (BUG_ON)"
        case .invalidConfig(let s): return "invalid pKVM machine configuration: \(s)"
        case .memory(let m): return "emulated memory: \(m)"
        case .pgtable(let p): return "page table: \(p)"
        case .outOfPages(let s): return "hyp_pool exhausted: \(s)"
        case .unaligned(let a): return "address 0x\(String(a, radix: 16)) is not page aligned"
        }
    }
}
