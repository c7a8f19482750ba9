/// Small text formatters shared by the commands' output.
public enum Format {
    /// `0x` and lower-case hex, no padding.
    public static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// `0x` and exactly 16 lower-case hex digits (the kernel's `0x%016lx`/`0x%016llx`).
    public static func hex16(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 16 - h.count)) + h
    }

    /// `0b` and `width` binary digits.
    public static func binary(_ v: UInt64, width: Int) -> String {
        let b = String(v, radix: 2)
        return "0b" + String(repeating: "0", count: max(0, width - b.count)) + b
    }

    /// Right-aligns `s` in `width` columns (`%*s`).
    public static func right(_ s: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - s.count)) + s
    }

    /// Left-aligns `s` in `width` columns (`%-*s`).
    public static func left(_ s: String, _ width: Int) -> String {
        s + String(repeating: " ", count: max(0, width - s.count))
    }

    /// A byte count the way arm64's ptdump `note_page` prints it: start in KiB and move to the next unit
    /// (`KMGTPE`) while the count is a multiple of 1024 (`%9lu%c`, without the padding).
    public static func ptdumpSize(_ bytes: UInt64) -> String {
        let units: [Character] = ["K", "M", "G", "T", "P", "E"]
        var delta = bytes >> 10
        var u = 0
        while delta & 1023 == 0 && u + 1 < units.count {
            delta >>= 10
            u += 1
        }
        return String(delta) + String(units[u])
    }

    /// A size for people: the largest binary unit that divides it (`2M`, `4K`, `12288`).
    public static func size(_ bytes: UInt64) -> String {
        for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")]
        where bytes != 0 && bytes & ((1 << UInt64(shift)) - 1) == 0 {
            return String(bytes >> UInt64(shift)) + unit
        }
        return String(bytes)
    }
}
