/// A deterministic page allocator over a pool of emulated physical memory, implementing
/// `kvm_pgtable_mm_ops` (`zalloc_page`, `zalloc_pages_exact`, `get_page`, `put_page`, `page_count`).
///
/// Determinism is the point: it always hands out the **lowest** free page (or the lowest suitably
/// aligned free run for `zallocPagesExact`), and freed pages are reused lowest first, so one operation
/// sequence always puts its tables at the same physical addresses — the allocation order the reference
/// runs against the kernel's own `pgtable.c` use. Pages are zeroed when allocated and when freed (pKVM's
/// `hyp_pool` zeroes pages as it frees them).
///
/// Pages outside the pool are not tracked: `getPage`/`putPage` ignore them and `pageCount` is 0 for them,
/// which is how tables loaded from an image (not allocated here) are treated.
public final class PagePool: PgtableMMOps, @unchecked Sendable {
    public let mem: PhysMem
    public let pageShift: Int
    /// First byte of the pool.
    public let base: PhysAddr
    /// Number of pages in the pool.
    public let pageCount: Int

    @usableFromInline let counts: UnsafeMutablePointer<UInt32>
    @usableFromInline let basePFN: UInt64
    /// No page below this index is free.
    private var lowestFree = 0
    /// Pages with a non-zero count.
    public private(set) var usedPages = 0

    /// A pool of the pages in `[base, base+size)` of `mem`, each `1 << pageShift` bytes.
    /// - Throws: `MemError.invalidPool` if the range is not page aligned, is empty, is not backed by `mem`,
    ///   or `pageShift` is not 12, 14 or 16.
    public init(mem: PhysMem, base: PhysAddr, size: UInt64, pageShift: Int = 12) throws(MemError) {
        guard [12, 14, 16].contains(pageShift), base.isAligned(1 << UInt64(pageShift)),
            size >= 1 << UInt64(pageShift), size & ((1 << UInt64(pageShift)) - 1) == 0,
            mem.contains(base, size: size)
        else { throw .invalidPool(base: base, size: size) }
        self.mem = mem
        self.pageShift = pageShift
        self.base = base
        self.pageCount = Int(size >> UInt64(pageShift))
        self.basePFN = base.rawValue >> UInt64(pageShift)
        counts = .allocate(capacity: pageCount)
        counts.initialize(repeating: 0, count: pageCount)
    }

    deinit { counts.deallocate() }

    /// Bytes per page.
    @inlinable @inline(__always)
    public var pageSize: UInt64 { 1 << UInt64(pageShift) }

    /// Pages not handed out.
    public var freePages: Int { pageCount - usedPages }

    /// The pool index of the page holding `address`, or nil outside the pool.
    @inlinable @inline(__always)
    func index(_ address: PhysAddr) -> Int? {
        // pageShift is 12, 14 or 16 and pageCount positive (checked by init): plain shifts and conversions.
        let i = (address.rawValue &>> UInt64(truncatingIfNeeded: pageShift)) &- basePFN
        return i < UInt64(truncatingIfNeeded: pageCount) ? Int(truncatingIfNeeded: i) : nil
    }

    public func zallocPage() throws(MemError) -> PhysAddr {
        try zallocPagesExact(pageSize)
    }

    public func zallocPagesExact(_ size: UInt64) throws(MemError) -> PhysAddr {
        let pages = pagesSpanned(size)
        guard pages > 0, pages <= UInt64(pageCount) else { throw .outOfPages(pages: Int(clamping: max(pages, 1))) }
        let n = Int(pages)
        var align = 1
        while align < n { align <<= 1 }
        // First index at or after lowestFree whose PFN is a multiple of `align`.
        var i = lowestFree
        let mis = Int((basePFN + UInt64(i)) & UInt64(align - 1))
        if mis != 0 { i += align - mis }
        search: while i + n <= pageCount {
            for j in i..<(i + n) where counts[j] != 0 {
                i += align
                continue search
            }
            let address = PhysAddr((basePFN + UInt64(i)) << UInt64(pageShift))
            try mem.zero(address, count: UInt64(n) << UInt64(pageShift))
            for j in i..<(i + n) { counts[j] = 1 }
            usedPages += n
            if i == lowestFree { advanceLowestFree() }
            return address
        }
        throw .outOfPages(pages: n)
    }

    public func freePagesExact(_ address: PhysAddr, size: UInt64) {
        guard let first = index(address) else { return }
        let last = min(UInt64(first) + pagesSpanned(size), UInt64(pageCount))
        for j in first..<Int(last) where counts[j] != 0 {
            counts[j] = 0
            release(j)
        }
    }

    @inlinable @inline(__always)
    public func getPage(_ address: PhysAddr) {
        guard let i = index(address), counts[i] != 0 else { return }
        counts[i] &+= 1
    }

    @inlinable @inline(__always)
    public func putPage(_ address: PhysAddr) {
        guard let i = index(address), counts[i] != 0 else { return }
        counts[i] &-= 1
        if counts[i] == 0 { release(i) }
    }

    @inlinable @inline(__always)
    public func pageCount(_ address: PhysAddr) -> Int {
        guard let i = index(address) else { return 0 }
        return Int(counts[i])
    }

    /// The addresses of all pages in use, lowest first, with their reference counts.
    public var allocatedPages: [(address: PhysAddr, count: Int)] {
        (0..<pageCount).compactMap { i in
            counts[i] == 0 ? nil : (PhysAddr((basePFN + UInt64(i)) << UInt64(pageShift)), Int(counts[i]))
        }
    }

    /// Pages needed to hold `size` bytes (`size` rounded up to whole pages, without overflowing).
    private func pagesSpanned(_ size: UInt64) -> UInt64 {
        (size >> UInt64(pageShift)) + (size & (pageSize - 1) != 0 ? 1 : 0)
    }

    /// Returns page `i` to the pool, zeroing it.
    @usableFromInline
    func release(_ i: Int) {
        usedPages -= 1
        if i < lowestFree { lowestFree = i }
        try? mem.zero(PhysAddr((basePFN + UInt64(i)) << UInt64(pageShift)), count: pageSize)
    }

    private func advanceLowestFree() {
        while lowestFree < pageCount && counts[lowestFree] != 0 { lowestFree += 1 }
    }
}
