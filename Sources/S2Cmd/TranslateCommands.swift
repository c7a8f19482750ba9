import Mem
import Pgtable

/// The architectural translation (`AArch64.S2Walk`, or the EL2 stage 1 with `--hyp`): what the hardware
/// does with the tables, as opposed to what the kernel's walker sees.
enum TranslateCommands {
    static let all: [CommandSpec] = [translate, probes]

    static let translate = CommandSpec(
        "translate", "translate <address> [access=read|write|exec] [--el0] [--at] [--hyp]",
        summary: "Translate an address as the hardware walker does: the result, or the fault record with its FST.",
        details: "Stage 2 from VTCR_EL2/VTTBR_EL2 (AArch64.S2Walk), or with --hyp the EL2 stage 1 from\n"
            + "TCR_EL2/TTBR0_EL2. --el0: an EL0 access (execute checks XN[1] under FEAT_XNX); --at: an AT\n"
            + "instruction (no hardware dirty-state update). Prints every descriptor read, then the output\n"
            + "address and attributes or the fault kind, level, FST and PAR_EL1. With HA/HD set the walk\n"
            + "writes the access flag / dirty state, as hardware would.",
        example: "translate 0x4020_0000 access=write", arguments: 1...1, flags: ["el0", "at", "hyp"],
        options: ["access"]
    ) { (s, a) throws(S2CmdError) in
        let address = try a.address(0, in: s)
        let kindName = a.option("access") ?? "read"
        let kind: TranslationAccess.Kind
        switch kindName {
        case "read", "r": kind = .read
        case "write", "w": kind = .write
        case "exec", "execute", "x": kind = .execute
        default: throw a.usage("access must be read, write or exec, not '\(kindName)'")
        }
        let access = TranslationAccess(kind, el0: a.flag("el0"), addressTranslation: a.flag("at"))
        let regime: TranslationRegime
        let regimeKind: Regime
        if a.flag("hyp") {
            guard let tcr = s.registers.hypTCR, let ttbr = s.registers.hypTTBR0 else {
                throw .failed("no hyp stage 1: set hyp_tcr and hyp_ttbr0 (or load an image with them)")
            }
            regime = TranslationRegime(hypTCR: tcr, ttbr0: ttbr)
            regimeKind = .hypStage1
        } else {
            guard let vtcr = s.registers.vtcr, let vttbr = s.registers.vttbr else { throw .noTable }
            regime = TranslationRegime(vtcr: vtcr, vttbr: vttbr)
            regimeKind = .stage2
        }
        let trace = regime.trace(address, access, in: s.mem)
        var lines = [s.style.bold("translate \(Format.hex(address)) \(access): \(regime)")]
        let granule = regime.geometry?.granule ?? .k4
        for st in trace.steps {
            lines.append(WalkText.line(st, granule: granule, format: regime.format, regime: regimeKind, style: s.style))
        }
        var json: [(String, JSON)] = [
            ("address", .hex(address)), ("access", .string(access.description)),
            ("regime", .string(regime.description)),
            (
                "steps",
                .array(
                    trace.steps.map { WalkText.json($0, granule: granule, format: regime.format, regime: regimeKind) })
            ),
        ]
        switch trace.translation {
        case .success(let r):
            let sh = Format.binary(UInt64(r.shareability), width: 2)
            let attr =
                regimeKind == .stage2
                ? "MemAttr=" + Format.binary(UInt64(r.memAttr), width: 4) : "AttrIndx=\(r.memAttr)"
            lines.append(
                "  => OA \(Format.hex(r.outputAddress)): level \(r.level), \(Format.size(r.blockSize)), \(r.permissions)"
                    + (regimeKind == .stage2 ? " (R W X-EL1 x-EL0), " : ", ")
                    + "\(attr) SH=\(sh)" + (r.contiguous ? " contiguous" : "") + (r.dirtyBitModifier ? " DBM" : "")
                    + (r.descriptorUpdated ? ", descriptor updated by hardware" : "")
                    + "; PAR_EL1 \(Format.hex16(trace.translation.parFields))")
            json += [
                (
                    "result",
                    .object([
                        ("oa", .hex(r.outputAddress)), ("level", .number(r.level)), ("size", .hex(r.blockSize)),
                        ("perms", .string(r.permissions.description)), ("memattr", .number(Int(r.memAttr))),
                        ("sh", .number(Int(r.shareability))), ("contiguous", .bool(r.contiguous)),
                        ("dbm", .bool(r.dirtyBitModifier)), ("sw", .number(Int(r.softwareBits))),
                        ("descriptor_updated", .bool(r.descriptorUpdated)),
                    ])
                ), ("par", .hex(trace.translation.parFields)),
            ]
        case .fault(let f):
            lines.append(
                "  => " + s.style.red("\(f)") + "; PAR_EL1 \(Format.hex16(trace.translation.parFields))")
            json += [
                (
                    "fault",
                    .object([
                        ("kind", .string(f.kind.rawValue)), ("level", .number(f.level)),
                        ("stage2", .bool(f.secondStage)),
                        ("write", .bool(f.write)), ("fst", .number(Int(f.statusCode))),
                    ])
                ), ("par", .hex(trace.translation.parFields)),
            ]
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .object(json))
    }

    static let probes = CommandSpec(
        "probes", "probes",
        summary: "Translate every probe address of the image (probe_ipas) for a read and a write, one line each.",
        details: "The same AT S12E1R / AT S12E1W pair the images' EL2 program runs under QEMU; each line gives\n"
            + "PAR_EL1 for both, so it can be compared with the recorded QEMU output.",
        example: "probes", arguments: 0...0
    ) { (s, a) throws(S2CmdError) in
        guard let vtcr = s.registers.vtcr, let vttbr = s.registers.vttbr else { throw .noTable }
        let regime = TranslationRegime(vtcr: vtcr, vttbr: vttbr)
        var lines: [String] = []
        var json: [JSON] = []
        for ipa in s.probes {
            let r = regime.translate(ipa, .at(write: false), in: s.mem)
            let w = regime.translate(ipa, .at(write: true), in: s.mem)
            lines.append(
                Format.hex16(ipa) + "  R " + Format.hex16(r.parFields) + "  W " + Format.hex16(w.parFields) + "  "
                    + r.description)
            json.append(
                .object([("ipa", .hex(ipa)), ("par_read", .hex(r.parFields)), ("par_write", .hex(w.parFields))]))
        }
        return CommandOutput(text: lines.joined(separator: "\n"), json: .array(json))
    }
}
