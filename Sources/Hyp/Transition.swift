import Pgtable

/// One request to the hypervisor, as a value: what a script line or the random generator produces, and what
/// `PKVMMachine.apply` performs. Guests are named by handle; addresses by PFN/GFN as in the hypercall ABI.
public enum Transition: Sendable, Equatable, CustomStringConvertible {
    case shareHyp(pfn: UInt64)
    case unshareHyp(pfn: UInt64)
    case donateHyp(pfn: UInt64, pages: UInt64)
    case donateHost(pfn: UInt64, pages: UInt64)
    case shareFFA(pfn: UInt64, pages: UInt64)
    case unshareFFA(pfn: UInt64, pages: UInt64)
    case shareGuest(pfn: UInt64, gfn: UInt64, guest: UInt32, prot: Prot)
    case unshareGuest(gfn: UInt64, guest: UInt32)
    case relaxPerms(gfn: UInt64, guest: UInt32, prot: Prot)
    case wrprotect(gfn: UInt64, guest: UInt32)
    case testClearYoung(gfn: UInt64, guest: UInt32, mkold: Bool)
    case mkyoung(gfn: UInt64, guest: UInt32)
    /// The hyp pins / unpins pages the host shared with it (`hyp_pin_shared_mem`, `hyp_unpin_shared_mem`).
    case pin(pfn: UInt64, pages: UInt64)
    case unpin(pfn: UInt64, pages: UInt64)
    /// A host stage-2 fault at a physical address (`handle_host_mem_abort`).
    case hostFault(addr: UInt64)
    /// The host tops up a guest's memcache with one page.
    case topUp(guest: UInt32, pfn: UInt64)

    /// The request's name in scripts, one per case (`Transition.names[kind]`).
    public static let names = [
        "share_hyp", "unshare_hyp", "donate_hyp", "donate_host", "share_ffa", "unshare_ffa", "share_guest",
        "unshare_guest", "relax_perms", "wrprotect", "test_clear_young", "mkyoung", "pin", "unpin", "host_fault",
        "topup",
    ]

    /// Index of the case in `names`.
    public var kind: Int {
        switch self {
        case .shareHyp: return 0
        case .unshareHyp: return 1
        case .donateHyp: return 2
        case .donateHost: return 3
        case .shareFFA: return 4
        case .unshareFFA: return 5
        case .shareGuest: return 6
        case .unshareGuest: return 7
        case .relaxPerms: return 8
        case .wrprotect: return 9
        case .testClearYoung: return 10
        case .mkyoung: return 11
        case .pin: return 12
        case .unpin: return 13
        case .hostFault: return 14
        case .topUp: return 15
        }
    }

    /// The host physical pages the request names (first page, count); nil for guest-only requests.
    @inlinable
    public var physPages: (first: UInt64, count: UInt64)? {
        switch self {
        case .shareHyp(let p), .unshareHyp(let p): return (p, 1)
        case .donateHyp(let p, let n), .donateHost(let p, let n), .shareFFA(let p, let n), .unshareFFA(let p, let n),
            .pin(let p, let n), .unpin(let p, let n):
            return (p, n)
        case .shareGuest(let p, _, _, _): return (p, 1)
        case .hostFault(let a): return (a >> 12, 1)
        case .topUp(_, let p): return (p, 1)
        default: return nil
        }
    }

    /// The guest page the request names, if any.
    @inlinable
    public var guestPage: (guest: UInt32, gfn: UInt64)? {
        switch self {
        case .shareGuest(_, let gfn, let g, _), .unshareGuest(let gfn, let g), .relaxPerms(let gfn, let g, _),
            .wrprotect(let gfn, let g), .testClearYoung(let gfn, let g, _), .mkyoung(let gfn, let g):
            return (g, gfn)
        default: return nil
        }
    }

    private static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// The script form, e.g. `share_guest 0x40010 0x80 0x1000 RW`.
    public var description: String {
        switch self {
        case .shareHyp(let p): return "share_hyp \(Self.hex(p))"
        case .unshareHyp(let p): return "unshare_hyp \(Self.hex(p))"
        case .donateHyp(let p, let n): return "donate_hyp \(Self.hex(p)) \(n)"
        case .donateHost(let p, let n): return "donate_host \(Self.hex(p)) \(n)"
        case .shareFFA(let p, let n): return "share_ffa \(Self.hex(p)) \(n)"
        case .unshareFFA(let p, let n): return "unshare_ffa \(Self.hex(p)) \(n)"
        case .shareGuest(let p, let gfn, let g, let prot):
            return "share_guest \(Self.hex(p)) \(Self.hex(gfn)) \(Self.hex(UInt64(g))) \(prot)"
        case .unshareGuest(let gfn, let g): return "unshare_guest \(Self.hex(gfn)) \(Self.hex(UInt64(g)))"
        case .relaxPerms(let gfn, let g, let prot): return "relax_perms \(Self.hex(gfn)) \(Self.hex(UInt64(g))) \(prot)"
        case .wrprotect(let gfn, let g): return "wrprotect \(Self.hex(gfn)) \(Self.hex(UInt64(g)))"
        case .testClearYoung(let gfn, let g, let mkold):
            return "test_clear_young \(Self.hex(gfn)) \(Self.hex(UInt64(g))) \(mkold ? 1 : 0)"
        case .mkyoung(let gfn, let g): return "mkyoung \(Self.hex(gfn)) \(Self.hex(UInt64(g)))"
        case .pin(let p, let n): return "pin \(Self.hex(p)) \(n)"
        case .unpin(let p, let n): return "unpin \(Self.hex(p)) \(n)"
        case .hostFault(let a): return "host_fault \(Self.hex(a))"
        case .topUp(let g, let p): return "topup \(Self.hex(UInt64(g))) \(Self.hex(p))"
        }
    }

    /// Parses one script line in the `description` form (numbers decimal or 0x-hex; prot as `Prot` parses
    /// it). Returns nil for a line that is not a transition.
    public init?(parsing line: some StringProtocol) {
        let w = String(line).split(whereSeparator: { (c: Character) in c == " " || c == "\t" }).map(String.init)
        guard let op = w.first else { return nil }
        func n(_ i: Int) -> UInt64? {
            guard i < w.count else { return nil }
            let s = w[i].lowercased()
            return s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
        }
        func g(_ i: Int) -> UInt32? { n(i).flatMap { UInt32(exactly: $0) } }
        func p(_ i: Int) -> Prot? { i < w.count ? Prot(parsing: w[i]) : nil }
        switch (op, w.count) {
        case ("share_hyp", 2):
            guard let a = n(1) else { return nil }
            self = .shareHyp(pfn: a)
        case ("unshare_hyp", 2):
            guard let a = n(1) else { return nil }
            self = .unshareHyp(pfn: a)
        case ("donate_hyp", 3):
            guard let a = n(1), let b = n(2) else { return nil }
            self = .donateHyp(pfn: a, pages: b)
        case ("donate_host", 3):
            guard let a = n(1), let b = n(2) else { return nil }
            self = .donateHost(pfn: a, pages: b)
        case ("share_ffa", 3):
            guard let a = n(1), let b = n(2) else { return nil }
            self = .shareFFA(pfn: a, pages: b)
        case ("unshare_ffa", 3):
            guard let a = n(1), let b = n(2) else { return nil }
            self = .unshareFFA(pfn: a, pages: b)
        case ("share_guest", 5):
            guard let a = n(1), let b = n(2), let c = g(3), let d = p(4) else { return nil }
            self = .shareGuest(pfn: a, gfn: b, guest: c, prot: d)
        case ("unshare_guest", 3):
            guard let a = n(1), let b = g(2) else { return nil }
            self = .unshareGuest(gfn: a, guest: b)
        case ("relax_perms", 4):
            guard let a = n(1), let b = g(2), let c = p(3) else { return nil }
            self = .relaxPerms(gfn: a, guest: b, prot: c)
        case ("wrprotect", 3):
            guard let a = n(1), let b = g(2) else { return nil }
            self = .wrprotect(gfn: a, guest: b)
        case ("test_clear_young", 4):
            guard let a = n(1), let b = g(2), let c = n(3) else { return nil }
            self = .testClearYoung(gfn: a, guest: b, mkold: c != 0)
        case ("mkyoung", 3):
            guard let a = n(1), let b = g(2) else { return nil }
            self = .mkyoung(gfn: a, guest: b)
        case ("pin", 3):
            guard let a = n(1), let b = n(2) else { return nil }
            self = .pin(pfn: a, pages: b)
        case ("unpin", 3):
            guard let a = n(1), let b = n(2) else { return nil }
            self = .unpin(pfn: a, pages: b)
        case ("host_fault", 2):
            guard let a = n(1) else { return nil }
            self = .hostFault(addr: a)
        case ("topup", 3):
            guard let a = g(1), let b = n(2) else { return nil }
            self = .topUp(guest: a, pfn: b)
        default: return nil
        }
    }
}

extension PKVMMachine {
    /// Performs `t` and returns the kernel's return value.
    public func apply(_ t: Transition) -> Int32 {
        switch t {
        case .shareHyp(let p): return hostShareHyp(pfn: p)
        case .unshareHyp(let p): return hostUnshareHyp(pfn: p)
        case .donateHyp(let p, let n): return hostDonateHyp(pfn: p, pages: n)
        case .donateHost(let p, let n): return hypDonateHost(pfn: p, pages: n)
        case .shareFFA(let p, let n): return hostShareFFA(pfn: p, pages: n)
        case .unshareFFA(let p, let n): return hostUnshareFFA(pfn: p, pages: n)
        case .shareGuest(let p, let gfn, let g, let prot): return hostShareGuest(pfn: p, gfn: gfn, guest: g, prot: prot)
        case .unshareGuest(let gfn, let g): return hostUnshareGuest(gfn: gfn, guest: g)
        case .relaxPerms(let gfn, let g, let prot): return hostRelaxPermsGuest(gfn: gfn, guest: g, prot: prot)
        case .wrprotect(let gfn, let g): return hostWrprotectGuest(gfn: gfn, guest: g)
        case .testClearYoung(let gfn, let g, let mkold):
            return hostTestClearYoungGuest(gfn: gfn, mkold: mkold, guest: g)
        case .mkyoung(let gfn, let g): return hostMkyoungGuest(gfn: gfn, guest: g)
        case .pin(let p, let n): return hypPinSharedMem(pfn: p, pages: n)
        case .unpin(let p, let n):
            hypUnpinSharedMem(pfn: p, pages: n)
            return 0
        case .hostFault(let a): return hostFault(a)
        case .topUp(let g, let p): return topUpGuestMemcache(guest: g, pfn: p)
        }
    }
}
