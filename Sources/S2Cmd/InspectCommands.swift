import Hyp
import Mem
import Pgtable

/// Commands that look at the table and memory without changing the table: walk, dump, decode, peek,
/// check; and `poke`, which writes memory directly.
enum InspectCommands {
    static let all: [CommandSpec] = [walk, dump, decode, peek, poke, check]

    static let walk = CommandSpec(
        "walk", "walk <address> [--hyp]",
        summary: "Trace the walk for an address level by level: table, index, entry, raw descriptor, fields by name.",
        details: "The path kvm_pgtable_get_leaf follows in the stage 2 (or with --hyp in the hyp stage 1 that\n"
            + "TCR_EL2/TTBR0_EL2 select); the last line gives the output address and permissions of the leaf,\n"
            + "or why there is none.",
        example: "walk 0x4000_1000", arguments: 1...1, flags: ["hyp"]
    ) { (s, a) throws(S2CmdError) in
        let address = try a.address(0, in: s)
        let r: PgtableRoot
        let regime: Regime = a.flag("hyp") ? .hypStage1 : .stage2
        if regime == .hypStage1 {
            guard let tcr = s.registers.hypTCR, let ttbr = s.registers.hypTTBR0 else {
                throw .failed("no hyp stage 1: set hyp_tcr and hyp_ttbr0 (or load an image with them)")
            }
            let t = TranslationRegime(hypTCR: tcr, ttbr0: ttbr)
            guard let g = t.geometry else { throw .failed("TCR_EL2 selects no regime: \(t.invalidReason ?? "")") }
            r = PgtableRoot(root: PhysAddr(t.tableBase), geometry: g)
        } else {
            r = try s.stage2Root()
        }
        let g = r.geometry
        let steps: [WalkStep]
        do throws(PgtableError) { steps = try r.trace(mem: s.mem, addr: address) } catch { throw .pgtable(error) }
        let name = regime == .stage2 ? "stage 2" : "hyp stage 1"
        var lines = [s.style.bold("walk \(Format.hex(address)): \(name), \(g); root \(r.root)")]
        for st in steps {
            lines.append(WalkText.line(st, granule: g.granule, format: g.format, regime: regime, style: s.style))
        }
        let jsteps = steps.map { WalkText.json($0, granule: g.granule, format: g.format, regime: regime) }
        let (summary, result) = Self.outcome(ipa: address, steps: steps, geometry: g, regime: regime)
        lines.append("  => " + summary)
        return CommandOutput(
            text: lines.joined(separator: "\n"),
            json: .object([
                ("address", .hex(address)), ("regime", .string(regime.rawValue)), ("geometry", .string(g.description)),
                ("root", .hex(r.root.rawValue)), ("steps", .array(jsteps)), ("result", result),
            ]))
    }

    /// What the last step of a walk means for `ipa`.
    static func outcome(ipa: UInt64, steps: [WalkStep], geometry g: Geometry, regime: Regime) -> (String, JSON) {
        guard let last = steps.last else { return ("no entry", .null) }
        switch last.kind {
        case .block, .page:
            let size = g.granule.levelSize(last.level)
            let pa = last.descriptor.outputAddress(granule: g.granule, format: g.format) | (ipa & (size &- 1))
            let perms =
                regime == .stage2
                ? DescriptorText.stage2Permissions(last.descriptor) : DescriptorText.hypPermissions(last.descriptor)
            let af = last.descriptor[Descriptor.af] != 0 ? "" : ", AF clear"
            return (
                "PA \(Format.hex(pa)): level \(last.level) \(last.kind.rawValue) (\(Format.size(size))), \(perms)\(af)",
                .object([
                    ("pa", .hex(pa)), ("level", .number(last.level)), ("kind", .string(last.kind.rawValue)),
                    ("size", .hex(size)), ("perms", .string(perms)), ("af", .bool(last.descriptor[Descriptor.af] != 0)),
                ])
            )
        case .invalid:
            let owner = last.descriptor[Descriptor.ownerID]
            let note = owner != 0 ? ", annotated owner_id=\(owner)" : ""
            return (
                "not mapped: invalid entry at level \(last.level)\(note)",
                .object([("mapped", .bool(false)), ("level", .number(last.level)), ("owner_id", .number(Int(owner)))])
            )
        case .reserved:
            return (
                "reserved encoding at level \(last.level) (translation fault on hardware)",
                .object([("mapped", .bool(false)), ("level", .number(last.level)), ("reserved", .bool(true))])
            )
        case .table:
            return ("walk ended on a table entry", .null)
        }
    }

    static let dump = CommandSpec(
        "dump", "dump [<start> <end>] [--wide]",
        summary: "Print the stage-2 table in the kernel's ptdump grammar (arch/arm64/kvm/ptdump.c, v6.14).",
        details: "One line per run of entries with identical attributes:\n"
            + "  0x<start>-0x<end>   <size> <level> <tokens>\n"
            + "tokens: ' '/F valid, R, W, ' '/X (XN), AF, BLK; none for entries whose token bits are all 0.\n"
            + "--wide adds the output address, MemAttr, SH and SW bits (valid) or owner_id (invalid) and\n"
            + "splits runs where those change; on a pKVM machine also the state of each run's first page\n"
            + "(the host's, or the viewed guest's).",
        example: "dump --wide", arguments: 0...2, flags: ["wide"]
    ) { (s, a) throws(S2CmdError) in
        let r = try s.stage2Root()
        if a.count == 1 { throw a.usage("give both start and end, or neither") }
        let start = try a.count == 2 ? a.address(0, in: s) : 0
        let end = try a.count == 2 ? a.address(1, in: s) : r.geometry.inputSize
        var d = try PtDump(root: r, mem: s.mem, start: start, end: end, marker: s.marker, wide: a.flag("wide"))
        if a.flag("wide"), let m = s.pkvm {
            let name = { (st: PageState?) in st.map { $0.description } ?? "reserved" }
            if let h = s.viewedGuest, let g = m.guest(h) {
                d.states = d.runs.map { name(m.guestState(g, ipa: $0.start).state) }
            } else {
                d.states = d.runs.map { name(m.hostState($0.start)) }
            }
        }
        return CommandOutput(text: d.text(style: s.style), json: d.json())
    }

    static let decode = CommandSpec(
        "decode", "decode <descriptor> [level=3] [granule=4K] [regime=stage2|hyp] [--lpa2]",
        summary: "Decode one raw descriptor: its kind at that level and every field by name.",
        example: "decode 0x400000400007dd level=2", arguments: 1...1, flags: ["lpa2"],
        options: ["level", "granule", "regime"]
    ) { (s, a) throws(S2CmdError) in
        let raw = try a.number(0)
        let levelText = a.option("level") ?? "3"
        guard let level = Int(levelText), (-1...3).contains(level) else { throw a.usage("level must be -1...3") }
        let granule = try MachineCommands.granule(a)
        let regimeName = a.option("regime") ?? "stage2"
        guard let regime = Regime(rawValue: regimeName) else { throw a.usage("regime must be stage2 or hyp") }
        let format = OutputAddressFormat.kernel(granule: granule, lpa2: a.flag("lpa2"))
        let d = Descriptor(raw)
        let kind = WalkStep.kind(of: d, level: level)
        let fields = d.fields(level: level, granule: granule, format: format, regime: regime)
        let regimeText = regime == .stage2 ? "stage 2" : "hyp stage 1"
        var lines = [
            "\(Format.hex16(raw)): \(kind.rawValue) at level \(level), \(granule) granule, \(regimeText), \(format) addresses"
        ]
        for (name, v) in fields {
            lines.append("  " + Format.left(name, 11) + DescriptorText.value(name, v, regime: regime))
        }
        var json: [(String, JSON)] = [
            ("descriptor", .hex(raw)), ("kind", .string(kind.rawValue)), ("level", .number(level)),
            ("granule", .string(granule.description)), ("regime", .string(regime.rawValue)),
            ("fields", DescriptorText.json(fields)),
        ]
        if regime == .stage2 {
            let tokens = PtDump.tokenString(raw & PtDump.mask).map { "'\($0)'" } ?? "none"
            lines.append("  " + Format.left("ptdump", 11) + tokens)
            json.append(("ptdump", PtDump.tokenString(raw & PtDump.mask).map { .string($0) } ?? .null))
            if kind == .block || kind == .page {
                lines.append("  " + Format.left("prot", 11) + Stage2Attributes.prot(of: d).description)
                json.append(("prot", .string(Stage2Attributes.prot(of: d).description)))
            }
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .object(json))
    }

    static let peek = CommandSpec(
        "peek", "peek <pa> [count]", summary: "Read count (default 1) 64-bit little-endian words of physical memory.",
        example: "peek 0x7000_0000 4", arguments: 1...2
    ) { (s, a) throws(S2CmdError) in
        let pa = try a.address(0, in: s)
        let count = try a.number(1, default: 1)
        guard count <= 4096 else { throw a.usage("at most 4096 words at a time") }
        var lines: [String] = []
        var words: [JSON] = []
        for i in 0..<count {
            let at = pa &+ i * 8
            let v: UInt64
            do throws(MemError) { v = try s.mem.read64(PhysAddr(at)) } catch { throw .mem(error) }
            lines.append(Format.hex16(at) + ": " + Format.hex16(v))
            words.append(.object([("pa", .hex(at)), ("value", .hex(v))]))
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .array(words))
    }

    static let poke = CommandSpec(
        "poke", "poke <pa> <value>",
        summary: "Write a 64-bit little-endian word of physical memory (a raw descriptor, say).",
        example: "poke 0x4100_0000 0xdead_beef", arguments: 2...2
    ) { (s, a) throws(S2CmdError) in
        let pa = try a.address(0, in: s)
        let v = try a.number(1)
        do throws(MemError) { try s.mem.write64(PhysAddr(pa), v) } catch { throw .mem(error) }
        return .ok([("pa", .hex(pa)), ("value", .hex(v))])
    }

    static let check = CommandSpec(
        "check", "check",
        summary:
            "Check the stage-2 table's invariants (backed tables, no loops, no reserved encodings, refcounts) and pKVM's.",
        details: "Table pointers inside backed memory and below PS, each table page reached once, no 0b01\n"
            + "entry at the last level, blocks only where kvm_level_supports_block_mapping allows, and for\n"
            + "pool pages: reference count = 1 + non-zero entries (stage2_pte_is_counted). On a pKVM machine\n"
            + "also the ownership invariants (one owner per page, matching shares, hyp pages annotated).",
        example: "check", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        let r = try s.stage2Root()
        var c = TableCheck(root: r, mem: s.mem, pool: s.pool)
        var pkvmNote = ""
        if let m = s.pkvm {
            if let v = m.checkAllInvariants() {
                c.add("pKVM invariant: \(v)")
            } else {
                pkvmNote = "; pKVM invariants hold"
            }
        }
        let json = JSON.object([
            ("ok", .bool(c.ok)), ("tables", .number(c.tables)), ("leaves", .number(c.leaves)),
            ("problems", .array(c.problems.map { .string($0) })),
        ])
        if c.ok {
            return CommandOutput(text: "ok: \(c.tables) table pages, \(c.leaves) valid leaves" + pkvmNote, json: json)
        }
        let text = (["\(c.problems.count) problem(s) in \(c.tables) table pages:"] + c.problems.map { "  " + $0 })
            .joined(separator: "\n")
        if a.flag("json") { throw .failed(json.serialized()) }
        throw .failed(text)
    }
}
