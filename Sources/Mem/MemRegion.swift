/// A backed range of emulated physical memory, as `PhysMem.regions` reports it.
public struct MemRegion: Equatable, Sendable, CustomStringConvertible {
    /// How a region's bytes are stored on the host.
    public enum Backing: Equatable, Sendable {
        /// Anonymous memory (`MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE`): reads as zero until written,
        /// costs only the pages that are touched.
        case anonymous
        /// The bytes of `path` from `offset` (page aligned). `shared` maps it `MAP_SHARED` (writes reach the
        /// file, which is extended as needed); otherwise `MAP_PRIVATE` (copy on write, the file is never changed).
        case file(path: String, offset: UInt64, shared: Bool)
    }

    public let base: PhysAddr
    public let size: UInt64
    public let backing: Backing

    /// One past the last byte.
    public var end: PhysAddr { base + size }

    public var description: String {
        "\(base)-\(PhysAddr(base.rawValue + size - 1))"
    }
}
