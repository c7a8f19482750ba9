import Hyp
import Mem
import Pgtable

/// The machine one REPL or script works on: emulated physical memory, the page pool new table pages come
/// from (`kvm_pgtable_mm_ops`), the registers that select the stage-2 regime, and the image it came from.
/// Every command of the language runs against a session through `execute`.
public final class Session {
    public private(set) var mem: PhysMem
    /// Where new table pages come from; created on first need (see `ensurePool`).
    public private(set) var pool: PagePool?
    public var registers = Registers()
    /// Symbols of the loaded image (for `walk sym` and completion).
    public var symbols: [String: UInt64] = [:]
    /// Probe addresses the image lists (`probe_ipas`), for batch translation.
    public var probes: [UInt64] = []
    /// The image file the session was loaded from, if any.
    public var imagePath: String?
    /// `KVM_PGTABLE_S2_NOFWB` / `_IDMAP` for the stage-2 operations.
    public var stage2Flags: Stage2Flags = []
    /// The ptdump marker naming the address space (`Guest IPA`, or `Host IPA` for pKVM's host).
    public var marker = "Guest IPA"
    /// Colour for text output.
    public var style: Style
    /// Where `run` scripts send each line's output as it is produced.
    public var emit: (String) -> Void = { print($0) }
    /// Where `run` scripts send each error (`file:line: error: ...`).
    public var emitError: (String) -> Void = { ErrorStream.print($0) }
    /// Set by `quit`/`exit`; the REPL stops reading.
    public var quitRequested = false
    /// The pKVM machine built by `pkvm`, whose memory the session then works on.
    public private(set) var pkvm: PKVMMachine?
    /// The guest `view` points the stage-2 registers at, or nil for the host.
    public var viewedGuest: UInt32?

    public init(style: Style = .plain) {
        self.mem = PhysMem()
        self.style = style
    }

    // MARK: The stage-2 regime

    /// The stage-2 geometry VTCR_EL2 describes (`AArch64.S2Walk`'s reading of it).
    public func stage2Geometry() throws(S2CmdError) -> Geometry {
        guard let vtcr = registers.vtcr, registers.vttbr != nil else { throw .noTable }
        do { return try Geometry(vtcr: VTCR(vtcr)) } catch { throw .pgtable(error) }
    }

    /// Root and geometry of the stage-2 table VTCR_EL2 and VTTBR_EL2 select.
    public func stage2Root() throws(S2CmdError) -> PgtableRoot {
        let g = try stage2Geometry()
        let root = Registers.baddr(registers.vttbr ?? 0, oaBits: g.oaBits)
        return PgtableRoot(root: PhysAddr(root), geometry: g)
    }

    /// Makes `machine` the session's machine: its memory, its host stage 2 in VTCR/VTTBR (marker
    /// `Host IPA`, `KVM_PGTABLE_S2_NOFWB | _IDMAP`), its hyp stage 1 in TCR_EL2/TTBR0_EL2.
    public func attach(_ machine: PKVMMachine) {
        pkvm = machine
        mem = machine.mem
        pool = nil
        symbols = [:]
        probes = []
        imagePath = nil
        let host = machine.host.geometry
        let hyp = machine.hyp.geometry
        registers.vtcr = host.vtcr.rawValue
        registers.vttbr = Registers.ttbr(baddr: machine.host.root.rawValue, oaBits: host.oaBits)
        // TCR_EL2 as __kvm_hyp_init builds it: RES1 bits 31 and 23, PS, TG0 4K, SH0 IS, WBWA walks, T0SZ.
        registers.hypTCR =
            1 << 31 | 1 << 23 | (PARange.encoding(hyp.oaBits) ?? 5) << 16 | 3 << 12 | 1 << 10 | 1 << 8
            | UInt64(64 - hyp.iaBits)
        registers.hypTTBR0 = machine.hyp.root.rawValue
        stage2Flags = [.noFWB, .idmap]
        marker = "Host IPA"
        viewedGuest = nil
    }

    /// The stage-2 table with the session's pool as its `mm_ops`, for operations that may allocate.
    /// - Throws: `failed` on a pKVM machine, whose tables change only through its hypercalls.
    public func stage2Table() throws(S2CmdError) -> Stage2Table<PagePool> {
        if pkvm != nil { throw .failed("on a pKVM machine the stage-2 tables change only through the hypercalls") }
        let r = try stage2Root()
        let pool = try ensurePool(pageShift: r.geometry.granule.shift)
        return Stage2Table(mm: pool, root: r.root, geometry: r.geometry, flags: stage2Flags)
    }

    // MARK: Memory and the page pool

    /// Adds a RAM region.
    public func addRAM(base: UInt64, size: UInt64) throws(S2CmdError) {
        do { try mem.addRegion(base: PhysAddr(base), size: size) } catch { throw .mem(error) }
    }

    /// Makes `[base, base+size)` the page pool (backing it with RAM where no region does yet).
    public func setPool(base: UInt64, size: UInt64, pageShift: Int) throws(S2CmdError) {
        if !mem.contains(PhysAddr(base), size: size) { try addRAM(base: base, size: size) }
        do { pool = try PagePool(mem: mem, base: PhysAddr(base), size: size, pageShift: pageShift) } catch {
            throw .mem(error)
        }
    }

    /// Size of a pool `ensurePool` creates.
    public static let defaultPoolSize: UInt64 = 16 << 20

    /// The pool, created if there is none: 16 MiB of new RAM at the first 16 MiB-aligned address above
    /// every region. - Throws: `usage`-style error if the existing pool's page size differs from the table's.
    public func ensurePool(pageShift: Int) throws(S2CmdError) -> PagePool {
        if let pool {
            guard pool.pageShift == pageShift else {
                throw .failed(
                    "the page pool hands out \(1 << pool.pageShift)-byte pages; this table needs \(1 << pageShift)")
            }
            return pool
        }
        let top = mem.regions.map { $0.end.rawValue }.max() ?? 0x4000_0000
        let size = Session.defaultPoolSize
        let base = (top + size - 1) & ~(size - 1)
        try setPool(base: base, size: size, pageShift: pageShift)
        guard let pool else { throw .failed("no page pool") }
        return pool
    }

    // MARK: Running commands

    /// Runs one command. - Throws: the command's error; the session stays usable.
    public func execute(_ invocation: Invocation) throws(S2CmdError) -> CommandOutput {
        guard let spec = CommandRegistry.spec(named: invocation.name) else {
            throw .unknownCommand(invocation.name, suggestion: CommandRegistry.suggestion(for: invocation.name))
        }
        let args = try Arguments(spec: spec, invocation: invocation)
        return try spec.action(self, args)
    }

    /// Runs one line of the language (nil for a blank or comment line). `expect <errno|error> <command>`
    /// runs `<command>` and succeeds only if it fails with that errno (`-EINVAL`, `-EAGAIN`, ...) or, for
    /// `error`, with any error.
    public func execute(line text: String, number: Int = 0) throws(S2CmdError) -> CommandOutput? {
        let words = try Lexer.words(text)
        guard let first = words.first else { return nil }
        guard first.text == "expect" else {
            guard let inv = try Invocation.parse(text, line: number) else { return nil }
            return try execute(inv)
        }
        guard words.count >= 3 else {
            throw .usage(command: "expect", message: "missing command", synopsis: "expect <errno|error> <command ...>")
        }
        let wanted = words[1].text
        let rest = String(text.dropFirst(words[2].column - 1))
        guard let inner = try Invocation.parse(rest, line: number) else { return nil }
        do {
            _ = try execute(inner)
        } catch {
            if wanted == "error" || error.errnoName == wanted {
                let got = error.errnoName ?? "error"
                return CommandOutput(
                    text: "",
                    json: .object([("ok", .bool(true)), ("expected", .string(wanted)), ("got", .string(got))]))
            }
            throw .expectation("wanted \(wanted) from '\(inner.name)', got: \(error)")
        }
        throw .expectation("wanted \(wanted) from '\(inner.name)', but it succeeded")
    }

    /// Text or JSON for an output, as `--json` asks.
    public static func render(_ output: CommandOutput, json: Bool) -> String? {
        if json { return output.json.serialized() }
        return output.text.isEmpty ? nil : output.text
    }
}

extension Session {
    /// An address written as a number, an image symbol, or `symbol+offset`.
    /// - Throws: `badNumber` if it is none of these (`numberTooLarge` for a number beyond 64 bits).
    public func resolve(_ text: String) throws(S2CmdError) -> UInt64 {
        if let v = NumberParser.value(text) { return v }
        if let v = symbols[text] { return v }
        if let plus = text.firstIndex(of: "+"), let base = symbols[String(text[..<plus])],
            let off = NumberParser.value(String(text[text.index(after: plus)...]))
        {
            return base &+ off
        }
        throw NumberParser.failure(text)
    }
}

extension Arguments {
    /// Positional argument `i` as an address: a number, an image symbol or `symbol+offset`.
    public func address(_ i: Int, in session: Session) throws(S2CmdError) -> UInt64 {
        guard let s = string(i) else { throw usage("missing address") }
        return try session.resolve(s)
    }
}
