import ELFImage
import Mem

/// Paths of the committed fixtures (Fixtures/images), found from this file's location.
enum Fixture {
    static let directory: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/Fixtures/images"
    }()

    static func path(_ name: String) -> String { directory + "/" + name }
    static func broken(_ name: String) -> String { directory + "/broken/" + name }
}

/// Every region and every byte of `mem`, for before/after comparisons.
struct MemSnapshot: Equatable {
    let regions: [MemRegion]
    let bytes: [[UInt8]]

    init(_ mem: PhysMem) throws {
        regions = mem.regions
        bytes = try mem.regions.map { try mem.read($0.base, count: Int($0.size)) }
    }
}
