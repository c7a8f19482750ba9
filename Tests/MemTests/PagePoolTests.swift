import Mem
import XCTest

/// The deterministic `kvm_pgtable_mm_ops` page allocator.
final class PagePoolTests: XCTestCase {
    let base: UInt64 = 0x4000_0000

    func makePool(pages: Int, pageShift: Int = 12) throws -> (PhysMem, PagePool) {
        let mem = try PhysMem(base: PhysAddr(base), size: 4 << 20)
        let pool = try PagePool(
            mem: mem, base: PhysAddr(base), size: UInt64(pages) << UInt64(pageShift), pageShift: pageShift)
        return (mem, pool)
    }

    /// Pools PagePool refuses (unaligned base, empty, partial page, larger than the backed region, a page
    /// shift that is no granule, a base unaligned for 16K pages): typed, with the rule in the message;
    /// memory is not touched (it is only read back here).
    func testInvalidPools() throws {
        let mem = try PhysMem(base: PhysAddr(base), size: 1 << 20)
        try mem.write(PhysAddr(base), bytes: [UInt8](repeating: 0x3c, count: 1 << 20))
        for (b, s, shift) in [(base + 0x800, 0x1000, 12), (base, 0, 12), (base, 0x1800, 12), (base, 2 << 20, 12),
                              (base, 0x1000, 13), (base + 0x1000, 0x4000, 14)] as [(UInt64, UInt64, Int)] {
            XCTAssertThrowsError(try PagePool(mem: mem, base: PhysAddr(b), size: s, pageShift: shift)) {
                XCTAssertEqual($0 as? MemError, .invalidPool(base: PhysAddr(b), size: s))
                XCTAssertEqual(
                    "\($0)",
                    "page pool 0x\(String(b, radix: 16))+0x\(String(s, radix: 16)) is refused: it must hold at least one"
                        + " page of 4K, 16K or 64K, be aligned to that page size, and lie inside one backed region")
            }
        }
        XCTAssertEqual(try mem.read(PhysAddr(base), count: 1 << 20), [UInt8](repeating: 0x3c, count: 1 << 20))
    }

    func testLowestFirstAndReuse() throws {
        let (_, pool) = try makePool(pages: 8)
        let a = try (0..<4).map { _ in try pool.zallocPage().rawValue }
        XCTAssertEqual(a, [base, base + 0x1000, base + 0x2000, base + 0x3000])
        pool.putPage(PhysAddr(base + 0x2000))
        pool.putPage(PhysAddr(base + 0x1000))
        // Freed pages come back lowest first, before never-used ones.
        XCTAssertEqual(try pool.zallocPage().rawValue, base + 0x1000)
        XCTAssertEqual(try pool.zallocPage().rawValue, base + 0x2000)
        XCTAssertEqual(try pool.zallocPage().rawValue, base + 0x4000)
        XCTAssertEqual(pool.usedPages, 5)
        XCTAssertEqual(pool.freePages, 3)
    }

    func testGetPutPageCount() throws {
        let (_, pool) = try makePool(pages: 4)
        let p = try pool.zallocPage()
        XCTAssertEqual(pool.pageCount(p), 1)
        pool.getPage(p + 0x123)  // any address inside the page names it
        pool.getPage(p)
        XCTAssertEqual(pool.pageCount(p), 3)
        pool.putPage(p)
        pool.putPage(p)
        XCTAssertEqual(pool.pageCount(p), 1)
        pool.putPage(p)
        XCTAssertEqual(pool.pageCount(p), 0)
        XCTAssertEqual(pool.usedPages, 0)
        // A free page or one outside the pool is not tracked: get/put change nothing.
        pool.getPage(p)
        XCTAssertEqual(pool.pageCount(p), 0)
        pool.putPage(PhysAddr(0x1000))
        XCTAssertEqual(pool.pageCount(PhysAddr(0x1000)), 0)
        XCTAssertEqual(pool.usedPages, 0)
    }

    /// zalloc_pages_exact aligns the run to the next power of two of its page count (a concatenated root of
    /// 3 pages on a 4-page boundary), and the pages before it stay free for later single pages.
    func testZallocPagesExactAlignment() throws {
        let (_, pool) = try makePool(pages: 16)
        XCTAssertEqual(try pool.zallocPage().rawValue, base)
        XCTAssertEqual(try pool.zallocPagesExact(3 * 0x1000).rawValue, base + 0x4000)
        XCTAssertEqual(try pool.zallocPagesExact(0x2000).rawValue, base + 0x2000)
        XCTAssertEqual(try pool.zallocPagesExact(16 * 0x1000 / 2).rawValue, base + 0x8000)
        XCTAssertEqual(try pool.zallocPage().rawValue, base + 0x1000)
        XCTAssertEqual(try pool.zallocPage().rawValue, base + 0x7000)
        XCTAssertEqual(pool.usedPages, 16)
        for i in 4..<7 { XCTAssertEqual(pool.pageCount(PhysAddr(base + UInt64(i) * 0x1000)), 1) }
        pool.freePagesExact(PhysAddr(base + 0x4000), size: 3 * 0x1000)
        XCTAssertEqual(pool.usedPages, 13)
        // A 16K pool aligns in 16K pages.
        let (_, p16) = try makePool(pages: 8, pageShift: 14)
        _ = try p16.zallocPage()
        XCTAssertEqual(try p16.zallocPagesExact(2 << 14).rawValue, base + (2 << 14))
    }

    /// What a refused allocation must leave as it was: every page's count and every byte of the memory.
    struct PoolState: Equatable {
        let pages: [UInt64: Int]
        let used: Int
        let bytes: [UInt8]
    }

    func state(_ mem: PhysMem, _ pool: PagePool) throws -> PoolState {
        PoolState(
            pages: Dictionary(uniqueKeysWithValues: pool.allocatedPages.map { ($0.address.rawValue, $0.count) }),
            used: pool.usedPages, bytes: try mem.read(mem.regions[0].base, count: Int(mem.regions[0].size)))
    }

    /// #2 [core] "a page allocator that runs dry": `zalloc_page` / `zalloc_pages_exact` with no free run
    /// (fragmented: free pages 1 and 3 of 4, but no aligned pair) is `outOfPages`, the kernel's -ENOMEM, and
    /// neither zeroes a free page nor takes a reference. A size whose page count does not fit the pool,
    /// even 2^64 - 1 bytes, is the same error (rounding it up to pages used to overflow and trap).
    func testDryPoolChangesNothing() throws {
        let (mem, pool) = try makePool(pages: 4)
        for _ in 0..<4 { _ = try pool.zallocPage() }
        pool.putPage(PhysAddr(base + 0x1000))
        pool.putPage(PhysAddr(base + 0x3000))
        // Garbage in the free pages: a refused allocation must not zero it.
        try mem.write(PhysAddr(base + 0x1000), bytes: [UInt8](repeating: 0x5a, count: 0x1000))
        try mem.write(PhysAddr(base + 0x3000), bytes: [UInt8](repeating: 0xa5, count: 0x1000))
        let before = try state(mem, pool)
        XCTAssertEqual(before.pages, [base: 1, base + 0x2000: 1])
        let refused: [(UInt64, MemError, String)] = [
            (0x2000, .outOfPages(pages: 2), "page allocator has no free run of 2 page(s) (-ENOMEM)"),
            (0x1001, .outOfPages(pages: 2), "page allocator has no free run of 2 page(s) (-ENOMEM)"),
            (0x5000, .outOfPages(pages: 5), "page allocator has no free run of 5 page(s) (-ENOMEM)"),
            (
                UInt64.max, .outOfPages(pages: 1 << 52),
                "page allocator has no free run of 4503599627370496 page(s) (-ENOMEM)"
            ),
        ]
        for (size, e, message) in refused {
            XCTAssertThrowsError(try pool.zallocPagesExact(size)) {
                XCTAssertEqual($0 as? MemError, e)
                XCTAssertEqual("\($0)", message)
            }
            XCTAssertEqual(try state(mem, pool), before)
        }
        // Dry for single pages too, once the two free pages are handed out.
        XCTAssertEqual(try pool.zallocPage().rawValue, base + 0x1000)
        XCTAssertEqual(try pool.zallocPage().rawValue, base + 0x3000)
        let full = try state(mem, pool)
        XCTAssertThrowsError(try pool.zallocPage()) {
            XCTAssertEqual($0 as? MemError, .outOfPages(pages: 1))
            XCTAssertEqual("\($0)", "page allocator has no free run of 1 page(s) (-ENOMEM)")
        }
        XCTAssertEqual(try state(mem, pool), full)
        // free_pages_exact of a size past the pool's end frees up to the end (it used to overflow and trap).
        pool.freePagesExact(PhysAddr(base + 0x2000), size: UInt64.max)
        XCTAssertEqual(pool.allocatedPages.map(\.address.rawValue), [base, base + 0x1000])
    }

    /// Addresses a pool does not hand out (outside it, or free): get_page / put_page / free_pages_exact
    /// ignore them and page_count is 0, as documented; no count and no byte changes.
    func testAddressesOutsideThePoolChangeNothing() throws {
        let (mem, pool) = try makePool(pages: 4)
        _ = try pool.zallocPage()
        try mem.write(PhysAddr(base + 0x1000), bytes: [UInt8](repeating: 0x77, count: 0x1000))
        let before = try state(mem, pool)
        for a in [0, base - 0x1000, base + 0x1000, base + 0x4000, UInt64.max] {
            pool.getPage(PhysAddr(a))
            pool.putPage(PhysAddr(a))
            pool.freePagesExact(PhysAddr(a), size: 0x2000)
            XCTAssertEqual(pool.pageCount(PhysAddr(a)), 0)
        }
        XCTAssertEqual(try state(mem, pool), before)
    }

    /// Pages are zeroed when handed out and when freed (hyp_pool zeroes freed pages).
    func testPagesZeroedOnAllocAndFree() throws {
        let (mem, pool) = try makePool(pages: 4)
        try mem.write(PhysAddr(base), bytes: [UInt8](repeating: 0xa5, count: 0x4000))
        let p = try pool.zallocPage()
        XCTAssertEqual(try mem.read(p, count: 0x1000), [UInt8](repeating: 0, count: 0x1000))
        XCTAssertEqual(try mem.read(p + 0x1000, count: 8), [UInt8](repeating: 0xa5, count: 8))
        try mem.write64(p + 0x800, 0xffff)
        pool.putPage(p)
        XCTAssertEqual(try mem.read64(p + 0x800), 0)
        let q = try pool.zallocPagesExact(0x2000)
        XCTAssertEqual(try mem.read(q, count: 0x2000), [UInt8](repeating: 0, count: 0x2000))
    }
}
