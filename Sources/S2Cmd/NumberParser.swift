/// Numbers as the command language writes them: `0x` hex, `0b` binary or decimal, `_` separators anywhere
/// after the first digit, and an optional `K`/`M`/`G` suffix (binary multiples: 1 << 10, 20, 30).
///
/// Examples: `0x4000_1000`, `4096`, `2M`, `0x10K`, `1_000_000`, `1G`.
public enum NumberParser {
    /// Parses `text`. - Throws: `S2CmdError.numberTooLarge` for a well-formed number that does not fit in
    /// 64 bits once the suffix is applied, `S2CmdError.badNumber` for anything else.
    public static func parse(_ text: String) throws(S2CmdError) -> UInt64 {
        guard let v = value(text) else { throw failure(text) }
        return v
    }

    /// The value of `text`, or nil if it is not a number or does not fit in 64 bits.
    public static func value(_ text: String) -> UInt64? {
        guard let p = parts(text), let v = UInt64(p.digits, radix: p.radix), v <= UInt64.max >> p.shift else {
            return nil
        }
        return v << p.shift
    }

    /// Why `text` has no `value`: `numberTooLarge` if it is written as a number, else `badNumber`.
    public static func failure(_ text: String) -> S2CmdError {
        parts(text) == nil ? .badNumber(text) : .numberTooLarge(text)
    }

    /// `text` as digits without separators, their radix and the suffix's shift; nil if it is not written
    /// as a number (whatever its size).
    static func parts(_ text: String) -> (digits: String, radix: Int, shift: UInt64)? {
        var body = Substring(text)
        var shift: UInt64 = 0
        switch body.last {
        case "k", "K": shift = 10
        case "m", "M": shift = 20
        case "g", "G": shift = 30
        default: break
        }
        if shift != 0 { body = body.dropLast() }
        var radix = 10
        let lower = body.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            body = body.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            body = body.dropFirst(2)
        }
        guard let first = body.first, first != "_" else { return nil }
        let digits = String(body.filter { $0 != "_" })
        guard digits.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } == true }) else { return nil }
        return (digits, radix, shift)
    }
}
