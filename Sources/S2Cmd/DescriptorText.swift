import Pgtable

/// A descriptor's fields as text and JSON: addresses in hex, multi-bit attribute fields in binary at their
/// architectural width (MemAttr `0b0110`, S2AP `0b11`), single bits as 0/1.
public enum DescriptorText {
    /// Width in bits of the multi-bit fields `Descriptor.fields` reports, by name.
    static let widths: [String: Int] = [
        "MemAttr": 4, "S2AP": 2, "SH": 2, "XN": 2, "SW": 4, "AttrIndx": 3, "AP": 2,
    ]
    /// Fields that hold addresses.
    static let addresses: Set<String> = ["OA", "next_table"]

    /// One field's value as text. At stage 1, XN is the single bit 54 (UXN/XN), so it prints as 0/1.
    public static func value(_ name: String, _ v: UInt64, regime: Regime = .stage2) -> String {
        if addresses.contains(name) { return Format.hex(v) }
        if name == "owner_id" || (name == "XN" && regime == .hypStage1) { return String(v) }
        if let w = widths[name] { return Format.binary(v, width: w) }
        return String(v)
    }

    /// `name=value` pairs separated by blanks.
    public static func inline(_ fields: [(String, UInt64)], regime: Regime = .stage2) -> String {
        fields.map { "\($0.0)=\(value($0.0, $0.1, regime: regime))" }.joined(separator: " ")
    }

    /// The fields as a JSON object (addresses as hex strings, others as numbers).
    public static func json(_ fields: [(String, UInt64)]) -> JSON {
        .object(fields.map { ($0.0, addresses.contains($0.0) ? JSON.hex($0.1) : JSON.int(Int64($0.1))) })
    }

    /// `R W X`-style permissions of a stage-2 leaf (`kvm_pgtable_stage2_pte_prot`), `-` for each one missing.
    public static func stage2Permissions(_ d: Descriptor) -> String {
        let p = Stage2Attributes.prot(of: d)
        return (p.contains(.r) ? "R" : "-") + (p.contains(.w) ? "W" : "-") + (p.contains(.x) ? "X" : "-")
    }

    /// `R W X`-style permissions of a hyp stage-1 leaf (`kvm_pgtable_hyp_pte_prot`): always readable, writable
    /// when AP[2] (bit 7) is clear, executable when XN (bit 54) is clear.
    public static func hypPermissions(_ d: Descriptor) -> String {
        "R" + (d.rawValue >> 7 & 1 == 0 ? "W" : "-") + (d[Descriptor.s1xn] == 0 ? "X" : "-")
    }
}
