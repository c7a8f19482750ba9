/// A JSON value with keys kept in the order they were written, so `--json` output is stable and diffable.
/// Addresses and descriptors are written as `"0x..."` strings (JSON numbers lose bits above 2^53).
public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool { a.serialized() == b.serialized() }

    /// A 64-bit value as a `"0x..."` string.
    public static func hex(_ v: UInt64) -> JSON { .string("0x" + String(v, radix: 16)) }

    /// A small count or level as a number.
    public static func number(_ v: Int) -> JSON { .int(Int64(v)) }

    /// Compact, single-line text.
    public func serialized() -> String {
        var s = ""
        write(into: &s)
        return s
    }

    private func write(into s: inout String) {
        switch self {
        case .null: s += "null"
        case .bool(let b): s += b ? "true" : "false"
        case .int(let i): s += String(i)
        case .string(let t): JSON.quote(t, into: &s)
        case .array(let a):
            s += "["
            for (i, v) in a.enumerated() {
                if i > 0 { s += "," }
                v.write(into: &s)
            }
            s += "]"
        case .object(let o):
            s += "{"
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { s += "," }
                JSON.quote(k, into: &s)
                s += ":"
                v.write(into: &s)
            }
            s += "}"
        }
    }

    private static func quote(_ t: String, into s: inout String) {
        s += "\""
        for u in t.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\t": s += "\\t"
            case "\r": s += "\\r"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    s += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    s.unicodeScalars.append(u)
                }
            }
        }
        s += "\""
    }
}
