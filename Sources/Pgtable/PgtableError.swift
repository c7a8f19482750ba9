import Mem

/// Errors of the table code. Each kernel-visible failure carries the errno the kernel returns for the
/// same condition (`errno`), so results can be compared with a run of the kernel's own `pgtable.c`.
public enum PgtableError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `-EINVAL`: an argument the kernel rejects (bad prot combination, owner id too large, an IPA/phys
    /// mismatch on an identity map, a walk reaching past the last level…). The string says which.
    case invalidArgument(String)
    /// `-ENOMEM`: no memcache was supplied, or the page allocator ran dry.
    case outOfMemory
    /// `-EAGAIN`: the entry already had the requested value, was invalid where a valid leaf was required,
    /// or was locked (`KVM_INVALID_PTE_LOCKED`) so that break-before-make could not take it. Outside a
    /// fault-handling walk the kernel's walker ignores `-EAGAIN`, so only such walks report it.
    case tryAgain
    /// `-ERANGE`: the range `[start, end)` reaches past the input address space `limit` (`BIT(ia_bits)`).
    case outOfRange(start: UInt64, end: UInt64, limit: UInt64)
    /// The walk reached a table address that no memory backs. The kernel would take an abort here;
    /// s2emu reports it and stops. Entries written before the fault stay written, as on the kernel.
    case unbackedTable(MemError)
    /// VTCR_EL2 / TCR_EL2 or `(ia_bits, start_level)` describe no valid translation regime.
    case invalidGeometry(String)
    /// The output range `[phys, phys+size)` of a mapping reaches past the regime's PS (`oaBits`). The kernel
    /// has no check here: `kvm_phys_to_pte` silently drops the bits the descriptor cannot hold. s2emu
    /// refuses such a mapping unless the table's `truncatesOutputAddress` asks for the kernel's behaviour.
    case outputBeyondPS(phys: UInt64, size: UInt64, oaBits: Int)

    /// The kernel's return value for this condition (negative errno), or nil where the kernel has none.
    public var errno: Int32? {
        switch self {
        case .invalidArgument, .invalidGeometry: return -KernelErrno.EINVAL
        case .outOfMemory: return -KernelErrno.ENOMEM
        case .tryAgain: return -KernelErrno.EAGAIN
        case .outOfRange: return -KernelErrno.ERANGE
        case .unbackedTable, .outputBeyondPS: return nil
        }
    }

    public var description: String {
        switch self {
        case .invalidArgument(let s): return "-EINVAL: \(s)"
        case .outOfMemory: return "-ENOMEM: no memcache or no free page for a table"
        case .tryAgain:
            return "-EAGAIN: the entry already holds this mapping, is not a valid leaf, or is locked"
                + " (fault-handling walk)"
        case .outOfRange(let s, let e, let l):
            return "-ERANGE: range 0x\(String(s, radix: 16))-0x\(String(e, radix: 16)) reaches past the input"
                + " address space, which ends at 0x\(String(l, radix: 16))"
        case .unbackedTable(let m): return "walk left backed memory: \(m)"
        case .invalidGeometry(let s): return "invalid translation regime: \(s)"
        case .outputBeyondPS(let p, let n, let bits):
            return "output range 0x\(String(p, radix: 16))+0x\(String(n, radix: 16)) exceeds the \(bits)-bit PS"
        }
    }

    /// The error for a walker's negative errno `code` (never 0).
    @usableFromInline
    static func from(code: Int32, context: @autoclosure () -> String) -> PgtableError {
        switch -code {
        case KernelErrno.ENOMEM: return .outOfMemory
        case KernelErrno.EAGAIN: return .tryAgain
        default: return .invalidArgument(context())
        }
    }
}

/// The Linux errno values the table code and pKVM return (`include/uapi/asm-generic/errno-base.h`).
public enum KernelErrno {
    public static let EPERM: Int32 = 1
    public static let ENOENT: Int32 = 2
    public static let E2BIG: Int32 = 7
    public static let EAGAIN: Int32 = 11
    public static let ENOMEM: Int32 = 12
    public static let EFAULT: Int32 = 14
    public static let EBUSY: Int32 = 16
    public static let EEXIST: Int32 = 17
    public static let EINVAL: Int32 = 22
    public static let ERANGE: Int32 = 34
    public static let ENOTSUPP: Int32 = 524

    /// `-EINVAL` style name of a negative errno.
    public static func name(_ code: Int32) -> String {
        let names: [Int32: String] = [
            EPERM: "EPERM", ENOENT: "ENOENT", E2BIG: "E2BIG", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
            EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", EINVAL: "EINVAL", ERANGE: "ERANGE",
            ENOTSUPP: "ENOTSUPP",
        ]
        if code == 0 { return "0" }
        return (code < 0 ? "-" : "") + (names[abs(code)] ?? String(abs(code)))
    }
}
