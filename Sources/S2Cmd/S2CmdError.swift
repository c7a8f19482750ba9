import Mem
import Pgtable

/// Everything that can go wrong with one line of the command language. A failed line changes nothing
/// it did not already report (table operations keep the kernel's partial effects, as `PgtableError` says).
public enum S2CmdError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The line could not be split into words (an unterminated quote), at `column` (1-based).
    case syntax(String, column: Int)
    /// No command has this name; `suggestion` is the closest one, if any is close.
    case unknownCommand(String, suggestion: String?)
    /// The command's arguments are wrong: missing, extra, or of the wrong form.
    case usage(command: String, message: String, synopsis: String)
    /// A word that should be a number is not one (see `NumberParser`).
    case badNumber(String)
    /// A number too large for 64 bits (with its `K`/`M`/`G` suffix applied).
    case numberTooLarge(String)
    /// A table operation failed; the case carries the kernel's errno.
    case pgtable(PgtableError)
    /// A pKVM hypercall returned a negative errno (`-EPERM`, `-EBUSY`, ...) for `what`.
    case kernel(errno: Int32, what: String)
    /// An access to emulated memory failed.
    case mem(MemError)
    /// The command needs a stage-2 table and none is set up.
    case noTable
    /// Loading or saving an ELF image failed.
    case image(String)
    /// A host file could not be read or written.
    case file(path: String, reason: String)
    /// `expect` wanted a failure and the command succeeded, or failed differently.
    case expectation(String)
    /// A `run` script or `check` found problems; the text lists them.
    case failed(String)

    public var description: String {
        switch self {
        case .syntax(let s, let c): return "syntax error at column \(c): \(s)"
        case .unknownCommand(let n, let s):
            return "unknown command '\(n)'" + (s.map { " (did you mean '\($0)'?)" } ?? "") + "; try 'help'"
        case .usage(let c, let m, let s): return "\(c): \(m)\nusage: \(s)"
        case .badNumber(let t): return "'\(t)' is not a number (hex 0x..., decimal, _ separators, K/M/G suffix)"
        case .numberTooLarge(let t): return "'\(t)' does not fit in 64 bits"
        case .pgtable(let e): return e.description
        case .kernel(let e, let w): return "\(w): \(KernelErrno.name(e))"
        case .mem(let e): return e.description
        case .noTable:
            return "no stage-2 table: load an image with s2_vtcr/s2_vttbr, 'set vtcr/vttbr', or 'stage2 new'"
        case .image(let s): return s
        case .file(let p, let r): return "\(p): \(r)"
        case .expectation(let s): return "expectation failed: \(s)"
        case .failed(let s): return s
        }
    }

    /// The kernel errno of a failed table operation (`-EINVAL`, `-ENOMEM`, ...), as `expect` matches it.
    public var errnoName: String? {
        switch self {
        case .pgtable(let e): return e.errno.map { KernelErrno.name($0) }
        case .kernel(let e, _): return KernelErrno.name(e)
        default: return nil
        }
    }
}
