/// The outcome of one translation: the result, or the fault the architecture reports.
@frozen
public enum Translation: Sendable, Equatable, CustomStringConvertible {
    case success(TranslationResult)
    case fault(FaultRecord)

    /// The result, or nil on a fault.
    @inlinable
    public var result: TranslationResult? {
        if case .success(let r) = self { return r }
        return nil
    }

    /// The fault, or nil on success.
    @inlinable
    public var fault: FaultRecord? {
        if case .fault(let f) = self { return f }
        return nil
    }

    /// PAR_EL1 bits an `AT` instruction sets that s2emu models: PA[51:12] on success; F, FST, S, RES1
    /// bit 11 on a fault (attributes and NS are not modelled).
    @inlinable
    public var parFields: UInt64 {
        switch self {
        case .success(let r): return r.parAddress
        case .fault(let f): return f.par
        }
    }

    public var description: String {
        switch self {
        case .success(let r):
            return "OA 0x" + String(r.outputAddress, radix: 16) + ", level \(r.level), \(r.permissions)"
        case .fault(let f): return f.description
        }
    }
}
