import Mem
import Pgtable

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The first place two machines disagree.
public struct Divergence: Sendable, CustomStringConvertible {
    /// 1-based step number (0: the set-up before the first step).
    public let step: Int
    public let transition: Transition?
    /// The page (PA, or IPA for a guest page) where they differ, if one.
    public let page: UInt64?
    /// What differs, with both sides' states and descriptors.
    public let detail: String

    public var description: String {
        var s = "divergence at step \(step)"
        if let t = transition { s += " (\(t))" }
        if let p = page { s += ", page 0x\(String(p, radix: 16))" }
        return s + ":\n" + detail
    }
}

/// The outcome of an equivalence run.
public enum EquivalenceResult: Sendable, CustomStringConvertible {
    case equivalent(steps: Int)
    case diverged(Divergence)

    public var description: String {
        switch self {
        case .equivalent(let n): return "equivalent over \(n) steps"
        case .diverged(let d): return d.description
        }
    }

    public var isEquivalent: Bool {
        if case .equivalent = self { return true }
        return false
    }
}

/// Runs one sequence of transitions through two machines side by side (normally `pte` and `vmemmap`
/// storage) and compares them after every step:
/// - the return value (a host fault's 0 and -EAGAIN both mean "resolved": the `pte` machine has page
///   mappings where the `vmemmap` one maps lazily);
/// - for each page the step names (host PFNs, and the PA behind a guest IPA): host, hyp and guest states,
///   `host_share_guest_count`, the hyp stage-1 leaf, the guest stage-2 leaf, and the host stage-2 *effective*
///   page descriptor without SW bits (see `hostView`);
/// - every `fullEvery` steps and at the end, everything: each RAM page as above, the hyp pool's bytes
///   (hyp stage-1 tables and free lists), all RAM outside the carve-out (guest tables, memcaches, VM pages),
///   the vmemmap's refcount/order of every page outside the host stage-2 pool, and (optionally) the invariants.
///
/// Per step nothing is allocated unless a divergence is found.
public final class EquivalenceChecker {
    public let a: PKVMMachine
    public let b: PKVMMachine
    /// Guest handles created in both machines.
    public let guestHandles: [UInt32]
    /// Check the invariants on both machines (touched pages every step, everything at full checks).
    public var checkInvariants = true
    /// Steps between full comparisons.
    public var fullEvery = 10_000
    /// Full comparisons done, and the time they took (to tell step throughput from full-check cost).
    public private(set) var fullChecks = 0
    public private(set) var fullCheckTime: Duration = .zero
    /// Per transition kind (`Transition.names`): how many returned 0 (or, for a host fault, 0/-EAGAIN) and
    /// how many returned an error, on the first machine.
    public private(set) var succeeded = [Int](repeating: 0, count: Transition.names.count)
    public private(set) var failed = [Int](repeating: 0, count: Transition.names.count)

    /// `succeeded`/`failed` as text, one kind a line.
    public var outcomeSummary: String {
        Transition.names.indices.map { "\(Transition.names[$0]): \(succeeded[$0]) ok, \(failed[$0]) errno" }
            .joined(separator: "\n")
    }

    /// Builds both machines and the same guests in each (VM page and PGD donated from below `hotPFN`).
    /// - Throws: `HypError` if a machine cannot be built, or guest creation fails.
    public init(_ ca: PKVMConfig, _ cb: PKVMConfig, guests: Int) throws(HypError) {
        a = try PKVMMachine(ca)
        b = try PKVMMachine(cb)
        var hs: [UInt32] = []
        let base = (a.memoryMap.regions[0].base >> 12)
        for i in 0..<UInt64(guests) {
            let vm = base + 16 + i * 4
            let ra = a.createGuest(vmPFN: vm, pgdPFN: vm + 2)
            let rb = b.createGuest(vmPFN: vm, pgdPFN: vm + 2)
            guard ra > 0, ra == rb else { throw .invalidConfig("guest \(i): \(ra) vs \(rb)") }
            hs.append(UInt32(ra))
        }
        guestHandles = hs
        let g = a.host.geometry
        func bits(_ p: Prot) -> UInt64 {
            let attrs = (try? Stage2Attributes.attributes(for: p, fwb: false, lpa2: g.lpa2)) ?? 0
            return Descriptor.leaf(0, attributes: attrs, level: Granule.lastLevel, granule: g.granule, format: g.format)
                .rawValue
        }
        defaultMem = bits(PKVMMachine.hostMemProt)
        defaultMMIO = bits(PKVMMachine.hostMMIOProt)
    }

    /// A generator over these machines: the host window starts 1 MiB into the first RAM region.
    public func generator(seed: UInt64, hotPages: UInt64 = 1024) -> TransitionGenerator {
        TransitionGenerator(
            seed: seed, hotPFN: (a.memoryMap.regions[0].base >> 12) + 256, hotPages: hotPages, guests: guestHandles)
    }

    /// Runs `steps` generated transitions, with a full check before the first, after every `fullEvery`-th and
    /// after the last.
    public func run(steps: Int, generator g: inout TransitionGenerator) -> EquivalenceResult {
        if let d = fullCheck(step: 0, transition: nil) { return .diverged(d) }
        for i in 1...max(steps, 1) where steps > 0 {
            let t = g.next { h in self.a.guest(h)?.pool.memcache?.count ?? 0 }
            let (ra, d) = step(i, t)
            if let d { return .diverged(d) }
            g.observe(t, result: ra)
            if i % fullEvery == 0, let d = fullCheck(step: i, transition: t) { return .diverged(d) }
        }
        // The last step's own full check, if it had one, already compared this state.
        if steps == 0 || steps % fullEvery != 0, let d = fullCheck(step: steps, transition: nil) {
            return .diverged(d)
        }
        return .equivalent(steps: steps)
    }

    /// Runs a script of transitions.
    public func run(script: [Transition]) -> EquivalenceResult {
        if let d = fullCheck(step: 0, transition: nil) { return .diverged(d) }
        for (i, t) in script.enumerated() {
            if let d = step(i + 1, t).1 { return .diverged(d) }
        }
        if let d = fullCheck(step: script.count, transition: nil) { return .diverged(d) }
        return .equivalent(steps: script.count)
    }

    /// One step on both machines and the comparison of what it touched.
    func step(_ i: Int, _ t: Transition) -> (Int32, Divergence?) {
        var guestPhys: UInt64?
        if let gp = t.guestPage, let g = a.guest(gp.guest) { guestPhys = a.guestState(g, ipa: gp.gfn << 12).phys }
        let ra = a.apply(t)
        let rb = b.apply(t)
        if ra >= 0 || ra == -KernelErrno.EAGAIN { succeeded[t.kind] += 1 } else { failed[t.kind] += 1 }
        if case .hostFault = t {
            if (ra == 0 || ra == -KernelErrno.EAGAIN) != (rb == 0 || rb == -KernelErrno.EAGAIN)
                || (ra != 0 && ra != -KernelErrno.EAGAIN && ra != rb)
            {
                return (
                    ra,
                    Divergence(
                        step: i, transition: t, page: nil,
                        detail: "return \(Self.ret(ra)) vs \(Self.ret(rb))")
                )
            }
        } else if ra != rb {
            return (
                ra,
                Divergence(
                    step: i, transition: t, page: nil,
                    detail: "return \(Self.ret(ra)) vs \(Self.ret(rb))")
            )
        }
        // A page divergence names both return values too: equal here, or (a host fault) both resolved.
        func returns() -> String { "  return \(Self.ret(ra)) vs \(Self.ret(rb))\n" }
        if let (first, count) = t.physPages {
            var p = first
            while p < first &+ min(count, 16) {
                if let d = comparePage(p << 12) {
                    return (ra, Divergence(step: i, transition: t, page: p << 12, detail: returns() + d))
                }
                p &+= 1
            }
        }
        if let gp = t.guestPage {
            if let d = compareGuestPage(gp.guest, gp.gfn << 12) {
                return (ra, Divergence(step: i, transition: t, page: gp.gfn << 12, detail: returns() + d))
            }
            if let pa = guestPhys ?? a.guest(gp.guest).flatMap({ a.guestState($0, ipa: gp.gfn << 12).phys }),
                let d = comparePage(pa)
            {
                return (ra, Divergence(step: i, transition: t, page: pa, detail: returns() + d))
            }
        }
        return (ra, nil)
    }

    // MARK: comparisons

    /// A return value as text: a negative errno by name, anything else as a number.
    static func ret(_ v: Int32) -> String { v < 0 ? KernelErrno.name(v) : String(v) }

    /// The host stage-2's effective mapping of page `p` as a page descriptor without SW bits: a valid leaf
    /// (page or block) narrowed to `p`; a zero entry as the page `host_stage2_idmap` would install on a
    /// fault (RWX memory / RW MMIO); an annotation as it is. This is what makes `pte` (page mappings
    /// carrying state) and `vmemmap` (blocks, lazily mapped) comparable.
    public static func hostView(_ m: PKVMMachine, _ p: UInt64) -> UInt64 {
        guard let l = try? m.host.getLeaf(p) else { return ~0 }
        let g = m.host.geometry
        if l.pte.isValid {
            let size = g.granule.levelSize(l.level)
            let page = PageLeafCollector.narrow(l.pte, entryStart: p & ~(size - 1), page: p, geometry: g)
            return page.rawValue & ~PageStateLayout.protMask.mask
        }
        if l.pte.rawValue == 0 {
            let prot = m.memoryMap.isMemory(p) ? PKVMMachine.hostMemProt : PKVMMachine.hostMMIOProt
            let attrs = (try? Stage2Attributes.attributes(for: prot, fwb: false, lpa2: g.lpa2)) ?? 0
            return Descriptor.leaf(
                p & ~0xfff, attributes: attrs, level: Granule.lastLevel, granule: g.granule, format: g.format
            ).rawValue
        }
        return l.pte.rawValue
    }

    /// What one machine says about one page, read with one host and one hyp leaf walk.
    struct PageFacts: Equatable {
        var hostLeaf: UInt64
        var hostLevel: Int
        var hypLeaf: UInt64
        var host: PageState?
        var hyp: PageState?
        var count: UInt32
        var effective: UInt64

        /// Equal as far as the comparison goes (the raw host leaf and its level may differ).
        func agrees(_ o: PageFacts) -> Bool {
            host == o.host && hyp == o.hyp && count == o.count && effective == o.effective && hypLeaf == o.hypLeaf
        }
    }

    func facts(_ m: PKVMMachine, _ p: UInt64) -> PageFacts {
        let hl = try? m.host.getLeaf(p)
        let raw = hl?.pte.rawValue ?? ~0
        var eff = raw
        if let l = hl, l.pte.isValid {
            let g = m.host.geometry
            let size = g.granule.levelSize(l.level)
            eff = PageLeafCollector.narrow(l.pte, entryStart: p & ~(size - 1), page: p, geometry: g).rawValue
        }
        let yl = (try? m.hyp.getLeaf(m.hypVA(p)))?.pte ?? Descriptor(0)
        return PageFacts(
            hostLeaf: raw, hostLevel: hl?.level ?? -2, hypLeaf: yl.rawValue, host: hostState(m, raw, p),
            hyp: StateCheckVisitor.state(.hyp, m.layout, m.memoryMap, yl, m.hypVA(p)),
            count: m.shareGuestCount(p >> 12),
            effective: effective(m, eff, p))
    }

    /// Compares one physical page in both machines; nil if equal, else both sides.
    func comparePage(_ p: UInt64) -> String? {
        let fa = facts(a, p)
        let fb = facts(b, p)
        var inv: InvariantViolation?
        if checkInvariants { inv = a.checkInvariants(phys: p) ?? b.checkInvariants(phys: p) }
        if fa.agrees(fb) && inv == nil { return nil }
        func s(_ x: PageState?) -> String { x.map { "\($0)" } ?? "reserved" }
        func h(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        var d = "  host state  \(s(fa.host)) vs \(s(fb.host)); hyp state \(s(fa.hyp)) vs \(s(fb.hyp)); "
        d += "guest share count \(fa.count) vs \(fb.count)\n"
        d +=
            "  host stage-2 leaf \(h(fa.hostLeaf)) (level \(fa.hostLevel)) vs \(h(fb.hostLeaf)) (level \(fb.hostLevel))"
        d += " (effective \(h(fa.effective)) vs \(h(fb.effective)))\n"
        d += "  hyp stage-1 leaf \(h(fa.hypLeaf)) vs \(h(fb.hypLeaf))"
        if let inv { d += "\n  invariant: \(inv)" }
        return d
    }

    /// Compares one guest page (its stage-2 leaf and state).
    func compareGuestPage(_ h: UInt32, _ ipa: UInt64) -> String? {
        guard let ga = a.guest(h), let gb = b.guest(h) else { return nil }
        let la = try? ga.s2.getLeaf(ipa)
        let lb = try? gb.s2.getLeaf(ipa)
        let sa = a.guestState(ga, ipa: ipa).state
        let sb = b.guestState(gb, ipa: ipa).state
        if la?.pte == lb?.pte && la?.level == lb?.level && sa == sb { return nil }
        return
            "  guest 0x\(String(h, radix: 16)) state \(sa.map { "\($0)" } ?? "reserved") vs \(sb.map { "\($0)" } ?? "reserved"); "
            + "stage-2 leaf \(la.map { "\($0.pte)" } ?? "-") vs \(lb.map { "\($0.pte)" } ?? "-")"
    }

    /// Compares `[start, end)` byte for byte; the first differing 8-byte word's address, or nil.
    func firstDifference(_ start: UInt64, _ end: UInt64) -> UInt64? {
        guard end > start, let pa = try? a.mem.pointer(PhysAddr(start), size: end - start),
            let pb = try? b.mem.pointer(PhysAddr(start), size: end - start)
        else { return end > start ? start : nil }
        if memcmp(pa, pb, Int(end - start)) == 0 { return nil }
        var off = 0
        while off < Int(end - start) && memcmp(pa + off, pb + off, 8) == 0 { off += 8 }
        return start + UInt64(off)
    }

    /// The page descriptor bits `host_stage2_idmap` installs for memory and MMIO (without the address).
    let defaultMem: UInt64
    let defaultMMIO: UInt64

    /// Chunk size of the full checks, in pages.
    static let chunk = 512

    /// Fills `out` with the host stage-2 and hyp stage-1 leaves of the `chunk` pages from `base` (see
    /// `PageLeafCollector`).
    func collect(
        _ m: PKVMMachine, _ base: UInt64, host out: UnsafeMutablePointer<UInt64>, hyp hout: UnsafeMutablePointer<UInt64>
    ) {
        out.initialize(repeating: 0, count: Self.chunk)
        hout.initialize(repeating: 0, count: Self.chunk)
        var v = PageLeafCollector(start: base, out: out, pages: Self.chunk, geometry: m.host.geometry)
        _ = try? m.host.walk(base, size: UInt64(Self.chunk) << 12, flags: .leaf, visitor: &v)
        var h = PageLeafCollector(start: m.hypVA(base), out: hout, pages: Self.chunk, geometry: m.hyp.geometry)
        _ = try? m.hyp.pgt.walk(
            mem: m.mem, addr: m.hypVA(base), size: UInt64(Self.chunk) << 12, flags: .leaf, visitor: &h)
    }

    /// The effective host page descriptor of a collected leaf (see `hostView`).
    func effective(_ m: PKVMMachine, _ raw: UInt64, _ p: UInt64) -> UInt64 {
        if raw & 1 != 0 { return raw & ~PageStateLayout.protMask.mask }
        if raw == 0 { return p | (m.memoryMap.isMemory(p) ? defaultMem : defaultMMIO) }
        return raw
    }

    /// The host state of page `p` given its collected leaf.
    func hostState(_ m: PKVMMachine, _ raw: UInt64, _ p: UInt64) -> PageState? {
        if m.hostStateInPTE(p) {
            return StateCheckVisitor.state(
                m.storage == .pte ? .host : .hostDevice, m.layout, m.memoryMap, Descriptor(raw), p)
        }
        guard let v = m.vmemmap.hostState(p >> 12) else { return .noPage }
        return m.layout.state(ofValue: UInt64(v))
    }

    /// What the full check reads of one machine for every page, read out of the machine once per check:
    /// each read of a class's `var` is a dynamic exclusivity check, which cost more than the comparison.
    struct Side {
        let storage: HostStateStorage
        let layout: PageStateLayout
        let map: MemoryMap
        let deviceSharing: Bool
        let vmemmap: Vmemmap
        let pteShareCounts: [UInt64: UInt32]
        let ffaShared: [UInt64: Int]

        init(_ m: PKVMMachine) {
            storage = m.storage
            layout = m.layout
            map = m.memoryMap
            deviceSharing = m.config.deviceSharing
            vmemmap = m.vmemmap
            pteShareCounts = m.pteShareCounts
            ffaShared = m.ffaShared
        }

        /// `PKVMMachine.hostStateInPTE`.
        func hostStateInPTE(_ p: UInt64) -> Bool { storage == .pte || (deviceSharing && !map.isMemory(p)) }

        /// The host state of page `p` given its collected leaf (`EquivalenceChecker.hostState`).
        func hostState(_ raw: UInt64, _ p: UInt64) -> PageState? {
            if hostStateInPTE(p) {
                return StateCheckVisitor.state(storage == .pte ? .host : .hostDevice, layout, map, Descriptor(raw), p)
            }
            guard let v = vmemmap.hostState(p >> 12) else { return .noPage }
            return layout.state(ofValue: UInt64(v))
        }

        /// `PKVMMachine.shareGuestCount`; `listed`: whether `pfn` is a key of `pteShareCounts`.
        func shareGuestCount(_ pfn: UInt64, listed: Bool) -> UInt32 {
            if storage == .vmemmap { return vmemmap.shareGuestCount(pfn) ?? 0 }
            return listed ? pteShareCounts[pfn] ?? 0 : 0
        }
    }

    /// The keys of a dictionary in ascending order, asked about in ascending order (the full check's page
    /// order): membership without hashing each page.
    struct AscendingKeys {
        let keys: [UInt64]
        var next = 0

        init(_ keys: some Sequence<UInt64>) { self.keys = keys.sorted() }

        mutating func contains(_ k: UInt64) -> Bool {
            while next < keys.count && keys[next] < k { next += 1 }
            return next < keys.count && keys[next] == k
        }
    }

    /// Everything, region by region in chunks of 512 pages: each page's host state, effective host mapping,
    /// hyp leaf and guest-share count (pages that are not pristine also through `comparePage` and the
    /// invariants); the vmemmap refcount/order outside the host stage-2 pool; the hyp pool's bytes and all RAM
    /// outside the carve-out; and the whole-machine invariants.
    func fullCheck(step: Int, transition: Transition?) -> Divergence? {
        let t0 = ContinuousClock.now
        defer {
            fullChecks += 1
            fullCheckTime += ContinuousClock.now - t0
        }
        let bufs = UnsafeMutablePointer<UInt64>.allocate(capacity: 4 * Self.chunk)
        defer { bufs.deallocate() }
        let (ha, ya, hb, yb) = (bufs, bufs + Self.chunk, bufs + 2 * Self.chunk, bufs + 3 * Self.chunk)
        let poolStart = a.hostPool.rangeStart.rawValue >> 12
        let poolEnd = a.hostPool.rangeEnd.rawValue >> 12
        let (ta, ia) = a.guestBorrowCounts()
        let (tb, ib) = b.guestBorrowCounts()
        let checkInvariants = checkInvariants
        if checkInvariants, let v = ia ?? ib {
            return Divergence(step: step, transition: transition, page: v.phys, detail: "  invariant: \(v)")
        }
        let (sideA, sideB) = (Side(a), Side(b))
        var (countedA, countedB) = (AscendingKeys(sideA.pteShareCounts.keys), AscendingKeys(sideB.pteShareCounts.keys))
        var ffaA = AscendingKeys(sideA.ffaShared.keys)
        var borrowedA = AscendingKeys(ta.keys)
        let (noOrderA, noOrderB) = (a.vmemmap.layout.noOrder, b.vmemmap.layout.noOrder)
        for r in a.memoryMap.regions {
            var base = r.base
            while base < r.end {
                collect(a, base, host: ha, hyp: ya)
                collect(b, base, host: hb, hyp: yb)
                for i in 0..<min(Self.chunk, Int((r.end - base) >> 12)) {
                    let p = base + UInt64(i) << 12
                    let pfn = p >> 12
                    let sa = sideA.hostState(ha[i], p)
                    let sb = sideB.hostState(hb[i], p)
                    let ca = sideA.shareGuestCount(pfn, listed: countedA.contains(pfn))
                    let cb = sideB.shareGuestCount(pfn, listed: countedB.contains(pfn))
                    let differs =
                        sa != sb || ca != cb || ya[i] != yb[i] || effective(a, ha[i], p) != effective(b, hb[i], p)
                    let pristine =
                        sa == .owned && ya[i] & 1 == 0 && ca == 0 && !ffaA.contains(pfn) && !borrowedA.contains(p)
                    if differs || !pristine, let d = comparePage(p) {
                        return Divergence(step: step, transition: transition, page: p, detail: d)
                    }
                    if checkInvariants && !pristine && (ta[p, default: 0] != ca || tb[p, default: 0] != cb) {
                        return Divergence(
                            step: step, transition: transition, page: p,
                            detail:
                                "  invariant: host_share_guest_count \(ca)/\(cb) but \(ta[p, default: 0])/\(tb[p, default: 0]) guest mapping(s)"
                        )
                    }
                    if poolStart <= pfn && pfn < poolEnd { continue }
                    let oa = a.vmemmap.order(pfn)
                    let ob = b.vmemmap.order(pfn)
                    let noA = oa == noOrderA
                    let noB = ob == noOrderB
                    if a.vmemmap.refcount(pfn) != b.vmemmap.refcount(pfn) || noA != noB || (!noA && oa != ob) {
                        return Divergence(
                            step: step, transition: transition, page: p,
                            detail:
                                "  vmemmap refcount/order \(a.vmemmap.refcount(pfn))/\(oa) vs \(b.vmemmap.refcount(pfn))/\(ob)"
                        )
                    }
                }
                base += UInt64(Self.chunk) << 12
            }
        }
        let c = a.carveOut
        var spans: [(UInt64, UInt64)] = [
            (c.base, c.base + 0x100), (a.hypPool.rangeStart.rawValue, a.hypPool.rangeEnd.rawValue),
        ]
        for r in a.memoryMap.regions {
            if r.base <= c.base && c.end <= r.end {
                spans.append((r.base, c.base))
                spans.append((c.end, r.end))
            } else {
                spans.append((r.base, r.end))
            }
        }
        for (s, e) in spans {
            if let w = firstDifference(s, e) {
                let va = (try? a.mem.read64(PhysAddr(w))) ?? 0
                let vb = (try? b.mem.read64(PhysAddr(w))) ?? 0
                return Divergence(
                    step: step, transition: transition, page: w & ~0xfff,
                    detail:
                        "  memory word at 0x\(String(w, radix: 16)): 0x\(String(va, radix: 16)) vs 0x\(String(vb, radix: 16))"
                )
            }
        }
        return nil
    }
}
