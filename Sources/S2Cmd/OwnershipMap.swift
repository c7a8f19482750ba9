import Hyp
import Mem

/// Who owns each page of a pKVM machine's physical memory, as runs of pages, and the picture of it:
/// one band per RAM region, coloured by owner, plus a band for the MMIO the host stage 2 maps.
public struct OwnershipMap {
    /// What a page is, from the host's and the hyp's page states.
    public enum Owner: String, CaseIterable, Sendable {
        /// Host OWNED.
        case host
        /// Hyp OWNED (the carve-out, donated pages).
        case hyp
        /// Host SHARED_OWNED, hyp SHARED_BORROWED.
        case sharedHyp = "shared-hyp"
        /// Host SHARED_OWNED with `host_share_guest_count` > 0.
        case sharedGuest = "shared-guest"
        /// Host SHARED_OWNED otherwise (FF-A).
        case sharedFFA = "shared-ffa"
        /// Neither the host nor the hyp has it.
        case none
        /// Not RAM.
        case mmio

        var colour: String {
            switch self {
            case .host: return "#4c78a8"
            case .hyp: return "#e45756"
            case .sharedHyp: return "#f58518"
            case .sharedGuest: return "#54a24b"
            case .sharedFFA: return "#b279a2"
            case .none: return "#eeeeee"
            case .mmio: return "#9d9d9d"
            }
        }
    }

    /// A run of pages `[start, end)` with one owner.
    public struct Run: Equatable, Sendable {
        public var start: UInt64
        public var end: UInt64
        public var owner: Owner
    }

    public let regions: [(base: UInt64, size: UInt64, runs: [Run])]
    /// Pages per owner, in `Owner.allCases` order.
    public let counts: [(Owner, Int)]

    public init(machine m: PKVMMachine) {
        var regions: [(UInt64, UInt64, [Run])] = []
        var counts: [Owner: Int] = [:]
        for r in m.memoryMap.regions {
            var runs: [Run] = []
            for pa in stride(from: r.base, to: r.end, by: 4096) {
                let o = OwnershipMap.owner(m, pa)
                counts[o, default: 0] += 1
                if let last = runs.last, last.owner == o, last.end == pa {
                    runs[runs.count - 1].end = pa + 4096
                } else {
                    runs.append(Run(start: pa, end: pa + 4096, owner: o))
                }
            }
            regions.append((r.base, r.size, runs))
        }
        self.regions = regions
        self.counts = Owner.allCases.compactMap { o in counts[o].map { (o, $0) } }
    }

    static func owner(_ m: PKVMMachine, _ pa: UInt64) -> Owner {
        let host = m.hostState(pa)
        let hyp = m.hypState(pa)
        if hyp == .owned { return .hyp }
        switch host {
        case .owned: return .host
        case .sharedOwned:
            if hyp == .sharedBorrowed { return .sharedHyp }
            return m.shareGuestCount(pa >> 12) > 0 ? .sharedGuest : .sharedFFA
        default: return .none
        }
    }

    /// `owner: pages` for each owner present.
    public var summary: String {
        counts.map { "\($0.0.rawValue) \($0.1) page(s)" }.joined(separator: ", ")
    }

    /// The picture: a 1000-pixel band per RAM region (address grows to the right), a legend.
    public func svg() -> String {
        let width = 1000.0
        let band = 40.0
        let left = 20.0
        var y = 30.0
        var body: [String] = []
        body.append("<text x=\"\(left)\" y=\"18\" font-size=\"14\">physical memory ownership (pKVM)</text>")
        for (base, size, runs) in regions {
            body.append(
                "<text x=\"\(left)\" y=\"\(y + 12)\" font-size=\"11\">RAM \(Format.hex(base))-\(Format.hex(base + size)) (\(Format.size(size)))</text>"
            )
            y += 16
            for r in runs {
                let x = left + Double(r.start - base) / Double(size) * width
                let w = max(Double(r.end - r.start) / Double(size) * width, 0.5)
                body.append(
                    "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(band)\" fill=\"\(r.owner.colour)\"><title>"
                        + "\(Format.hex(r.start))-\(Format.hex(r.end)) \(r.owner.rawValue)</title></rect>")
            }
            y += band + 14
        }
        body.append("<rect x=\"\(left)\" y=\"\(y)\" width=\"\(width)\" height=\"16\" fill=\"\(Owner.mmio.colour)\"/>")
        body.append(
            "<text x=\"\(left + 6)\" y=\"\(y + 12)\" font-size=\"11\">MMIO: every address outside RAM (host NOPAGE in the vmemmap)</text>"
        )
        y += 30
        var x = left
        for o in Owner.allCases {
            body.append("<rect x=\"\(x)\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(o.colour)\" stroke=\"#333\"/>")
            body.append("<text x=\"\(x + 16)\" y=\"\(y + 11)\" font-size=\"11\">\(o.rawValue)</text>")
            x += 130
        }
        y += 24
        return
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width + 2 * left))\" height=\"\(Int(y))\" font-family=\"monospace\">\n"
            + body.joined(separator: "\n") + "\n</svg>\n"
    }
}
