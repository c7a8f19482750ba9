import Mem
import XCTest

@testable import Hyp

/// Buddy behaviour derived by hand from `page_alloc.c` (`hyp_pool_init`, `__hyp_attach_page`,
/// `__hyp_extract_page`, `hyp_alloc_pages`, `hyp_split_page`) and the list layout of `<linux/list.h>`.
final class HypPoolTests: XCTestCase {
    let ram = PhysAddr(0x4000_0000)
    let p0: UInt64 = 0x40010  // pool's first PFN
    let heads = PhysAddr(0x4000_f000)

    func makePool(layout: HypPageLayout = .v614, offset: UInt64 = 0) throws -> (PhysMem, Vmemmap, HypPool) {
        let mem = try PhysMem(base: ram, size: 16 << 20)
        let vm = try Vmemmap(mem: mem, layout: layout, regions: [(ram, 16 << 20)], backings: [ram])
        let pool = try HypPool(vmemmap: vm, pfn: p0, pages: 6, headsAt: heads, physVirtOffset: offset)
        return (mem, vm, pool)
    }

    /// hyp_pool_init over 6 pages: max_order = get_order(6 pages) = 3; puts 0..5 in order leave
    /// free_area[2] = [P0] (pages 0-3) and free_area[1] = [P0+4] (4-5: the order-2 buddy P0+6 is out of range).
    func testInitCoalesces() throws {
        let (_, vm, pool) = try makePool()
        XCTAssertEqual(pool.maxOrder, 3)
        XCTAssertEqual(pool.freeList(order: 0), [])
        XCTAssertEqual(pool.freeList(order: 1), [PhysAddr((p0 + 4) << 12)])
        XCTAssertEqual(pool.freeList(order: 2), [PhysAddr(p0 << 12)])
        XCTAssertEqual((0..<6).map { vm.order(p0 + $0) }, [2, 0xff, 0xff, 0xff, 1, 0xff])
        XCTAssertEqual((0..<6).map { vm.refcount(p0 + $0) }, [0, 0, 0, 0, 0, 0])
    }

    /// Allocation takes the lowest non-empty order >= the request, front of the list; a freed page goes to
    /// the tail.
    func testAllocationOrder() throws {
        let (_, vm, pool) = try makePool()
        XCTAssertEqual(pool.allocPages(order: 0), PhysAddr((p0 + 4) << 12))  // split of the order-1 block
        XCTAssertEqual(pool.freeList(order: 0), [PhysAddr((p0 + 5) << 12)])
        XCTAssertEqual(pool.allocPages(order: 0), PhysAddr((p0 + 5) << 12))
        XCTAssertEqual(pool.allocPages(order: 0), PhysAddr(p0 << 12))  // order 2 split: P0+2 (o1), P0+1 (o0) freed
        XCTAssertEqual(pool.freeList(order: 1), [PhysAddr((p0 + 2) << 12)])
        XCTAssertEqual(pool.freeList(order: 0), [PhysAddr((p0 + 1) << 12)])
        pool.putPage(PhysAddr((p0 + 4) << 12))  // buddy P0+5 in use: stays order 0, at the tail
        XCTAssertEqual(pool.freeList(order: 0), [PhysAddr((p0 + 1) << 12), PhysAddr((p0 + 4) << 12)])
        XCTAssertEqual(pool.allocPages(order: 0), PhysAddr((p0 + 1) << 12))
        XCTAssertEqual(vm.refcount(p0 + 1), 1)
        XCTAssertEqual(vm.order(p0 + 1), 0)
        XCTAssertNil(pool.allocPages(order: 2))
    }

    /// The list_head words: free_area[1] and node P0+4 point at each other (hyp VAs = PA - offset).
    func testListWordsAreHypVAs() throws {
        let off: UInt64 = 0 &- 0x8000_0000_0000
        let (mem, _, _) = try makePool(offset: off)
        let h1 = heads.rawValue + 16
        let node = (p0 + 4) << 12
        XCTAssertEqual(try mem.read64(PhysAddr(h1)), node + 0x8000_0000_0000)  // next
        XCTAssertEqual(try mem.read64(PhysAddr(h1 + 8)), node + 0x8000_0000_0000)  // prev
        XCTAssertEqual(try mem.read64(PhysAddr(node)), h1 + 0x8000_0000_0000)
        XCTAssertEqual(try mem.read64(PhysAddr(node + 8)), h1 + 0x8000_0000_0000)
        // free_area[0] is empty: points at itself.
        XCTAssertEqual(try mem.read64(heads), heads.rawValue + 0x8000_0000_0000)
    }

    /// zalloc_pages_exact(2 pages) = hyp_alloc_pages(order 1) + hyp_split_page: both pages refcount 1, order 0.
    func testZallocPagesExactSplits() throws {
        let (mem, vm, pool) = try makePool()
        try mem.write64(PhysAddr((p0 + 4) << 12 + 0x100), 0xdead)
        pool.putPage(PhysAddr(0))  // not a vmemmap page: counted as a BUG, nothing changes
        XCTAssertEqual(pool.bugs, 1)
        let root = try pool.zallocPagesExact(0x2000)
        XCTAssertEqual(root, PhysAddr((p0 + 4) << 12))
        XCTAssertEqual([vm.refcount(p0 + 4), vm.refcount(p0 + 5)], [1, 1])
        XCTAssertEqual([vm.order(p0 + 4), vm.order(p0 + 5)], [0, 0])
        XCTAssertEqual(try mem.read64(PhysAddr((p0 + 4) << 12 + 0x100)), 0xdead)  // init does not zero: attach does
        pool.freePagesExact(root, size: 0x2000)
        XCTAssertEqual(pool.freeList(order: 1), [PhysAddr((p0 + 4) << 12)])
    }

    /// v6.13's `struct hyp_page` is 4 bytes with a 16-bit order; HYP_NO_ORDER = USHRT_MAX.
    func testV613EntryBytes() throws {
        let (_, vm, _) = try makePool(layout: .v613)
        XCTAssertEqual(vm.entryAddress(p0 + 1), PhysAddr(ram.rawValue + 0x10 * 4 + 4))
        XCTAssertEqual(vm.bytes(p0 + 1), [0, 0, 0xff, 0xff])
        XCTAssertEqual(vm.bytes(p0 + 4), [0, 0, 1, 0])
        XCTAssertNil(vm.hostState(p0))
    }

    /// v6.14 entry: refcount u16, order u8, host_state u8, host_share_guest_count u32.
    func testV614EntryBytes() throws {
        let (_, vm, _) = try makePool()
        vm.setHostState(p0 + 4, 2)
        vm.setShareGuestCount(p0 + 4, 0x0102_0304)
        vm.setRefcount(p0 + 4, 0x0506)
        XCTAssertEqual(vm.entryAddress(p0 + 4), PhysAddr(ram.rawValue + 0x14 * 8))
        XCTAssertEqual(vm.bytes(p0 + 4), [0x06, 0x05, 1, 2, 0x04, 0x03, 0x02, 0x01])
        XCTAssertEqual(vm.bytes(p0 + 1), [0, 0, 0xff, 0, 0, 0, 0, 0])
    }

    /// A memcache is a LIFO stack threaded through the pages (push_hyp_memcache / pop_hyp_memcache).
    func testMemcacheFallback() throws {
        let (mem, vm, pool) = try makePool()
        pool.memcache = HypMemcache()
        try pool.memcache?.push(PhysAddr(0x4080_0000), mem: mem)
        try pool.memcache?.push(PhysAddr(0x4080_1000), mem: mem)
        XCTAssertEqual(try mem.read64(PhysAddr(0x4080_1000)), 0x4080_0000)
        for _ in 0..<6 { _ = try pool.zallocPage() }
        XCTAssertEqual(try pool.zallocPage(), PhysAddr(0x4080_1000))
        XCTAssertEqual(try mem.read64(PhysAddr(0x4080_1000)), 0)  // zeroed
        XCTAssertEqual(vm.refcount(0x40801), 1)
        XCTAssertEqual(try pool.zallocPage(), PhysAddr(0x4080_0000))
        XCTAssertThrowsError(try pool.zallocPage())
        // An external page freed into the pool is not coalesced: it goes to free_area[its order].
        pool.putPage(PhysAddr(0x4080_0000))
        XCTAssertEqual(pool.freeList(order: 0), [PhysAddr(0x4080_0000)])
    }
    /// 2000 random allocations (orders 0-2) and puts on a 100-page pool at PFN 0x40010, driven by the same
    /// LCG as a harness that ran the kernel's own v6.14 `page_alloc.c` (blob a1eb27a1a747) natively over
    /// shims for the list and vmemmap helpers; the expected hash, live count and free lists are that run's
    /// output. The hash (FNV-1a over every returned address, every put, and each page's final refcount and
    /// order) pins the whole allocation order.
    func testMatchesKernelPageAllocRun() throws {
        let mem = try PhysMem(base: ram, size: 16 << 20)
        let vm = try Vmemmap(mem: mem, layout: .v614, regions: [(ram, 16 << 20)], backings: [ram])
        let pool = try HypPool(vmemmap: vm, pfn: 0x40010, pages: 100, headsAt: heads, physVirtOffset: 0)
        XCTAssertEqual(pool.maxOrder, 7)
        XCTAssertEqual(pool.freeList(order: 4), [PhysAddr(0x4001_0000), PhysAddr(0x4006_0000)])
        XCTAssertEqual(pool.freeList(order: 5), [PhysAddr(0x4002_0000), PhysAddr(0x4004_0000)])
        XCTAssertEqual(pool.freeList(order: 2), [PhysAddr(0x4007_0000)])
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func out(_ v: UInt64) {
            for i in 0..<8 {
                h ^= (v >> UInt64(8 * i)) & 0xff
                h = h &* 0x100_0000_01b3
            }
        }
        var x: UInt64 = 2026
        var live: [UInt64] = []
        for _ in 0..<2000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            if (x >> 33) % 3 != 2 || live.isEmpty {
                let a = pool.allocPages(order: Int((x >> 40) % 3))?.rawValue ?? 0
                out(a)
                if a != 0 && live.count < 200 { live.append(a) }
            } else {
                let k = Int((x >> 45) % UInt64(live.count))
                let pa = live[k]
                live[k] = live[live.count - 1]
                live.removeLast()
                pool.putPage(PhysAddr(pa))
                out(pa | 1)
            }
        }
        for p: UInt64 in 0x40010..<0x40074 {
            out(UInt64(vm.refcount(p)))
            out(UInt64(vm.order(p)))
        }
        XCTAssertEqual(live.count, 62)
        XCTAssertEqual(h, 0xa7bd_d6c2_eb2c_f1f6)
        XCTAssertEqual(pool.freeList(order: 0), [0x4005c, 0x4006a, 0x40034, 0x4006d].map { PhysAddr($0 << 12) })
        XCTAssertEqual(pool.freeList(order: 1), [PhysAddr(0x4004_0000)])
        XCTAssertEqual(pool.bugs, 0)
    }
}
