import FuzzSupport
import Mem
import Pgtable

/// Backed memory the walks read: 256 KiB at physical address 0, so that any descriptor whose output
/// address bits above 17 are clear points back into it (walks go deep without the fuzzer having to guess
/// a base address).
let memSize = 256 << 10
let mem: PhysMem = {
    do { return try PhysMem(base: PhysAddr(0), size: UInt64(memSize)) } catch { fatalError("\(error)") }
}()

/// libFuzzer entry point: random memory contents, random VTCR_EL2/VTTBR_EL2 (or TCR_EL2/TTBR0_EL2) and
/// random implementation choices; translates a few addresses with the architectural walker and walks the
/// same memory with the kernel-side walker (`PgtableRoot.walk`, `leaf`, `trace`), decoding every
/// descriptor read by name.
///
/// Input: control (1 byte: bit 0 hyp stage 1, bit 1 steer output addresses into memory, bit 2 steer the
/// table base), VTCR/TCR (8), VTTBR/TTBR0 (8), features (2), four probes of (address 8, access 1), then
/// memory contents.
///
/// Findings: a crash or hang; a result outside the promises checked below.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTranslate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = ByteReader(data, size)
    let control = r.u8()
    let hyp = control & 1 != 0
    var tcr = r.u64()
    var ttbr = r.u64()
    if control & 4 != 0 { ttbr &= 0x3_f000 | 0xffff_0000_0000_0000 }
    let fbits = r.u16()
    let features = ArchFeatures(
        paMax: [32, 36, 40, 42, 44, 48, 52][Int(fbits & 7) % 7], lpa: fbits & 8 != 0, lva: fbits & 16 != 0,
        lpa2: fbits & 32 != 0, smallTranslationTables: fbits & 64 != 0, hardwareAccessFlag: fbits & 128 != 0,
        hardwareDirtyState: fbits & 256 != 0, extendedExecuteNever: fbits & 512 != 0,
        faultOnTxSZAboveMaximum: fbits & 1024 != 0, faultOnIPAWiderThanPS: fbits & 2048 != 0,
        faultOnMisprogrammedContiguous: fbits & 4096 != 0,
        reservedTG0Granule: [Granule.k4, .k16, .k64][Int(fbits >> 13) % 3])
    if !hyp, control & 8 != 0 {
        // A VTCR the kernel could have written: keep only the fields it sets, so the geometry is often valid.
        tcr &= 0x3_0007_ffff
    }
    var probes: [(UInt64, TranslationAccess)] = []
    for _ in 0..<4 {
        let a = r.u64()
        let k = r.u8()
        let access = TranslationAccess(
            [TranslationAccess.Kind.read, .write, .execute][Int(k & 3) % 3], el0: k & 4 != 0,
            addressTranslation: k & 8 != 0)
        probes.append((control & 16 != 0 ? a & 0xf_ffff_ffff_ffff : a, access))
    }

    // Memory: the rest of the input, word by word, optionally steered back into the 256 KiB.
    let contents = r.rest()
    let words = min(contents.count / 8, memSize / 8)
    guard let base = try? mem.pointer(PhysAddr(0), size: UInt64(memSize)) else { return 0 }
    base.initializeMemory(as: UInt8.self, repeating: 0, count: memSize)
    for i in 0..<words {
        var w = contents.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
        if control & 2 != 0 { w &= ~0x0000_ffff_fffc_0000 }
        base.storeBytes(of: w, toByteOffset: i * 8, as: UInt64.self)
    }
    let snapshot = [UInt8](UnsafeRawBufferPointer(start: base, count: words * 8))

    let regime =
        hyp
        ? TranslationRegime(hypTCR: tcr, ttbr0: ttbr, features: features)
        : TranslationRegime(vtcr: tcr, vttbr: ttbr, features: features)
    _ = regime.description
    for (address, access) in probes {
        // trace and translate agree (run on the same memory: restore what a hardware update changed).
        // Each probe starts from the input's memory (a hardware AF/dirty update of an earlier probe undone).
        snapshot.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let traced = regime.trace(address, access, in: mem)
        snapshot.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let t = regime.translate(address, access, in: mem)
        check(t == traced.translation, "trace \(traced.translation) != translate \(t)")
        check(traced.steps.count <= 5, "\(traced.steps.count) steps")
        _ = t.description
        switch t {
        case .success(let s):
            check((-1...3).contains(s.level), "leaf level \(s.level)")
            // AArch64.OAOutOfRange checks the leaf's base; the input offset within a block is not checked
            // again (a 512 GiB level-0 block under a 32-bit PS reaches past it, as the pseudocode allows).
            let leafBase = s.outputAddress & ~(s.blockSize &- 1)
            check(!regime.outputAddressOutOfRange(leafBase), "output base 0x\(String(leafBase, radix: 16))")
            check(s.descriptorAddress.rawValue < UInt64(memSize), "descriptor outside memory")
            check(!s.descriptorUpdated || regime.ha, "descriptor updated without HA")
        case .fault(let f):
            check((-1...3).contains(f.level), "fault level \(f.level)")
            _ = f.par
            _ = f.statusCode
        }
        for step in traced.steps {
            let regimeKind: Regime = hyp ? .hypStage1 : .stage2
            if let g = regime.geometry {
                _ = step.descriptor.fields(level: step.level, granule: g.granule, format: regime.format, regime: regimeKind)
            }
        }
    }

    // The kernel's walker over the same garbage, when the registers describe a stage-2 geometry.
    if !hyp, let g = try? Geometry(vtcr: VTCR(tcr), paMax: features.paMax) {
        let root = PgtableRoot(root: PhysAddr(ttbr & 0x3_f000), geometry: g)
        for (address, _) in probes {
            do {
                let (pte, level) = try root.leaf(mem: mem, addr: address)
                check((g.startLevel...Granule.lastLevel).contains(level), "get_leaf level \(level)")
                _ = pte.fields(level: level, granule: g.granule, format: g.format, regime: .stage2)
            } catch {
                _ = error.description
            }
            do {
                let steps = try root.trace(mem: mem, addr: address)
                check(steps.count <= g.levels, "\(steps.count) trace steps for \(g.levels) levels")
            } catch {
                _ = error.description
            }
            var counter = VisitCounter()
            let span = UInt64(control >> 5) << g.granule.shift
            do {
                _ = try root.walk(mem: mem, addr: address, size: span, flags: [.leaf, .tablePre, .tablePost], visitor: &counter)
                // Each page of the range is visited at most once per level (as a leaf or as a table).
                let pages = Int(span >> g.granule.shift) + 2
                check(counter.visits <= pages * g.levels * 2, "\(counter.visits) visits for \(pages) pages")
            } catch {
                _ = error.description
            }
        }
    }
    return 0
}

/// Counts the walker's callbacks and changes nothing.
struct VisitCounter: PgtableVisitor {
    var visits = 0
    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        visits += 1
        return 0
    }
}
