/// Mapping permissions and memory type (`enum kvm_pgtable_prot`, Linux v6.14 bit values).
///
/// The software bits SW0..SW3 sit at the descriptor's bits 55..58 so that they pass straight into the
/// PTE (`attr |= prot & KVM_PTE_LEAF_ATTR_HI_SW`).
@frozen
public struct Prot: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Executable (`KVM_PGTABLE_PROT_X`).
    public static let x = Prot(rawValue: 1 << 0)
    /// Writable (`KVM_PGTABLE_PROT_W`).
    public static let w = Prot(rawValue: 1 << 1)
    /// Readable (`KVM_PGTABLE_PROT_R`).
    public static let r = Prot(rawValue: 1 << 2)
    /// Device-nGnRE memory (`KVM_PGTABLE_PROT_DEVICE`).
    public static let device = Prot(rawValue: 1 << 3)
    /// Normal non-cacheable memory (`KVM_PGTABLE_PROT_NORMAL_NC`).
    public static let normalNC = Prot(rawValue: 1 << 4)
    /// Software bit 0, PTE bit 55 (`KVM_PGTABLE_PROT_SW0`).
    public static let sw0 = Prot(rawValue: 1 << 55)
    /// Software bit 1, PTE bit 56 (`KVM_PGTABLE_PROT_SW1`).
    public static let sw1 = Prot(rawValue: 1 << 56)
    /// Software bit 2, PTE bit 57 (`KVM_PGTABLE_PROT_SW2`).
    public static let sw2 = Prot(rawValue: 1 << 57)
    /// Software bit 3, PTE bit 58 (`KVM_PGTABLE_PROT_SW3`).
    public static let sw3 = Prot(rawValue: 1 << 58)

    /// `KVM_PGTABLE_PROT_RW`.
    public static let rw: Prot = [.r, .w]
    /// `KVM_PGTABLE_PROT_RWX`.
    public static let rwx: Prot = [.r, .w, .x]
    /// The software bits (`KVM_PTE_LEAF_ATTR_HI_SW`).
    public static let software: Prot = [.sw0, .sw1, .sw2, .sw3]

    /// Letters in the kernel's order: `R`, `W`, `X`, then `DEVICE`, `NC`, `SW0`…`SW3`.
    public var description: String {
        var parts: [String] = []
        let rwx = (contains(.r) ? "R" : "-") + (contains(.w) ? "W" : "-") + (contains(.x) ? "X" : "-")
        parts.append(rwx)
        if contains(.device) { parts.append("DEVICE") }
        if contains(.normalNC) { parts.append("NC") }
        for (i, b) in [Prot.sw0, .sw1, .sw2, .sw3].enumerated() where contains(b) { parts.append("SW\(i)") }
        return parts.joined(separator: "|")
    }

    /// Parses `rwx`-style letters and `|`/`,`-separated names (`R`, `W`, `X`, `RW`, `RWX`, `DEVICE`, `NC`,
    /// `SW0`…`SW3`, `none`), case-insensitively.
    public init?(parsing text: String) {
        var p: Prot = []
        for word in text.split(whereSeparator: { $0 == "|" || $0 == "," || $0 == "+" }) {
            switch word.lowercased() {
            case "none", "0", "---": continue
            case "device", "dev": p.insert(.device)
            case "nc", "normal_nc", "normalnc": p.insert(.normalNC)
            case "sw0": p.insert(.sw0)
            case "sw1": p.insert(.sw1)
            case "sw2": p.insert(.sw2)
            case "sw3": p.insert(.sw3)
            default:
                for c in word.lowercased() {
                    switch c {
                    case "r": p.insert(.r)
                    case "w": p.insert(.w)
                    case "x": p.insert(.x)
                    case "-": continue
                    default: return nil
                    }
                }
            }
        }
        self = p
    }
}
