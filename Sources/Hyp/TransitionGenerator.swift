import Pgtable

/// A seeded random source of transitions for the equivalence checker (xorshift64*: the same seed gives the
/// same sequence on every machine). It concentrates on a window of host pages so that states collide,
/// remembers what it donated and shared (from the results it is told) to pick likely-valid undo requests
/// (FF-A unshares only of what was shared with FF-A, as the FF-A proxy does),
/// tops guests' memcaches up before sharing, and mixes in invalid requests (MMIO, unknown guest, foreign pages).
public struct TransitionGenerator: Sendable {
    var state: UInt64
    /// First PFN and size of the window host-side requests mostly target.
    public let hotPFN: UInt64
    public let hotPages: UInt64
    /// Guest handles to target.
    public let guests: [UInt32]
    /// Guest frame numbers are drawn from `0..<gfnWindow`.
    public let gfnWindow: UInt64
    /// Also produce requests beyond the PA size and ranges straddling RAM and MMIO (where v6.13 and v6.14
    /// differ in errno: see docs/pkvm-model.md).
    public var outOfRangeRequests = false
    var nextTopUp: UInt64
    var donated: [(pfn: UInt64, pages: UInt64)] = []
    var shared: [(guest: UInt32, gfn: UInt64)] = []
    var ffa: [(pfn: UInt64, pages: UInt64)] = []
    var pinned: [UInt64] = []
    var hypShared: [UInt64] = []

    /// - Parameters:
    ///   - hotPFN, hotPages: the host window; memcache top-ups come from the `4 * hotPages` pages after it.
    public init(seed: UInt64, hotPFN: UInt64, hotPages: UInt64, guests: [UInt32], gfnWindow: UInt64 = 2048) {
        state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
        self.hotPFN = hotPFN
        self.hotPages = hotPages
        self.guests = guests
        self.gfnWindow = gfnWindow
        nextTopUp = hotPFN + hotPages
        donated.reserveCapacity(4096)
        shared.reserveCapacity(4096)
        ffa.reserveCapacity(4096)
        pinned.reserveCapacity(4096)
        hypShared.reserveCapacity(4096)
    }

    mutating func rand() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    mutating func below(_ n: UInt64) -> UInt64 { n == 0 ? 0 : rand() % n }

    mutating func hot() -> UInt64 { hotPFN + below(hotPages) }
    mutating func guest() -> UInt32 { guests.isEmpty ? 0x1000 : guests[Int(below(UInt64(guests.count)))] }
    mutating func prot() -> Prot { Prot(rawValue: below(8)) }

    /// A host page: one remembered as shared with the hyp most of the time.
    mutating func hypSharedPage() -> UInt64 {
        if !hypShared.isEmpty && below(4) != 0 { return hypShared[Int(below(UInt64(hypShared.count)))] }
        return hot()
    }

    /// A guest page: a remembered shared one most of the time.
    mutating func sharedPage() -> (guest: UInt32, gfn: UInt64) {
        if !shared.isEmpty && below(4) != 0 { return shared[Int(below(UInt64(shared.count)))] }
        return (guest(), below(gfnWindow))
    }

    /// The next transition; `memcacheLevel(guest)` tells how many pages a guest's memcache holds.
    public mutating func next(memcacheLevel: (UInt32) -> Int) -> Transition {
        let r = below(100)
        switch r {
        case 0..<12: return .shareHyp(pfn: hot())
        case 12..<20: return .unshareHyp(pfn: hypSharedPage())
        case 20..<27: return .donateHyp(pfn: hot(), pages: 1 + below(3))
        case 27..<34:
            if !donated.isEmpty && below(5) != 0 {
                let d = donated[Int(below(UInt64(donated.count)))]
                return .donateHost(pfn: d.pfn, pages: d.pages)
            }
            return .donateHost(pfn: hot(), pages: 1)
        case 34..<41: return .shareFFA(pfn: hot(), pages: 1 + below(3))
        case 41..<48:
            // The FF-A proxy only reclaims what it shared (`__pkvm_host_unshare_ffa` checks the host side only).
            if !ffa.isEmpty {
                let f = ffa[Int(below(UInt64(ffa.count)))]
                return .unshareFFA(pfn: f.pfn, pages: f.pages)
            }
            return .shareFFA(pfn: hot(), pages: 1 + below(3))
        case 48..<62:
            let g = guest()
            if memcacheLevel(g) < 3 {
                nextTopUp += 1
                return .topUp(guest: g, pfn: nextTopUp - 1)
            }
            return .shareGuest(pfn: hot(), gfn: below(gfnWindow), guest: g, prot: prot())
        case 62..<72:
            let s = sharedPage()
            return .unshareGuest(gfn: s.gfn, guest: s.guest)
        case 72..<76:
            let s = sharedPage()
            return .relaxPerms(gfn: s.gfn, guest: s.guest, prot: prot())
        case 76..<80:
            let s = sharedPage()
            return .wrprotect(gfn: s.gfn, guest: s.guest)
        case 80..<84:
            let s = sharedPage()
            return .testClearYoung(gfn: s.gfn, guest: s.guest, mkold: below(2) == 0)
        case 84..<87:
            let s = sharedPage()
            return .mkyoung(gfn: s.gfn, guest: s.guest)
        case 87..<90:
            if !pinned.isEmpty && below(2) == 0 {
                let p = pinned.removeLast()
                return .unpin(pfn: p, pages: 1)
            }
            return .pin(pfn: hypSharedPage(), pages: 1)
        case 90..<94: return .hostFault(addr: (hot() << 12) | below(0x1000))
        case 94..<96: return .hostFault(addr: below(1 << 32))
        case 96..<98:
            // Invalid: MMIO (QEMU virt's UART page) or an unknown guest.
            if below(2) == 0 { return .shareHyp(pfn: 0x9000) }
            return .shareGuest(pfn: hot(), gfn: 0, guest: 0x7fff, prot: .r)
        default:
            if outOfRangeRequests {
                if below(2) == 0 { return .shareFFA(pfn: 1 << 40, pages: 1) }
                return .shareFFA(pfn: hotPFN - 1 - below(2), pages: 4)
            }
            return .unshareHyp(pfn: 0x9000)
        }
    }

    /// Learns from `t`'s result what was donated or shared.
    public mutating func observe(_ t: Transition, result: Int32) {
        guard result == 0 else { return }
        switch t {
        case .donateHyp(let p, let n): donated.append((p, n))
        case .donateHost(let p, let n):
            if let i = donated.firstIndex(where: { $0.pfn == p && $0.pages == n }) {
                donated.swapAt(i, donated.count - 1)
                donated.removeLast()
            }
        case .pin(let p, _): pinned.append(p)
        case .shareHyp(let p): hypShared.append(p)
        case .unshareHyp(let p):
            if let i = hypShared.firstIndex(of: p) {
                hypShared.swapAt(i, hypShared.count - 1)
                hypShared.removeLast()
            }
        case .shareFFA(let p, let n): ffa.append((p, n))
        case .unshareFFA(let p, let n):
            if let i = ffa.firstIndex(where: { $0.pfn == p && $0.pages == n }) {
                ffa.swapAt(i, ffa.count - 1)
                ffa.removeLast()
            }
        case .shareGuest(_, let gfn, let g, _): shared.append((g, gfn))
        case .unshareGuest(let gfn, let g):
            if let i = shared.firstIndex(where: { $0.guest == g && $0.gfn == gfn }) {
                shared.swapAt(i, shared.count - 1)
                shared.removeLast()
            }
        default: break
        }
    }
}
