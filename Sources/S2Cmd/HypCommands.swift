import Hyp
import Mem
import Pgtable

/// The pKVM machine (`Hyp.PKVMMachine`) in the language: build one, run the hypercalls it models (named
/// after the kernel's `__pkvm_*` functions; pages by PFN as in the hypercall ABI), read page states,
/// migrate the host state from PTEs to the vmemmap, compare both storages, and draw the ownership map.
enum HypCommands {
    static let all: [CommandSpec] = [pkvm, view, pageState, states, migrate, equiv, ownershipMap] + transitions

    /// The session's pKVM machine. - Throws: `failed` if there is none.
    static func machine(_ s: Session) throws(S2CmdError) -> PKVMMachine {
        guard let m = s.pkvm else { throw .failed("no pKVM machine: run 'pkvm' first") }
        return m
    }

    /// `ram=` as `base:size[,base:size...]` (default 1G at 0x40000000, QEMU virt's RAM).
    static func ram(_ a: Arguments) throws(S2CmdError) -> [MemoryMap.Region] {
        guard let text = a.option("ram") else { return [MemoryMap.Region(base: 0x4000_0000, size: 1 << 30)] }
        var out: [MemoryMap.Region] = []
        for part in text.split(separator: ",") {
            let f = part.split(separator: ":")
            guard f.count == 2 else { throw a.usage("ram= takes base:size[,base:size...]") }
            out.append(
                MemoryMap.Region(base: try NumberParser.parse(String(f[0])), size: try NumberParser.parse(String(f[1])))
            )
        }
        return out
    }

    /// A machine configuration from the common options.
    static func config(_ a: Arguments, storage: HostStateStorage) throws(S2CmdError) -> PKVMConfig {
        var c = PKVMConfig(storage: storage, ram: try ram(a))
        if let name = a.option("layout") {
            guard let l = PageStateLayout.named(name) else {
                throw a.usage("layout must be one of \(PageStateLayout.all.map(\.name).joined(separator: ", "))")
            }
            c.layout = l
        }
        c.deviceSharing = a.flag("device-sharing")
        return c
    }

    static let pkvm = CommandSpec(
        "pkvm", "pkvm [storage=vmemmap|pte] [layout=...] [ram=base:size,...] [guests=2] [--device-sharing]",
        summary: "Build a pKVM machine (host stage 2, hyp stage 1, vmemmap, guests) and make it the session's machine.",
        details: "storage=pte keeps the host state in host stage-2 software bits (v6.13), vmemmap in struct\n"
            + "hyp_page (v6.14, the default). Guests get handles 0x1000, 0x1001, ... Afterwards walk, dump,\n"
            + "translate and peek see the host stage 2 ('view' switches to a guest), and the host's table\n"
            + "changes only through the hypercalls (host_share_hyp, ...).",
        example: "pkvm storage=pte guests=2", arguments: 0...0, flags: ["device-sharing"],
        options: ["storage", "layout", "ram", "guests"]
    ) { (s, a) throws(S2CmdError) in
        let storageName = a.option("storage") ?? "vmemmap"
        guard let storage = HostStateStorage(rawValue: storageName) else {
            throw a.usage("storage must be pte or vmemmap")
        }
        let c = try config(a, storage: storage)
        let m: PKVMMachine
        do throws(HypError) { m = try PKVMMachine(c) } catch { throw .failed(error.description) }
        let guests = UInt64(try a.intOption("guests", default: 2, range: 0...64))
        let base = m.memoryMap.regions[0].base >> 12
        for i in 0..<guests {
            let vm = base + 16 + i * 4
            let r = m.createGuest(vmPFN: vm, pgdPFN: vm + 2)
            guard r > 0 else { throw .kernel(errno: r, what: "creating guest \(i)") }
        }
        s.attach(m)
        let handles = m.guests.map { Format.hex(UInt64($0.handle)) }.joined(separator: " ")
        return CommandOutput(
            text: "pKVM machine: \(storage.rawValue) storage, layout \(m.layout), RAM "
                + m.memoryMap.regions.map { "\(Format.hex($0.base))+\(Format.size($0.size))" }.joined(separator: ",")
                + ", carve-out \(Format.hex(m.carveOut.base))+\(Format.size(m.carveOut.size)), guests \(handles)",
            json: .object([
                ("storage", .string(storage.rawValue)), ("layout", .string(m.layout.name)),
                ("guests", .array(m.guests.map { .number(Int($0.handle)) })),
            ]))
    }

    static let view = CommandSpec(
        "view", "view <host|guest> [handle]",
        summary: "Point walk/dump/translate at the host stage 2 or at a guest's stage 2 of the pKVM machine.",
        example: "view guest 0x1000", arguments: 1...2
    ) { (s, a) throws(S2CmdError) in
        let m = try machine(s)
        switch a.string(0) {
        case "host":
            s.attach(m)
        case "guest":
            let h = try a.number(1, default: 0x1000)
            guard let g = m.guest(UInt32(truncatingIfNeeded: h)) else { throw .failed("no guest \(Format.hex(h))") }
            s.registers.vtcr = g.s2.geometry.vtcr.rawValue
            s.registers.vttbr = g.vttbr
            s.marker = "Guest IPA"
            s.viewedGuest = g.handle
        default: throw a.usage("view host, or view guest <handle>")
        }
        return .ok()
    }

    static let pageState = CommandSpec(
        "page", "page <pa>",
        summary: "The pKVM state of a physical page for the host, the hyp and every guest mapping it.",
        example: "page 0x4010_0000", arguments: 1...1
    ) { (s, a) throws(S2CmdError) in
        let m = try machine(s)
        let pa = try a.address(0, in: s) & ~0xfff
        let name = { (st: PageState?) in st.map { $0.description } ?? "reserved encoding" }
        var lines = [
            "host  \(name(m.hostState(pa)))" + (m.memoryMap.isMemory(pa) ? "" : " (MMIO)"),
            "hyp   \(name(m.hypState(pa)))",
        ]
        var guests: [JSON] = []
        for g in m.guests {
            for (ipa, phys) in guestMappings(m, g, of: pa) {
                lines.append(
                    "guest \(Format.hex(UInt64(g.handle))) IPA \(Format.hex(ipa)): \(name(m.guestState(g, ipa: ipa).state)) (maps \(Format.hex(phys)))"
                )
                guests.append(
                    .object([
                        ("guest", .number(Int(g.handle))), ("ipa", .hex(ipa)),
                        ("state", .string(name(m.guestState(g, ipa: ipa).state))),
                    ]))
            }
        }
        lines.append("host_share_guest_count \(m.shareGuestCount(pa >> 12))")
        let entry = vmemmapEntry(m, pfn: pa >> 12)
        lines.append(entry.text)
        return CommandOutput(
            text: lines.joined(separator: "\n"),
            json: .object([
                ("pa", .hex(pa)), ("host", .string(name(m.hostState(pa)))), ("hyp", .string(name(m.hypState(pa)))),
                ("guests", .array(guests)), ("host_share_guest_count", .number(Int(m.shareGuestCount(pa >> 12)))),
                ("vmemmap", entry.json),
            ]))
    }

    /// PFN `pfn`'s `struct hyp_page` in the machine's vmemmap (`hyp_phys_to_page`): its address and each
    /// field of the layout in use, or why there is none (`hyp_back_vmemmap` backs RAM only).
    static func vmemmapEntry(_ m: PKVMMachine, pfn: UInt64) -> (text: String, json: JSON) {
        let v = m.vmemmap
        guard let at = v.entryAddress(pfn) else {
            return ("vmemmap: no struct hyp_page (not memory)", .null)
        }
        let order = v.order(pfn)
        var fields: [(String, String, JSON)] = [
            ("refcount", String(v.refcount(pfn)), .number(Int(v.refcount(pfn)))),
            ("order", order == v.layout.noOrder ? "HYP_NO_ORDER" : String(order), .number(Int(order))),
        ]
        if let hs = v.hostState(pfn) {
            let st = m.layout.state(ofValue: UInt64(hs)).map(\.description) ?? "reserved encoding"
            fields.append(("host_state", "\(Format.hex(UInt64(hs))) (\(st))", .number(Int(hs))))
        }
        if let c = v.shareGuestCount(pfn) { fields.append(("host_share_guest_count", String(c), .number(Int(c)))) }
        let text =
            "vmemmap \(Format.hex(at.rawValue)): struct hyp_page \(v.layout.name) { "
            + fields.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + " }"
        return (
            text,
            .object(
                [("pa", .hex(at.rawValue)), ("layout", .string(v.layout.name))] + fields.map { ($0.0, $0.2) })
        )
    }

    /// The guest pages of `g` that map `pa` (valid leaves, found by a leaf walk of its stage 2).
    static func guestMappings(_ m: PKVMMachine, _ g: Guest, of pa: UInt64) -> [(UInt64, UInt64)] {
        var v = MappingFinder(geometry: g.s2.geometry, target: pa)
        _ = try? g.s2.pgt.walk(mem: m.mem, addr: 0, size: g.s2.geometry.inputSize, flags: .leaf, visitor: &v)
        return v.found
    }

    static let states = CommandSpec(
        "states", "states [prot=RWX] [layout=...]",
        summary: "pkvm_mkstate/pkvm_getstate for every page state in each layout: enum values, PTE prot, round trip.",
        details: "For each state: the enum value in v6.13 and v6.14 (or the given layouts), the prot\n"
            + "pkvm_mkstate(prot, state) gives (the bits a host or guest PTE gets), and pkvm_getstate of it.\n"
            + "A meta state (NOPAGE) is the seed's BUG_ON: reported, not stored.",
        example: "states prot=RW", arguments: 0...0, options: ["prot", "layout"]
    ) { (s, a) throws(S2CmdError) in
        let protText = a.option("prot") ?? "RWX"
        guard let prot = Prot(parsing: protText) else { throw a.usage("'\(protText)' is not a prot") }
        var layouts: [PageStateLayout] = [.v613, .v614]
        if let names = a.option("layout") {
            layouts = []
            for n in names.split(separator: ",") {
                guard let l = PageStateLayout.named(String(n)) else {
                    throw a.usage("layout must be one of \(PageStateLayout.all.map(\.name).joined(separator: ", "))")
                }
                layouts.append(l)
            }
        }
        let widths = layouts.map { max(22, $0.name.count + 8) }
        let header =
            Format.left("state", 17)
            + zip(layouts, widths).map {
                Format.left("\($0.name) value", $1) + Format.left("mkstate(\(prot))", 22) + Format.left("getstate", 20)
            }
            .joined()
        var lines = [header.reversed().drop { $0 == " " }.reversed().map(String.init).joined()]
        var rows: [JSON] = []
        for st in PageState.allCases {
            var line = Format.left(st.description, 17)
            var cols: [(String, JSON)] = [("state", .string(st.description))]
            for (l, width) in zip(layouts, widths) {
                let value = Format.hex(l.value(of: st))
                let made: String
                let got: String
                do throws(HypError) {
                    let p = try l.mkstate(prot, st)
                    made = Format.hex(p.rawValue)
                    got = Format.hex(l.getstate(p))
                } catch {
                    made = "BUG_ON"
                    got = "-"
                }
                line += Format.left(value, width) + Format.left(made, 22) + Format.left(got, 20)
                cols.append(
                    (
                        l.name,
                        .object([("value", .string(value)), ("mkstate", .string(made)), ("getstate", .string(got))])
                    ))
            }
            lines.append(line.reversed().drop { $0 == " " }.reversed().map(String.init).joined())
            rows.append(.object(cols))
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .array(rows))
    }

    static let migrate = CommandSpec(
        "migrate", "migrate",
        summary: "Move the host state of a pte-storage machine into the vmemmap (v6.13 -> v6.14) and report.",
        details: "Each RAM page's state is read from the host stage-2 software bits and owner annotations,\n"
            + "written into struct hyp_page, and the SW0/SW1 bits v6.14 no longer keeps are cleared. Pages\n"
            + "whose state cannot be carried (MMIO state without device sharing) are listed.",
        example: "migrate", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        let m = try machine(s)
        let report: MigrationReport
        do throws(HypError) { report = try m.migrateToVmemmap() } catch { throw .failed(error.description) }
        return CommandOutput(
            text: report.description,
            json: .object([
                ("carried", .object(PageState.allCases.map { ($0.description, .number(report.carried[$0] ?? 0)) })),
                ("cleared_ptes", .number(report.clearedPTEs)),
                (
                    "uncarried",
                    .array(report.uncarried.map { .object([("pa", .hex($0.phys)), ("reason", .string($0.reason))]) })
                ),
            ]))
    }

    static let equiv = CommandSpec(
        "equiv", "equiv [script] [steps=1000] [seed=1] [guests=2] [layout=...] [ram=...] [--device-sharing]",
        summary: "Run one transition sequence through pte and vmemmap machines side by side, comparing every step.",
        details: "Without a script: steps random transitions from the seeded generator. Compared after each\n"
            + "step: return values, every page's state for host, hyp and guests, hyp stage-1 and guest\n"
            + "stage-2 bytes, host stage-2 bytes except software bits. layout= replaces the vmemmap side's\n"
            + "state layout (e.g. the planted bug) to show a divergence. The script uses the Hyp module's\n"
            + "transition lines (share_hyp <pfn>, share_guest <pfn> <gfn> <guest> <prot>, ...).",
        example: "equiv steps=10000 seed=7", arguments: 0...1, flags: ["device-sharing"],
        options: ["steps", "seed", "guests", "layout", "ram"]
    ) { (s, a) throws(S2CmdError) in
        let ca = PKVMConfig(storage: .pte, ram: try ram(a))
        var cb = try config(a, storage: .vmemmap)
        cb.deviceSharing = a.flag("device-sharing")
        let guests = try a.intOption("guests", default: 2, range: 0...64)
        let checker: EquivalenceChecker
        do throws(HypError) { checker = try EquivalenceChecker(ca, cb, guests: guests) } catch {
            throw .failed(error.description)
        }
        let outcome: (equivalent: Bool, text: String)
        let progress = Style.forDescriptor(2).colour
        if let path = a.string(0) {
            var script: [Transition] = []
            for (i, line) in try ScriptRunner.readLines(path).enumerated() {
                let text = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                if text.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
                guard let t = Transition(parsing: text) else {
                    throw .failed("\(path):\(i + 1): not a transition: \(line)")
                }
                script.append(t)
            }
            let r = checker.run(script: script)
            outcome = (r.isEquivalent, r.description)
        } else {
            let steps = try a.intOption("steps", default: 1000, range: 0...1_000_000_000)
            var g = checker.generator(seed: try a.numberOption("seed", default: 1))
            if progress && steps > progressChunk {
                outcome = runWithProgress(checker, steps: steps, generator: &g)
            } else {
                let r = checker.run(steps: steps, generator: &g)
                outcome = (r.isEquivalent, r.description)
            }
        }
        let json = JSON.object([("equivalent", .bool(outcome.equivalent)), ("result", .string(outcome.text))])
        if outcome.equivalent { return CommandOutput(text: outcome.text, json: json) }
        throw .failed(a.flag("json") ? json.serialized() : outcome.text)
    }

    /// Steps between progress updates on a terminal.
    static let progressChunk = 50_000

    /// `checker.run(steps:generator:)` in chunks, redrawing a progress line on standard error (a terminal)
    /// between them; the generator carries on across chunks, and each chunk adds a full comparison at
    /// its boundary. A divergence is reported with its step number in the whole run.
    static func runWithProgress(_ checker: EquivalenceChecker, steps: Int, generator g: inout TransitionGenerator)
        -> (equivalent: Bool, text: String)
    {
        var done = 0
        defer { ErrorStream.write("\r\u{1b}[K") }
        while done < steps {
            ErrorStream.write("\requiv: \(done)/\(steps) steps")
            let n = min(progressChunk, steps - done)
            if case .diverged(let d) = checker.run(steps: n, generator: &g) {
                var text = "divergence at step \(done + d.step)"
                if let t = d.transition { text += " (\(t))" }
                if let p = d.page { text += ", page \(Format.hex(p))" }
                return (false, text + ":\n" + d.detail)
            }
            done += n
        }
        return (true, EquivalenceResult.equivalent(steps: steps).description)
    }

    static let ownershipMap = CommandSpec(
        "ownership_map", "ownership_map <out.svg>",
        summary:
            "Draw physical memory as an ownership map (host, hyp, shared with hyp, shared with guests, FF-A, MMIO).",
        example: "ownership_map /tmp/owners.svg", arguments: 1...1
    ) { (s, a) throws(S2CmdError) in
        let m = try machine(s)
        let path = a.string(0) ?? ""
        let picture = OwnershipMap(machine: m)
        try picture.svg().write(to: path)
        return CommandOutput(
            text: "wrote \(path): " + picture.summary,
            json: .object([
                ("path", .string(path)), ("pages", .object(picture.counts.map { ($0.0.rawValue, .number($0.1)) })),
            ]))
    }

    // MARK: The hypercalls

    /// One command per transition the machine models.
    static let transitions: [CommandSpec] = [
        hypercall(
            "host_share_hyp", "<pfn>", "__pkvm_host_share_hyp: share a host page with the hypervisor.",
            "host_share_hyp 0x40100", 1
        ) {
            a, s throws(S2CmdError) in .shareHyp(pfn: try a.number(0))
        },
        hypercall(
            "host_unshare_hyp", "<pfn>", "__pkvm_host_unshare_hyp: take back a page shared with the hypervisor.",
            "host_unshare_hyp 0x40100", 1
        ) {
            a, s throws(S2CmdError) in .unshareHyp(pfn: try a.number(0))
        },
        hypercall(
            "host_donate_hyp", "<pfn> <pages>", "__pkvm_host_donate_hyp: give host pages to the hypervisor.",
            "host_donate_hyp 0x40200 4", 2
        ) {
            a, s throws(S2CmdError) in .donateHyp(pfn: try a.number(0), pages: try a.number(1))
        },
        hypercall(
            "hyp_donate_host", "<pfn> <pages>", "__pkvm_hyp_donate_host: give hypervisor pages back to the host.",
            "hyp_donate_host 0x40200 4", 2
        ) {
            a, s throws(S2CmdError) in .donateHost(pfn: try a.number(0), pages: try a.number(1))
        },
        hypercall(
            "host_share_ffa", "<pfn> <pages>", "__pkvm_host_share_ffa: share host pages with FF-A (the secure world).",
            "host_share_ffa 0x40300 1", 2
        ) {
            a, s throws(S2CmdError) in .shareFFA(pfn: try a.number(0), pages: try a.number(1))
        },
        hypercall(
            "host_unshare_ffa", "<pfn> <pages>", "__pkvm_host_unshare_ffa: end an FF-A share.",
            "host_unshare_ffa 0x40300 1", 2
        ) {
            a, s throws(S2CmdError) in .unshareFFA(pfn: try a.number(0), pages: try a.number(1))
        },
        hypercall(
            "host_share_guest", "<pfn> <gfn> <guest> <prot>",
            "__pkvm_host_share_guest: map a host page into a guest at gfn.",
            "host_share_guest 0x40400 0x80 0x1000 RW", 4
        ) { a, s throws(S2CmdError) in
            .shareGuest(
                pfn: try a.number(0), gfn: try a.number(1), guest: UInt32(truncatingIfNeeded: try a.number(2)),
                prot: try a.prot(3))
        },
        hypercall(
            "host_unshare_guest", "<gfn> <guest>", "__pkvm_host_unshare_guest: unmap a shared page from a guest.",
            "host_unshare_guest 0x80 0x1000", 2
        ) {
            a, s throws(S2CmdError) in
            .unshareGuest(gfn: try a.number(0), guest: UInt32(truncatingIfNeeded: try a.number(1)))
        },
        hypercall(
            "host_relax_perms_guest", "<gfn> <guest> <prot>",
            "__pkvm_host_relax_perms_guest: add permissions to a guest mapping.",
            "host_relax_perms_guest 0x80 0x1000 X", 3
        ) { a, s throws(S2CmdError) in
            .relaxPerms(gfn: try a.number(0), guest: UInt32(truncatingIfNeeded: try a.number(1)), prot: try a.prot(2))
        },
        hypercall(
            "host_wrprotect_guest", "<gfn> <guest>", "__pkvm_host_wrprotect_guest: write-protect a guest mapping.",
            "host_wrprotect_guest 0x80 0x1000", 2
        ) {
            a, s throws(S2CmdError) in
            .wrprotect(gfn: try a.number(0), guest: UInt32(truncatingIfNeeded: try a.number(1)))
        },
        hypercall(
            "host_test_clear_young_guest", "<gfn> <guest> [--mkold]",
            "__pkvm_host_test_clear_young_guest: test (and clear) a guest mapping's AF.",
            "host_test_clear_young_guest 0x80 0x1000 --mkold", 2, flags: ["mkold"]
        ) { a, s throws(S2CmdError) in
            .testClearYoung(
                gfn: try a.number(0), guest: UInt32(truncatingIfNeeded: try a.number(1)), mkold: a.flag("mkold"))
        },
        hypercall(
            "host_mkyoung_guest", "<gfn> <guest>", "__pkvm_host_mkyoung_guest: set a guest mapping's AF.",
            "host_mkyoung_guest 0x80 0x1000", 2
        ) {
            a, s throws(S2CmdError) in
            .mkyoung(gfn: try a.number(0), guest: UInt32(truncatingIfNeeded: try a.number(1)))
        },
        hypercall(
            "hyp_pin_shared_mem", "<pfn> <pages>",
            "hyp_pin_shared_mem: the hypervisor pins pages the host shared with it.", "hyp_pin_shared_mem 0x40100 1", 2
        ) {
            a, s throws(S2CmdError) in .pin(pfn: try a.number(0), pages: try a.number(1))
        },
        hypercall(
            "hyp_unpin_shared_mem", "<pfn> <pages>", "hyp_unpin_shared_mem: drop the pin.",
            "hyp_unpin_shared_mem 0x40100 1", 2
        ) {
            a, s throws(S2CmdError) in .unpin(pfn: try a.number(0), pages: try a.number(1))
        },
        hypercall(
            "host_mem_abort", "<pa>", "handle_host_mem_abort: a host stage-2 fault at pa (host_stage2_idmap maps it).",
            "host_mem_abort 0x4050_0000", 1
        ) {
            a, s throws(S2CmdError) in .hostFault(addr: try a.address(0, in: s))
        },
        hypercall(
            "topup_guest", "<guest> <pfn>", "Top up a guest's memcache with one host page (donated to the hyp).",
            "topup_guest 0x1000 0x40500", 2
        ) {
            a, s throws(S2CmdError) in .topUp(guest: UInt32(truncatingIfNeeded: try a.number(0)), pfn: try a.number(1))
        },
    ]

    /// A command that performs one `Transition` and reports the kernel's return value.
    static func hypercall(
        _ name: String, _ args: String, _ summary: String, _ example: String, _ count: Int, flags: [String] = [],
        _ make: @escaping @Sendable (Arguments, Session) throws(S2CmdError) -> Transition
    ) -> CommandSpec {
        CommandSpec(
            name, "\(name) \(args)", summary: summary,
            details:
                "Pages are PFNs (PA >> 12), as in the hypercall ABI; a non-zero return is an error with the errno.",
            example: example, arguments: count...count, flags: flags
        ) { (s, a) throws(S2CmdError) in
            let m = try machine(s)
            let t = try make(a, s)
            let warnings = m.warnings
            let r = m.apply(t)
            // A WARN_ON the kernel would print (for example a guest map without a topped-up memcache).
            let warning = m.warnings != warnings ? "WARN: \(m.lastWarning)" : nil
            if r < 0 { throw .kernel(errno: r, what: t.description + (warning.map { " (\($0))" } ?? "")) }
            let text = ([r == 0 ? nil : "returned \(r)", warning].compactMap { $0 }).joined(separator: "\n")
            return CommandOutput(
                text: text,
                json: .object([
                    ("transition", .string(t.description)), ("ret", .number(Int(r))),
                    ("warning", warning.map { .string($0) } ?? .null),
                ]))
        }
    }
}
