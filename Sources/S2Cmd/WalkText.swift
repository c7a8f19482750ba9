import Pgtable

/// One step of a walk as a line of text and as JSON (shared by `walk` and `translate`).
public enum WalkText {
    /// `  L<level>  <table>[<index>]  @<entry>  <raw>  <kind>  <field>=<value> ...`
    public static func line(_ st: WalkStep, granule: Granule, format: OutputAddressFormat, regime: Regime, style: Style)
        -> String
    {
        let fields = st.descriptor.fields(level: st.level, granule: granule, format: format, regime: regime)
        let kind = Format.left(st.kind.rawValue, 9)
        let coloured: String
        switch st.kind {
        case .table: coloured = style.blue(kind)
        case .block, .page: coloured = style.green(kind)
        case .invalid, .reserved: coloured = style.red(kind)
        }
        return "  L\(st.level)  " + Format.left("\(st.tableAddress)[\(st.index)]", 18) + " @"
            + Format.left("\(st.entryAddress)", 12)
            + "  " + Format.hex16(st.descriptor.rawValue) + "  " + coloured
            + DescriptorText.inline(fields, regime: regime)
    }

    public static func json(_ st: WalkStep, granule: Granule, format: OutputAddressFormat, regime: Regime) -> JSON {
        let fields = st.descriptor.fields(level: st.level, granule: granule, format: format, regime: regime)
        return .object([
            ("level", .number(st.level)), ("table", .hex(st.tableAddress.rawValue)), ("index", .number(st.index)),
            ("entry", .hex(st.entryAddress.rawValue)), ("descriptor", .hex(st.descriptor.rawValue)),
            ("kind", .string(st.kind.rawValue)), ("fields", DescriptorText.json(fields)),
        ])
    }
}
