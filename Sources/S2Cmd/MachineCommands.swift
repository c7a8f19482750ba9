import Mem
import Pgtable

/// Commands that set up the machine: memory, the page pool, registers, a new stage-2 table, the demo
/// machine, and the state summary.
enum MachineCommands {
    static let all: [CommandSpec] = [ram, pool, stage2, set, regs, demo, state]

    static let ram = CommandSpec(
        "ram", "ram <base> <size>", summary: "Add a RAM region of emulated physical memory (4K aligned).",
        details: "Memory is sparse: a region costs only the pages that are touched.",
        example: "ram 0x8000_0000 256M", arguments: 2...2
    ) { (s, a) throws(S2CmdError) in
        let base = try a.number(0)
        let size = try a.number(1)
        try s.addRAM(base: base, size: size)
        return .ok([("base", .hex(base)), ("size", .hex(size))])
    }

    static let pool = CommandSpec(
        "pool", "pool <base> <size> [granule=4K]",
        summary: "Use [base, base+size) as the page pool new tables come from (kvm_pgtable_mm_ops).",
        details: "The pool hands out the lowest free page first, as the kernel reference runs do. Without\n"
            + "this command a 16M pool is added above the highest region when a table first needs one.",
        example: "pool 0x7000_0000 16M", arguments: 2...2, options: ["granule"]
    ) { (s, a) throws(S2CmdError) in
        let base = try a.number(0)
        let size = try a.number(1)
        guard size <= 16 << 30 else { throw a.usage("a pool of at most 16G") }
        let granule = try Self.granule(a)
        try s.setPool(base: base, size: size, pageShift: granule.shift)
        return .ok([("base", .hex(base)), ("size", .hex(size))])
    }

    static let stage2 = CommandSpec(
        "stage2", "stage2 [granule=4K] [ipa=40] [oa=48] [--lpa2] [--nofwb] [--idmap]",
        summary: "Create an empty stage-2 table (__kvm_pgtable_stage2_init) and point VTCR/VTTBR at it.",
        details: "The geometry is the one kvm_get_vtcr picks for the IPA size (fewest levels with up to 16\n"
            + "concatenated roots). --nofwb: MemAttr without FEAT_S2FWB (KVM_PGTABLE_S2_NOFWB);\n"
            + "--idmap: an identity map like pKVM's host stage 2 (KVM_PGTABLE_S2_IDMAP).",
        example: "stage2 granule=4K ipa=40", arguments: 0...0, flags: ["lpa2", "nofwb", "idmap"],
        options: ["granule", "ipa", "oa"]
    ) { (s, a) throws(S2CmdError) in
        let granule = try Self.granule(a)
        let ipa = try a.intOption("ipa", default: 40, range: 1...64)
        let lpa2 = a.flag("lpa2")
        let oa = try a.intOption("oa", default: lpa2 ? 52 : 48, range: 1...64)
        let geometry: Geometry
        do throws(PgtableError) {
            geometry = try Geometry.kernelStage2(granule: granule, ipaBits: ipa, oaBits: oa, lpa2: lpa2)
        } catch {
            throw .pgtable(error)
        }
        let pool = try s.ensurePool(pageShift: granule.shift)
        var flags: Stage2Flags = []
        if a.flag("nofwb") { flags.insert(.noFWB) }
        if a.flag("idmap") { flags.insert(.idmap) }
        let table: Stage2Table<PagePool>
        do throws(PgtableError) { table = try Stage2Table(mm: pool, geometry: geometry, flags: flags) } catch {
            throw .pgtable(error)
        }
        s.stage2Flags = flags
        s.registers.vtcr = geometry.vtcr.rawValue
        s.registers.vttbr = Registers.ttbr(baddr: table.root.rawValue, oaBits: geometry.oaBits)
        return CommandOutput(
            text: "stage 2: \(geometry); root \(table.root)",
            json: .object([
                ("geometry", .string(geometry.description)), ("root", .hex(table.root.rawValue)),
                ("vtcr", .hex(s.registers.vtcr ?? 0)), ("vttbr", .hex(s.registers.vttbr ?? 0)),
            ]))
    }

    static let set = CommandSpec(
        "set", "set <vtcr|vttbr|hyp_tcr|hyp_ttbr0> <value>",
        summary: "Set a register; VTCR_EL2 and VTTBR_EL2 select the stage-2 table the other commands use.",
        example: "set vtcr 0x80023559", arguments: 2...2
    ) { (s, a) throws(S2CmdError) in
        let name = a.string(0) ?? ""
        guard let key = Registers.names.first(where: { $0.0 == name })?.1 else {
            throw a.usage("unknown register '\(name)' (vtcr, vttbr, hyp_tcr, hyp_ttbr0)")
        }
        let value = try a.number(1)
        s.registers[keyPath: key] = value
        return .ok([(name, .hex(value))])
    }

    static let regs = CommandSpec(
        "regs", "regs", summary: "Show the registers and the stage-2 regime they select.", example: "regs",
        arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        var lines: [String] = []
        var json: [(String, JSON)] = []
        for (name, key) in Registers.names {
            let v = s.registers[keyPath: key]
            lines.append(Format.left(name, 10) + (v.map { Format.hex16($0) } ?? "-"))
            json.append((name, v.map { .hex($0) } ?? .null))
        }
        if let r = try? s.stage2Root() {
            lines.append("stage 2: \(r.geometry); root \(r.root)")
            json.append(("stage2", .string("\(r.geometry)")))
            json.append(("root", .hex(r.root.rawValue)))
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .object(json))
    }

    /// The commands that build the demo machine, the same as the project's first demo.
    public static let demoScript = [
        "ram 0x4000_0000 1G",
        "pool 0x7000_0000 16M",
        "stage2 granule=4K ipa=40",
        "map 0x4000_0000 2M 0x4000_0000 RWX",
        "map 0x4020_0000 4K 0x4020_0000 RW",
        "map 0x0900_0000 4K 0x0900_0000 R|W|DEVICE",
    ]

    static let demo = CommandSpec(
        "demo", "demo",
        summary:
            "Build the demo machine: 1G of RAM at 0x40000000, a 4K/40-bit stage 2 with a 2M block, a page and a device page.",
        details: "It runs exactly these lines:\n" + demoScript.map { "  " + $0 }.joined(separator: "\n"),
        example: "demo", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        for line in demoScript { _ = try s.execute(line: line) }
        return .ok()
    }

    static let state = CommandSpec(
        "state", "state", summary: "Summarise the machine: image, memory regions, page pool, registers, stage-2 table.",
        example: "state", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        var lines: [String] = []
        var json: [(String, JSON)] = []
        lines.append("image     " + (s.imagePath ?? "-"))
        json.append(("image", s.imagePath.map { .string($0) } ?? .null))
        let regions = s.mem.regions
        lines.append(
            "memory    "
                + (regions.isEmpty ? "-" : regions.map { "\($0) (\(Format.size($0.size)))" }.joined(separator: ", ")))
        json.append(
            ("memory", .array(regions.map { .object([("base", .hex($0.base.rawValue)), ("size", .hex($0.size))]) })))
        if let p = s.pool {
            let size = UInt64(p.pageCount) * p.pageSize
            lines.append("pool      \(p.base)+\(Format.size(size)): \(p.usedPages) of \(p.pageCount) pages used")
            json.append(
                (
                    "pool",
                    .object([
                        ("base", .hex(p.base.rawValue)), ("size", .hex(size)), ("used_pages", .number(p.usedPages)),
                    ])
                ))
        } else {
            lines.append("pool      -")
            json.append(("pool", .null))
        }
        if let r = try? s.stage2Root() {
            lines.append("stage 2   \(r.geometry); root \(r.root)")
            json.append(("stage2", .object([("geometry", .string("\(r.geometry)")), ("root", .hex(r.root.rawValue))])))
        } else {
            lines.append("stage 2   -")
            json.append(("stage2", .null))
        }
        lines.append("symbols   \(s.symbols.count)")
        json.append(("symbols", .number(s.symbols.count)))
        return CommandOutput(text: lines.joined(separator: "\n"), json: .object(json))
    }

    /// The `granule=` option (default 4K).
    static func granule(_ a: Arguments) throws(S2CmdError) -> Granule {
        guard let name = a.option("granule") else { return .k4 }
        guard let g = Granule(name: name) else { throw a.usage("granule must be 4K, 16K or 64K, not '\(name)'") }
        return g
    }
}
