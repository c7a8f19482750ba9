import Hyp
import Pgtable

/// `pkvm_mkstate` and `pkvm_getstate` of each `PageStateLayout` on their own, without a machine: what a
/// state turns into in a prot (and so in a stage-2 PTE's software bits), and what a prot or PTE reads back.
enum PageStateCommands {
    static let all: [CommandSpec] = [mkstate, getstate]

    /// `layout=` as a comma-separated list of layout names (default: v6.13 and v6.14).
    static func layouts(_ a: Arguments) throws(S2CmdError) -> [PageStateLayout] {
        guard let names = a.option("layout") else { return [.v613, .v614] }
        var out: [PageStateLayout] = []
        for n in names.split(separator: ",") {
            guard let l = PageStateLayout.named(String(n)) else {
                throw a.usage("layout must be one of \(PageStateLayout.all.map(\.name).joined(separator: ", "))")
            }
            out.append(l)
        }
        return out
    }

    /// A state written as the kernel's name (`SHARED_OWNED`, `PKVM_PAGE_SHARED_OWNED`, `NOPAGE`,
    /// `PKVM_NOPAGE`; any case).
    static func state(_ a: Arguments, _ i: Int) throws(S2CmdError) -> PageState {
        guard let text = a.string(i) else { throw a.usage("missing state") }
        var name = text.uppercased()
        for prefix in ["PKVM_PAGE_", "PKVM_"] where name.hasPrefix(prefix) { name = String(name.dropFirst(prefix.count)) }
        guard let s = PageState.allCases.first(where: { $0.description == name }) else {
            throw a.usage(
                "'\(text)' is not a page state (\(PageState.allCases.map(\.description).joined(separator: ", ")))")
        }
        return s
    }

    /// The `SW` column as `dump --wide` prints it: PTE bits 58..55, SW0 rightmost.
    static func swBits(_ v: UInt64) -> String { Format.binary(Descriptor.sw.get(v), width: 4) }

    /// The state a layout's machines read from a PTE's prot, with the raw `pkvm_getstate` value.
    static func readBack(_ l: PageStateLayout, _ prot: Prot) -> (value: UInt64, state: String) {
        let value = l.getstate(prot)
        return (value, l.state(ofPTEProt: prot).map(\.description) ?? "reserved encoding")
    }

    static let mkstate = CommandSpec(
        "mkstate", "mkstate <state> [prot] [layout=v6.13,v6.14]",
        summary: "pkvm_mkstate(prot, state) per layout: the enum value, the prot and PTE software bits it gives.",
        details: "state: OWNED, SHARED_OWNED, SHARED_BORROWED or NOPAGE; prot: letters R W X, R|W|DEVICE, ...\n"
            + "(default RWX, PKVM_HOST_MEM_PROT). For each layout: the state's enum value, the prot\n"
            + "pkvm_mkstate gives (v6.13: (prot & ~PKVM_PAGE_STATE_PROT_MASK) | state; v6.14: FIELD_PREP),\n"
            + "the SW bits of a stage-2 PTE with that prot, and pkvm_getstate of it. A meta state (NOPAGE)\n"
            + "is the seed's BUG_ON(state & PKVM_PAGE_META_STATES_MASK): an error, nothing printed.",
        example: "mkstate SHARED_OWNED RW", arguments: 1...2, options: ["layout"]
    ) { (s, a) throws(S2CmdError) in
        let st = try state(a, 0)
        let prot = a.count > 1 ? try a.prot(1) : Prot.rwx
        let ls = try layouts(a)
        let width = max(8, (ls.map(\.name.count).max() ?? 0) + 2)
        let protWidth = max(9, "\(prot)|SW0".count + 2)
        var lines = [
            "pkvm_mkstate(\(prot), \(st))",
            Format.left("layout", width) + Format.left("value", 20) + Format.left("pkvm_mkstate", 20)
                + Format.left("prot", protWidth) + Format.left("PTE SW", 8) + Format.left("pkvm_getstate", 20)
                + "reads as",
        ]
        var rows: [JSON] = []
        for l in ls {
            let made: Prot
            do throws(HypError) { made = try l.mkstate(prot, st) } catch {
                throw .failed("\(l.name): \(error)")
            }
            let back = readBack(l, made)
            lines.append(
                Format.left(l.name, width) + Format.left(Format.hex16(l.value(of: st)), 20)
                    + Format.left(Format.hex16(made.rawValue), 20) + Format.left(made.description, protWidth)
                    + Format.left(swBits(made.rawValue), 8) + Format.left(Format.hex16(back.value), 20) + back.state)
            rows.append(
                .object([
                    ("layout", .string(l.name)), ("state", .string(st.description)), ("value", .hex(l.value(of: st))),
                    ("prot", .hex(made.rawValue)), ("sw", .string(swBits(made.rawValue))),
                    ("getstate", .hex(back.value)), ("reads_as", .string(back.state)),
                ]))
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .array(rows))
    }

    static let getstate = CommandSpec(
        "getstate", "getstate <pte|prot> [layout=v6.13,v6.14]",
        summary: "pkvm_getstate per layout: the enum value a PTE's (or prot's) software bits hold, and its state.",
        details: "The argument is a raw stage-2 PTE or prot value (0x0080000000000007) or a prot written\n"
            + "as letters (RWX|SW0). Only PKVM_PAGE_STATE_PROT_MASK (SW0|SW1, bits 55 and 56) counts;\n"
            + "SW0|SW1 together is the reserved encoding, which no state has.",
        example: "getstate 0x00800000406007ff", arguments: 1...1, options: ["layout"]
    ) { (s, a) throws(S2CmdError) in
        let text = a.string(0) ?? ""
        let prot: Prot
        if let v = NumberParser.value(text) {
            prot = Prot(rawValue: v)
        } else if let p = Prot(parsing: text) {
            prot = p
        } else {
            throw a.usage("'\(text)' is neither a number nor a prot")
        }
        let ls = try layouts(a)
        let width = max(8, (ls.map(\.name.count).max() ?? 0) + 2)
        var lines = [
            "pkvm_getstate(\(Format.hex16(prot.rawValue))): SW=\(swBits(prot.rawValue))",
            Format.left("layout", width) + Format.left("pkvm_getstate", 20) + "reads as",
        ]
        var rows: [JSON] = []
        for l in ls {
            let back = readBack(l, prot)
            lines.append(Format.left(l.name, width) + Format.left(Format.hex16(back.value), 20) + back.state)
            rows.append(
                .object([
                    ("layout", .string(l.name)), ("sw", .string(swBits(prot.rawValue))),
                    ("getstate", .hex(back.value)), ("reads_as", .string(back.state)),
                ]))
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .array(rows))
    }
}
