import Mem
import Pgtable

/// The hypervisor's view of physical memory (`hyp_memory[]`, `hyp_memblock_nr`): sorted, non-overlapping
/// RAM regions; every other address is MMIO. Lookups are `find_mem_range` and its users in `mem_protect.c`.
public struct MemoryMap: Sendable, Equatable {
    /// One memblock region (`struct memblock_region`): base, size and `MEMBLOCK_NOMAP`.
    public struct Region: Sendable, Equatable {
        public let base: UInt64
        public let size: UInt64
        public let nomap: Bool
        public var end: UInt64 { base + size }
        public init(base: UInt64, size: UInt64, nomap: Bool = false) {
            self.base = base
            self.size = size
            self.nomap = nomap
        }
    }

    /// `struct kvm_mem_range`: `[start, end)`.
    public struct Range: Sendable, Equatable {
        public var start: UInt64
        public var end: UInt64
        @inlinable
        public init(start: UInt64, end: UInt64) {
            self.start = start
            self.end = end
        }
    }

    public let regions: [Region]

    /// - Throws: `HypError.invalidConfig` for empty, unaligned (4 KiB) or overlapping regions.
    public init(_ regions: [Region]) throws(HypError) {
        let sorted = regions.sorted { $0.base < $1.base }
        for (i, r) in sorted.enumerated() {
            guard r.size > 0, r.base & 0xfff == 0, r.size & 0xfff == 0, r.base <= UInt64.max - r.size else {
                throw .invalidConfig("RAM region 0x\(String(r.base, radix: 16))+0x\(String(r.size, radix: 16))")
            }
            if i > 0 && sorted[i - 1].end > r.base { throw .invalidConfig("overlapping RAM regions") }
        }
        self.regions = sorted
    }

    /// `find_mem_range`: the region holding `addr` (nil for MMIO) and the range around it: the region, or
    /// the gap between the neighbouring regions (`[0, ULONG_MAX)` bounds at the ends).
    @inlinable
    public func find(_ addr: UInt64) -> (region: Int?, range: Range) {
        var range = Range(start: 0, end: UInt64.max)
        var left = 0
        var right = regions.count
        while left < right {
            let cur = (left + right) >> 1
            let r = regions[cur]
            if addr < r.base {
                right = cur
                range.end = r.base
            } else if addr >= r.end {
                left = cur + 1
                range.start = r.end
            } else {
                return (cur, Range(start: r.base, end: r.end))
            }
        }
        return (nil, range)
    }

    /// `addr_is_memory`.
    @inlinable
    public func isMemory(_ addr: UInt64) -> Bool { find(addr).region != nil }

    /// `addr_is_allowed_memory` (v6.13): memory without `MEMBLOCK_NOMAP`.
    @inlinable
    public func isAllowedMemory(_ addr: UInt64) -> Bool {
        guard let i = find(addr).region else { return false }
        return !regions[i].nomap
    }

    /// `range_is_memory`: `[start, end)` lies inside one region.
    @inlinable
    public func rangeIsMemory(_ start: UInt64, _ end: UInt64) -> Bool {
        let (reg, r) = find(start)
        return reg != nil && r.start <= end &- 1 && end &- 1 < r.end
    }

    /// `check_range_allowed_memory` (v6.14): -EINVAL if `[start, end)` straddles memory and MMIO (or two
    /// regions), -EPERM if it is MMIO or `MEMBLOCK_NOMAP`, else 0.
    @inlinable
    public func checkRangeAllowedMemory(_ start: UInt64, _ end: UInt64) -> Int32 {
        let (reg, r) = find(start)
        guard r.start <= end &- 1 && end &- 1 < r.end else { return -KernelErrno.EINVAL }
        guard let i = reg, !regions[i].nomap else { return -KernelErrno.EPERM }
        return 0
    }
}
