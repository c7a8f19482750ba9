import Mem
import Pgtable

/// A stage-2 table in a large sparse physical memory, built outside any measured closure.
///
/// Table pages come from a `PagePool` at `poolBase`; the mapped output addresses are not backed (a
/// stage-2 walk never reads the memory it maps), so 64 GiB can be mapped with only the 128 MiB of
/// tables it needs.
public final class Fixture: @unchecked Sendable {
    /// Where the pool (and so every table page) sits: 512 GiB, clear of the mapped input addresses.
    public static let poolBase = PhysAddr(0x80_0000_0000)
    /// The first mapped input (and output) address: 1 GiB, aligned for every block size used.
    public static let mapBase: UInt64 = 0x4000_0000

    public let shape: Shape
    public let mem: PhysMem
    public let pool: PagePool
    public private(set) var table: Stage2Table<PagePool>
    /// Host address of `poolBase`, for the raw-load floor.
    public let host: UnsafeMutableRawPointer
    /// Random page addresses inside the mapped range (fixed seed), for lookups.
    public private(set) var addresses: UnsafeMutableBufferPointer<UInt64>
    /// Next index into `addresses` (lookups continue where the last iteration stopped).
    public var cursor = 0

    /// A fresh, empty table of `shape` with a pool of `poolBytes`.
    public init(shape: Shape, poolBytes: UInt64) throws {
        self.shape = shape
        mem = try PhysMem(base: Fixture.poolBase, size: poolBytes)
        pool = try PagePool(mem: mem, base: Fixture.poolBase, size: poolBytes, pageShift: shape.granule.shift)
        table = try Stage2Table(mm: pool, geometry: shape.geometry, forcePTE: Fixture.forcePTE(shape.blocks))
        host = try mem.pointer(Fixture.poolBase, size: poolBytes)
        addresses = .allocate(capacity: 0)
    }

    deinit { addresses.deallocate() }

    /// `force_pte_cb` for page mappings; nil lets the map use blocks.
    static func forcePTE(_ blocks: Bool) -> (@Sendable (UInt64, UInt64, Prot) -> Bool)? {
        if blocks { return nil }
        return { _, _, _ in true }
    }

    /// A fixture with `bytes` mapped at `mapBase` (read/write) and `count` random addresses inside it.
    public static func mapped(_ shape: Shape, bytes: UInt64, addressCount: Int = 4096) throws -> Fixture {
        let f = try Fixture(shape: shape, poolBytes: shape.poolBytes(mapping: bytes))
        try f.table.map(mapBase, size: bytes, phys: f.phys, prot: [.r, .w])
        f.randomAddresses(in: bytes, count: addressCount)
        return f
    }

    /// A fixture with `bytes` mapped and its lookup addresses checked (see `checkLookups`).
    public static func lookups(_ shape: Shape, bytes: UInt64, addressCount: Int = 4096) throws -> Fixture {
        let f = try mapped(shape, bytes: bytes, addressCount: addressCount)
        try f.checkLookups()
        return f
    }

    /// Fills `addresses` with `count` page-aligned addresses drawn uniformly from `[mapBase, mapBase+bytes)`.
    public func randomAddresses(in bytes: UInt64, count: Int) {
        addresses.deallocate()
        addresses = .allocate(capacity: count)
        var rng = SplitMix64(seed: 0x5eed_5eed)
        let pages = bytes >> UInt64(shape.granule.shift)
        for i in 0..<count {
            let page = rng.next() % pages
            addresses[i] = Fixture.mapBase + (page << UInt64(shape.granule.shift)) + (rng.next() & 0xff8)
        }
        cursor = 0
    }

    /// The output address `mapBase` maps to: `mapBase` for pages; for blocks, offset by one leaf so that
    /// the map uses level-2 blocks (2M/32M/512M) rather than a 4K granule's 1 GiB level-1 block.
    public var phys: UInt64 { shape.blocks ? Fixture.mapBase + shape.leafSize : Fixture.mapBase }

    /// Replaces the table by a fresh empty one (the old one destroyed), outside any measurement.
    public func reset() throws {
        try table.destroy()
        table = try Stage2Table(mm: pool, geometry: shape.geometry, forcePTE: Fixture.forcePTE(shape.blocks))
    }

    /// The architectural regime (VTCR_EL2/VTTBR_EL2) of the table, for `translate`.
    public var regime: TranslationRegime {
        TranslationRegime(vtcr: table.geometry.vtcr.rawValue, vttbr: table.root.rawValue)
    }

    /// Checks that `translate` and `get_leaf` reach a valid leaf at every lookup address, so that the lookup
    /// benchmarks time the successful walk.
    public func checkLookups() throws {
        let r = regime
        for a in addresses {
            guard case .success = r.translate(a, .read, in: mem) else {
                throw FixtureError.unmapped(shape, "translate", a)
            }
            guard try table.getLeaf(a).pte.isValid else { throw FixtureError.unmapped(shape, "get_leaf", a) }
        }
    }

    /// The raw-load floor for this fixture's tables.
    public var floor: Floor {
        Floor(
            table: table, host: host, hostBase: Fixture.poolBase, loads: shape.leafLevel - table.geometry.startLevel + 1
        )
    }
}

/// The table shape a benchmark runs on: granule, number of levels, pages or blocks.
public struct Shape: Sendable, CustomStringConvertible {
    public let granule: Granule
    public let levels: Int
    /// Map with the largest blocks (level-2 blocks: 2M/32M/512M) instead of forcing pages.
    public let blocks: Bool

    public init(_ granule: Granule, levels: Int, blocks: Bool = false) {
        self.granule = granule
        self.levels = levels
        self.blocks = blocks
    }

    /// The stage-2 geometry: the kernel's default layouts where one exists (4K/40-bit is the default VM
    /// IPA size with two concatenated level-1 roots). 16K has no 4-level shape: a level-0 start needs
    /// DS=1 (FEAT_LPA2) in VTCR_EL2 (`AArch64.S2InvalidSL`), so the hardware walk could not be compared.
    public var geometry: Geometry {
        get throws(PgtableError) {
            let (ia, start): (Int, Int)
            switch (granule, levels) {
            case (.k4, 4): (ia, start) = (48, 0)
            case (.k4, _): (ia, start) = (40, 1)
            case (.k16, 3): (ia, start) = (47, 1)
            case (.k16, _): (ia, start) = (36, 2)
            case (.k64, 3): (ia, start) = (48, 1)
            case (.k64, _): (ia, start) = (42, 2)
            }
            return try Geometry(granule: granule, iaBits: ia, startLevel: start)
        }
    }

    /// The level the mappings' leaves are at.
    public var leafLevel: Int { blocks ? 2 : Granule.lastLevel }

    /// Bytes one leaf maps.
    public var leafSize: UInt64 { granule.levelSize(leafLevel) }

    /// Pool size for mapping `bytes`: the table pages (one per `entries` leaves, per level) with room.
    public func poolBytes(mapping bytes: UInt64) -> UInt64 {
        let page = granule.size
        let leafTables = (bytes / leafSize) / UInt64(granule.entries) + 1
        let pages = leafTables + leafTables / UInt64(granule.entries) + 64
        return max(pages * page * 2, 64 << 20)
    }

    public var description: String { "\(granule)/\(levels)L/" + (blocks ? "blocks" : "pages") }
}

/// A small deterministic generator (SplitMix64) so that every run looks up the same addresses.
public struct SplitMix64 {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// A fixture that does not look as the benchmark needs.
public enum FixtureError: Error {
    /// A lookup address a walk (named) does not find mapped.
    case unmapped(Shape, String, UInt64)
}
