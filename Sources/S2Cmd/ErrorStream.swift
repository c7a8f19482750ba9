#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Standard error, for diagnostics that must not mix with a command's output on standard output.
public enum ErrorStream {
    /// Writes `text` and a newline to standard error.
    public static func print(_ text: String) { write(text + "\n") }

    /// Writes `text` as is (a progress line redrawn with `\r`).
    public static func write(_ text: String) {
        var t = text
        t.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
    }
}
