import Mem
import Pgtable

/// The stage-2 page-table dump of Linux v6.14 (`arch/arm64/kvm/ptdump.c` over arm64's `note_page` in
/// `arch/arm64/mm/ptdump.c`): a `---[ Guest IPA ]---` marker, then one line per run of leaf entries (valid
/// or not) with the same level and the same bits under the token mask:
///
///     0x<start 016lx>-0x<end 016lx>   <size %9lu%c> <level %u> <tokens>
///
/// Tokens, in `stage2_pte_bits` order, each printed as `" %s"` and only when the run's masked bits are
/// non-zero: `" "`/`F` (valid), `R`/`" "` (S2AP[0]), `W`/`" "` (S2AP[1]), `" "`/`X` (XN, bit 54), `AF`/`"  "`,
/// `BLK`/`"   "` (valid with bit 1 clear).
///
/// One difference, on purpose: the kernel's walk never calls `note_page` past the last entry, so its
/// debugfs file stops before the final run; s2emu prints that run too (as the generic ptdump's closing
/// `note_page(st, 0, -1, 0)` would), so a dump always covers the whole range.
public struct PtDump: Sendable {
    /// One line: entries `[start, end)` at `level` whose bits under the mask are `prot`.
    public struct Run: Equatable, Sendable {
        public var start: UInt64
        public var end: UInt64
        public var level: Int
        /// The run's bits under `PtDump.mask` (the kernel's `st->current_prot`).
        public var prot: UInt64
        /// The first entry of the run (for the wide columns).
        public var first: Descriptor
        /// Output address at `start` for a valid leaf run.
        public var outputAddress: UInt64?
    }

    /// One `struct ptdump_prot_bits` entry.
    public struct Token: Sendable {
        public let mask: UInt64
        public let val: UInt64
        public let set: String
        public let clear: String
    }

    static let valid: UInt64 = 1 << 0
    static let tableBit: UInt64 = 1 << 1

    /// `stage2_pte_bits` of v6.14.
    public static let tokens: [Token] = [
        Token(mask: valid, val: valid, set: " ", clear: "F"),
        Token(mask: Descriptor.s2apR.mask | valid, val: Descriptor.s2apR.mask | valid, set: "R", clear: " "),
        Token(mask: Descriptor.s2apW.mask | valid, val: Descriptor.s2apW.mask | valid, set: "W", clear: " "),
        Token(mask: Stage2Attributes.xnBit | valid, val: valid, set: " ", clear: "X"),
        Token(mask: Descriptor.af.mask | valid, val: Descriptor.af.mask | valid, set: "AF", clear: "  "),
        Token(mask: tableBit | valid, val: valid, set: "BLK", clear: "   "),
    ]

    /// The union of the token masks (`level[i].mask` in `kvm_ptdump_build_levels`).
    public static let mask: UInt64 = tokens.reduce(0) { $0 | $1.mask }

    public let geometry: Geometry
    public let marker: String
    /// Whether runs also break where the wide columns (output address, MemAttr, SH, SW, owner) change.
    public let wide: Bool
    public let runs: [Run]
    /// The pKVM state of each run's first page, for the wide dump of a pKVM machine's table.
    public var states: [String]?

    /// Dumps `[start, end)` of the table at `root` (the kernel dumps `[0, BIT(ia_bits))`).
    /// - Throws: `S2CmdError.pgtable` if the range is outside the input space or a table is unbacked.
    public init(
        root: PgtableRoot, mem: PhysMem, start: UInt64 = 0, end: UInt64? = nil, marker: String = "Guest IPA",
        wide: Bool = false
    ) throws(S2CmdError) {
        let stop = end ?? root.geometry.inputSize
        var v = PtDumpVisitor(geometry: root.geometry, wide: wide)
        if stop > start {
            do { _ = try root.walk(mem: mem, addr: start, size: stop - start, flags: .leaf, visitor: &v) } catch {
                throw .pgtable(error)
            }
        }
        v.finish(at: stop)
        self.geometry = root.geometry
        self.marker = marker
        self.wide = wide
        self.runs = v.runs
    }

    /// The kernel's tokens for masked bits `prot` (`dump_prot`), or nil when `prot` is 0 (none printed).
    public static func tokenString(_ prot: UInt64) -> String? {
        guard prot != 0 else { return nil }
        return tokens.map { " " + (prot & $0.mask == $0.val ? $0.set : $0.clear) }.joined()
    }

    /// The level name `kvm_ptdump_build_levels` gives (`"%u"`).
    public static func levelName(_ level: Int) -> String { String(level) }

    /// Column at which the wide columns start.
    static let wideColumn = 70

    /// The dump as text, one line per run after the marker.
    public func text(style: Style = .plain) -> String {
        var lines = [style.bold("---[ \(marker) ]---")]
        for r in runs {
            var s = Format.hex16(r.start) + "-" + Format.hex16(r.end) + "   "
            s += Format.right(Format.ptdumpSize(r.end - r.start), 10) + " " + PtDump.levelName(r.level)
            if let t = PtDump.tokenString(r.prot) { s += t }
            if wide { s = Format.left(s, PtDump.wideColumn) + wideColumns(r) }
            if wide, let states, let i = runs.firstIndex(of: r) { s += " state=\(states[i])" }
            lines.append(r.first.isValid || !style.colour ? s : style.dim(s))
        }
        return lines.joined(separator: "\n")
    }

    func wideColumns(_ r: Run) -> String {
        let d = r.first
        if d.isValid {
            return "OA=" + Format.hex16(r.outputAddress ?? 0) + " MemAttr="
                + Format.binary(d[Descriptor.memAttr], width: 4)
                + " SH=" + (geometry.lpa2 ? "--" : Format.binary(d[Descriptor.sh], width: 2))
                + " SW=" + Format.binary(d[Descriptor.sw], width: 4)
        }
        return "owner=\(d[Descriptor.ownerID])" + (d[Descriptor.locked] != 0 ? " locked" : "")
    }

    /// The dump as JSON.
    public func json() -> JSON {
        .object([
            ("marker", .string(marker)), ("ia_bits", .number(geometry.iaBits)),
            ("start_level", .number(geometry.startLevel)),
            (
                "runs",
                .array(
                    runs.map { r in
                        var o: [(String, JSON)] = [
                            ("start", .hex(r.start)), ("end", .hex(r.end)),
                            ("size", .string(Format.ptdumpSize(r.end - r.start))),
                            ("level", .number(r.level)), ("prot", .hex(r.prot)),
                            ("tokens", PtDump.tokenString(r.prot).map { .string($0) } ?? .null),
                            ("valid", .bool(r.first.isValid)),
                        ]
                        if wide, let states, let i = runs.firstIndex(of: r) { o.append(("state", .string(states[i]))) }
                        if wide {
                            if r.first.isValid {
                                o += [
                                    ("oa", .hex(r.outputAddress ?? 0)),
                                    ("memattr", .number(Int(r.first[Descriptor.memAttr]))),
                                    ("sh", geometry.lpa2 ? .null : .number(Int(r.first[Descriptor.sh]))),
                                    ("sw", .number(Int(r.first[Descriptor.sw]))),
                                ]
                            } else {
                                o += [("owner_id", .number(Int(r.first[Descriptor.ownerID])))]
                            }
                        }
                        return .object(o)
                    })
            ),
        ])
    }
}

/// The walker callback behind `PtDump` (`kvm_ptdump_visitor` calling `note_page` for each leaf entry).
struct PtDumpVisitor: PgtableVisitor {
    let geometry: Geometry
    let wide: Bool
    var runs: [PtDump.Run] = []
    /// The open run (`st->level == -1` before the first entry).
    var current: PtDump.Run?

    init(geometry: Geometry, wide: Bool) {
        self.geometry = geometry
        self.wide = wide
    }

    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        note(addr: ctx.addr, level: ctx.level, pte: ctx.old)
        return 0
    }

    /// `note_page`: extend the open run, or close it and open a new one.
    mutating func note(addr: UInt64, level: Int, pte: Descriptor) {
        let prot = pte.rawValue & PtDump.mask
        let oa: UInt64? =
            pte.isValid
            ? pte.outputAddress(granule: geometry.granule, format: geometry.format)
                | (addr & (geometry.granule.levelSize(level) &- 1)) : nil
        if var run = current {
            if prot == run.prot && level == run.level && (!wide || continues(run, addr: addr, pte: pte, oa: oa)) {
                return
            }
            run.end = addr
            runs.append(run)
        }
        current = PtDump.Run(start: addr, end: addr, level: level, prot: prot, first: pte, outputAddress: oa)
    }

    /// Whether, for the wide dump, `pte` at `addr` carries on `run`: same MemAttr, SH, SW and owner, and
    /// for valid leaves an output address that follows on.
    func continues(_ run: PtDump.Run, addr: UInt64, pte: Descriptor, oa: UInt64?) -> Bool {
        let extra =
            Descriptor.memAttr.mask | Descriptor.sh.mask | Descriptor.sw.mask | Descriptor.ownerID.mask
            | Descriptor.locked.mask
        guard run.first.rawValue & extra == pte.rawValue & extra else { return false }
        guard let start = run.outputAddress else { return oa == nil }
        return oa == start &+ (addr &- run.start)
    }

    /// Closes the open run at `end`.
    mutating func finish(at end: UInt64) {
        if var run = current {
            run.end = end
            runs.append(run)
            current = nil
        }
    }
}
