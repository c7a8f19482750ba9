import Glibc
import FuzzSupport
import Hyp
import Mem
import Pgtable

let verbose = getenv("FUZZ_VERBOSE") != nil

/// A line on standard error (unbuffered, so it is there when a check stops the process).
func say(_ line: String) { _ = (line + "\n").withCString { write(2, $0, strlen($0)) } }

/// libFuzzer entry point: a random pKVM machine (host state in PTEs or in the vmemmap, debug checks and
/// device sharing on or off, one or two RAM regions) with up to two guests, then up to 48 transitions
/// decoded from the input (`Transition`: share/unshare/donate with the hyp, FF-A, guests, pin/unpin,
/// host faults, memcache top-ups) on a window of pages around the start of RAM, plus raw addresses.
///
/// After every transition (until one hits a kernel WARN, see below): if it succeeded, the ownership
/// invariants hold on every page it names; if it failed (negative errno), every byte of memory is as before
/// it (-ENOMEM: the invariants hold on every page). At the end, `checkAllInvariants` over every page. A crash, a hang or a broken promise is a finding.
/// `FUZZ_VERBOSE=1` prints the machine and each transition with its result (to replay an input).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPKVM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = ByteReader(data, size)
    let setup = r.u8()
    let two = setup & 4 != 0
    var ram = [MemoryMap.Region(base: 0x4000_0000, size: 4 << 20)]
    if two { ram.append(MemoryMap.Region(base: 0x8000_0000, size: 4 << 20)) }
    var config = PKVMConfig(storage: setup & 1 != 0 ? .vmemmap : .pte, ram: ram)
    config.debug = setup & 2 != 0
    config.deviceSharing = setup & 8 != 0 && config.storage == .vmemmap
    config.guestFWB = setup & 16 != 0
    if verbose { say("config: \(config.storage) debug \(config.debug) deviceSharing \(config.deviceSharing) ram \(ram)") }
    let m: PKVMMachine
    do { m = try PKVMMachine(config) } catch { fatalError("machine: \(error)") }
    let base = ram[0].base >> 12
    var handles: [UInt32] = []
    for i in 0..<UInt64(setup >> 6) % 3 {
        let vm = base + 16 + i * 4
        let h = m.createGuest(vmPFN: vm, pgdPFN: vm + 2)
        check(h > 0, "createGuest: \(h)")
        handles.append(UInt32(h))
        if verbose { say("createGuest(vm: 0x\(String(vm, radix: 16))) = \(h)") }
    }
    if let v = m.checkAllInvariants() { fatalError("fresh machine: \(v)") }

    /// The window: 64 pages after the guests' pages in the first region, and the first pages of the second.
    func pfn(_ r: inout ByteReader) -> UInt64 {
        let b = r.u8()
        switch b >> 6 {
        case 0: return UInt64(r.u64() >> 12)
        case 1: return two ? (ram[1].base >> 12) + UInt64(b & 0x3f) : base + 64 + UInt64(b & 0x3f)
        default: return base + 32 + UInt64(b & 0x3f)
        }
    }
    func guest(_ r: inout ByteReader) -> UInt32 {
        let b = r.u8()
        return handles.isEmpty || b & 0x80 != 0 ? 0x1000 + UInt32(b & 3) : handles[Int(b) % handles.count]
    }
    func gfn(_ r: inout ByteReader) -> UInt64 {
        let b = r.u8()
        return b & 0x80 != 0 ? r.u64() : UInt64(b & 0x3f)
    }
    func pages(_ r: inout ByteReader) -> UInt64 {
        let b = r.u8()
        return b & 0x80 != 0 ? r.u64() : UInt64(b & 7)
    }

    let regions = m.mem.regions
    var snapshot: [[UInt8]] = regions.map { (try? m.mem.read($0.base, count: Int($0.size))) ?? [] }
    var steps = 0
    while !r.isAtEnd && steps < 48 {
        steps += 1
        let op = r.u8()
        let prot = Prot(rawValue: UInt64(op >> 4) & 0x1f)
        let t: Transition
        switch op & 0x0f {
        case 0: t = .shareHyp(pfn: pfn(&r))
        case 1: t = .unshareHyp(pfn: pfn(&r))
        case 2: t = .donateHyp(pfn: pfn(&r), pages: pages(&r))
        case 3: t = .donateHost(pfn: pfn(&r), pages: pages(&r))
        case 4: t = .shareFFA(pfn: pfn(&r), pages: pages(&r))
        case 5: t = .unshareFFA(pfn: pfn(&r), pages: pages(&r))
        case 6: t = .shareGuest(pfn: pfn(&r), gfn: gfn(&r), guest: guest(&r), prot: prot)
        case 7: t = .unshareGuest(gfn: gfn(&r), guest: guest(&r))
        case 8: t = .relaxPerms(gfn: gfn(&r), guest: guest(&r), prot: prot)
        case 9: t = .wrprotect(gfn: gfn(&r), guest: guest(&r))
        case 10: t = .testClearYoung(gfn: gfn(&r), guest: guest(&r), mkold: op & 0x10 != 0)
        case 11: t = .mkyoung(gfn: gfn(&r), guest: guest(&r))
        case 12: t = .pin(pfn: pfn(&r), pages: pages(&r))
        case 13: t = .unpin(pfn: pfn(&r), pages: pages(&r))
        case 14: t = .hostFault(addr: op & 0x10 != 0 ? r.u64() : pfn(&r) << 12 | UInt64(r.u16() & 0xfff))
        default: t = .topUp(guest: guest(&r), pfn: pfn(&r))
        }
        // The FF-A proxy unshares only what it shared with FF-A (__pkvm_host_unshare_ffa checks the host side
        // only, so unsharing a page shared with the hyp breaks the invariants, in the kernel as here).
        if case .unshareFFA(let pfn, let pages) = t {
            guard pages <= UInt64(m.ffaShared.count), (0..<pages).allSatisfy({ m.ffaShared[pfn &+ $0] != nil })
            else { continue }
        }
        let warnings = m.warnings
        if verbose { say("applying \(t)") }
        let result = m.apply(t)
        if verbose { say("\(t) = \(result)") }
        // A kernel WARN (e.g. share_guest whose guest map fails for want of memcache pages, which the host
        // must top up first: the kernel WARNs and counts the share anyway) means a precondition of the
        // hypercall was broken; the kernel promises nothing about the state after it, so neither do we.
        if m.warnings != warnings {
            if verbose { say("WARN: \(m.lastWarning)") }
            return 0
        }
        if result == -KernelErrno.ENOMEM {
            // Out of host stage-2 table pages half way through identity-mapping a huge range: the part
            // mapped stays (the host stage 2 is the hypervisor's cache of the host's own mappings; nothing
            // rolls it back, in the kernel as here). The ownership invariants must still hold.
            if let v = m.checkAllInvariants() { fatalError("after \(t) = -ENOMEM: \(v)") }
            for (i, region) in regions.enumerated() {
                snapshot[i] = (try? m.mem.read(region.base, count: Int(region.size))) ?? []
            }
        } else if result < 0 {
            for (i, region) in regions.enumerated() {
                guard let p = try? m.mem.pointer(region.base, size: region.size) else { continue }
                let same = snapshot[i].withUnsafeBytes { memcmp($0.baseAddress!, p, Int(region.size)) == 0 }
                check(same, "\(t) failed with \(KernelErrno.name(-result)) but changed memory in \(region)")
            }
        } else {
            if let (first, count) = t.physPages {
                for p in first..<first &+ min(count, 64) where m.memoryMap.isMemory(p << 12) {
                    if let v = m.checkInvariants(phys: p << 12) { fatalError("after \(t) = \(result): \(v)") }
                }
            }
            for (i, region) in regions.enumerated() {
                snapshot[i] = (try? m.mem.read(region.base, count: Int(region.size))) ?? []
            }
        }
    }
    if let v = m.checkAllInvariants() { fatalError("after \(steps) transitions: \(v)") }
    return 0
}
