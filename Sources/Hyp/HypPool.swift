import Mem

/// The hypervisor's buddy page allocator (`struct hyp_pool`, `arch/arm64/kvm/hyp/nvhe/page_alloc.c`), as a
/// `kvm_pgtable_mm_ops` for the table code.
///
/// Buddy orders and reference counts live in the emulated vmemmap (`struct hyp_page`), and the free lists
/// are the kernel's: a `struct list_head { next, prev }` (hyp virtual addresses) at the start of each free
/// block's head page, and one list head per order (`free_area[NR_PAGE_ORDERS]`) at `headsAt` in emulated
/// memory. Blocks are added at the tail (`list_add_tail`) and allocated from the front, so allocation order,
/// and with it every table address, is the kernel's.
///
/// For a guest (`guest_s2_zalloc_page`), `memcache` is the fallback when the pool is empty.
public final class HypPool: PgtableMMOps, @unchecked Sendable {
    public let mem: PhysMem
    public let pageShift = 12
    public let vmemmap: Vmemmap
    /// `range_start`, `range_end`.
    public let rangeStart: PhysAddr
    public let rangeEnd: PhysAddr
    /// `max_order`: `min(MAX_PAGE_ORDER, get_order(nr_pages << PAGE_SHIFT))`.
    public let maxOrder: Int
    /// Where `free_area[0...NR_PAGE_ORDERS-1]` (16 bytes each) live in emulated memory.
    public let headsAt: PhysAddr
    /// `hyp_physvirt_offset`: hyp VA = PA − offset.
    public let physVirtOffset: UInt64
    /// Guest pools only: pages to fall back on (`vcpu->arch.pkvm_memcache`).
    public var memcache: HypMemcache?
    /// Kernel `BUG_ON`s hit (reference count over- or underflow); each leaves the count unchanged.
    public private(set) var bugs = 0

    /// `MAX_PAGE_ORDER` for 4 KiB pages.
    public static let maxPageOrder = 10
    /// `NR_PAGE_ORDERS`.
    public static let orders = maxPageOrder + 1
    /// Bytes of `free_area`.
    public static let headsSize = UInt64(orders * 16)

    /// `get_order(size)`: the smallest order whose block holds `size` bytes.
    @inlinable
    public static func getOrder(_ size: UInt64) -> Int {
        var o = 0
        while (UInt64(0x1000) << UInt64(o)) < size { o += 1 }
        return o
    }

    /// `hyp_pool_init(pool, pfn, nr_pages, reserved_pages)` (v6.14): every page gets a reference
    /// (`hyp_set_page_refcounted`; its order stays as the vmemmap has it, 0 in a fresh vmemmap), then the
    /// unreserved ones are put (`__hyp_put_page`), lowest first, coalescing into buddies.
    /// - Throws: `HypError.invalidConfig` for an empty range or one without vmemmap entries, or list heads
    ///   outside memory.
    public init(
        vmemmap: Vmemmap, pfn: UInt64, pages: Int, reserved: Int = 0, headsAt: PhysAddr, physVirtOffset: UInt64
    ) throws(HypError) {
        guard pages > 0, reserved <= pages, vmemmap.covers(pfn), vmemmap.covers(pfn + UInt64(pages) - 1),
            vmemmap.mem.contains(headsAt, size: Self.headsSize)
        else { throw .invalidConfig("hyp_pool over pfn 0x\(String(pfn, radix: 16)) + \(pages) pages") }
        self.vmemmap = vmemmap
        self.mem = vmemmap.mem
        self.rangeStart = PhysAddr(pfn << 12)
        self.rangeEnd = PhysAddr((pfn + UInt64(pages)) << 12)
        self.maxOrder = min(Self.maxPageOrder, Self.getOrder(UInt64(pages) << 12))
        self.headsAt = headsAt
        self.physVirtOffset = physVirtOffset
        for i in 0...maxOrder { initHead(i) }
        for i in 0..<UInt64(pages) { setRefcounted(pfn + i) }
        for i in UInt64(reserved)..<UInt64(pages) { putPFN(pfn + i) }
    }

    // MARK: list_head in emulated memory

    @inlinable func va(_ pa: UInt64) -> UInt64 { pa &- physVirtOffset }
    @inlinable func pa(_ va: UInt64) -> UInt64 { va &+ physVirtOffset }
    @inlinable func load(_ pa: UInt64) -> UInt64 { (try? mem.read64(PhysAddr(pa))) ?? 0 }
    @inlinable func store(_ pa: UInt64, _ v: UInt64) { try? mem.write64(PhysAddr(pa), v) }
    @inlinable func head(_ order: Int) -> UInt64 { headsAt.rawValue + UInt64(order) * 16 }

    /// `INIT_LIST_HEAD(&free_area[order])`.
    func initHead(_ order: Int) {
        let h = head(order)
        store(h, va(h))
        store(h + 8, va(h))
    }

    /// `list_empty(&free_area[order])`.
    @inlinable func listEmpty(_ order: Int) -> Bool { load(head(order)) == va(head(order)) }

    /// `page_add_to_list`: `INIT_LIST_HEAD(node); list_add_tail(node, head)`.
    @inlinable
    func addToList(_ pfn: UInt64, _ order: Int) {
        let node = pfn << 12
        let h = head(order)
        let prev = load(h + 8)
        store(node, va(h))
        store(node + 8, prev)
        store(pa(prev), va(node))
        store(h + 8, va(node))
    }

    /// `page_remove_from_list`: `__list_del_entry(node); memset(node, 0, sizeof(*node))`.
    @inlinable
    func removeFromList(_ pfn: UInt64) {
        let node = pfn << 12
        let next = load(node)
        let prev = load(node + 8)
        store(pa(prev), next)
        store(pa(next) + 8, prev)
        store(node, 0)
        store(node + 8, 0)
    }

    // MARK: buddy allocator

    /// `__find_buddy_nocheck`.
    @inlinable
    func buddyNoCheck(_ pfn: UInt64, _ order: Int) -> UInt64? {
        let addr = (pfn << 12) ^ (UInt64(0x1000) << UInt64(order))
        guard addr >= rangeStart.rawValue, addr < rangeEnd.rawValue else { return nil }
        return addr >> 12
    }

    /// `__find_buddy_avail`.
    @inlinable
    func buddyAvail(_ pfn: UInt64, _ order: Int) -> UInt64? {
        guard let b = buddyNoCheck(pfn, order), vmemmap.order(b) == UInt16(order), vmemmap.refcount(b) == 0 else {
            return nil
        }
        return b
    }

    /// `__hyp_attach_page`: zero the block, coalesce with free buddies (pages inside the pool only), and add
    /// the result at the tail of its order's list.
    func attach(_ pfn: UInt64) {
        var p = pfn
        var order = Int(vmemmap.order(p))
        let phys = p << 12
        try? mem.zero(PhysAddr(phys), count: UInt64(0x1000) << UInt64(order))
        if phys >= rangeStart.rawValue && phys < rangeEnd.rawValue {
            vmemmap.setOrder(p, vmemmap.layout.noOrder)
            while order + 1 <= maxOrder {
                guard let buddy = buddyAvail(p, order) else { break }
                removeFromList(buddy)
                vmemmap.setOrder(buddy, vmemmap.layout.noOrder)
                p = min(p, buddy)
                order += 1
            }
        }
        vmemmap.setOrder(p, UInt16(order))
        addToList(p, order)
    }

    /// `__hyp_extract_page`: take `pfn` off its list and split it down to `order`, adding each upper half to
    /// the free list of its order.
    func extract(_ pfn: UInt64, _ order: Int) {
        removeFromList(pfn)
        while Int(vmemmap.order(pfn)) > order {
            let o = Int(vmemmap.order(pfn)) - 1
            vmemmap.setOrder(pfn, UInt16(o))
            guard let buddy = buddyNoCheck(pfn, o) else { return }
            vmemmap.setOrder(buddy, UInt16(o))
            addToList(buddy, o)
        }
    }

    /// `hyp_set_page_refcounted` (`BUG_ON(p->refcount)`).
    func setRefcounted(_ pfn: UInt64) {
        if vmemmap.refcount(pfn) != 0 { bugs += 1 }
        vmemmap.setRefcount(pfn, 1)
    }

    /// `__hyp_put_page`: drop a reference, attach the page at zero.
    func putPFN(_ pfn: UInt64) {
        let rc = vmemmap.refcount(pfn)
        guard rc > 0 else {
            bugs += 1
            return
        }
        vmemmap.setRefcount(pfn, rc - 1)
        if rc == 1 { attach(pfn) }
    }

    /// `hyp_alloc_pages(pool, order)`: the first block of the lowest non-empty order at or above `order`,
    /// split down; nil if none (the kernel's NULL).
    public func allocPages(order: Int) -> PhysAddr? {
        var i = order
        while i <= maxOrder && listEmpty(i) { i += 1 }
        guard i <= maxOrder else { return nil }
        let p = pa(load(head(i))) >> 12
        extract(p, order)
        setRefcounted(p)
        return PhysAddr(p << 12)
    }

    /// `hyp_split_page`: turn an order-n allocation into 2^n order-0 pages, each with one reference.
    public func splitPage(_ page: PhysAddr) {
        let p = page.rawValue >> 12
        let order = Int(vmemmap.order(p))
        vmemmap.setOrder(p, 0)
        guard order > 0 else { return }
        for i in 1..<(UInt64(1) << UInt64(order)) {
            vmemmap.setOrder(p + i, 0)
            setRefcounted(p + i)
        }
    }

    /// The free blocks of `order`, in list order (first is allocated next).
    public func freeList(order: Int) -> [PhysAddr] {
        guard order <= maxOrder else { return [] }
        var out: [PhysAddr] = []
        var n = load(head(order))
        while n != va(head(order)) && out.count < 1 << 22 {
            out.append(PhysAddr(pa(n)))
            n = load(pa(n))
        }
        return out
    }

    // MARK: kvm_pgtable_mm_ops

    /// `zalloc_page`: `hyp_alloc_pages(pool, 0)`, else (guest pools) a page popped from the memcache, zeroed,
    /// with refcount 1 and order 0 (`guest_s2_zalloc_page`).
    public func zallocPage() throws(MemError) -> PhysAddr {
        if let p = allocPages(order: 0) { return p }
        if var mc = memcache, let p = mc.pop(mem: mem) {
            memcache = mc
            try mem.zero(p, count: 0x1000)
            vmemmap.setRefcount(p.rawValue >> 12, 1)
            vmemmap.setOrder(p.rawValue >> 12, 0)
            return p
        }
        throw .outOfPages(pages: 1)
    }

    /// `zalloc_pages_exact` (`host_s2_zalloc_pages_exact`, `guest_s2_zalloc_pages_exact`):
    /// `hyp_alloc_pages(get_order(size))` then `hyp_split_page`.
    public func zallocPagesExact(_ size: UInt64) throws(MemError) -> PhysAddr {
        let order = Self.getOrder(size)
        guard let p = allocPages(order: order) else { throw .outOfPages(pages: 1 << order) }
        splitPage(p)
        return p
    }

    /// `free_pages_exact` (`guest_s2_free_pages_exact`): one `hyp_put_page` per page.
    public func freePagesExact(_ address: PhysAddr, size: UInt64) {
        let n = UInt64(1) << UInt64(Self.getOrder(size))
        for i in 0..<n { putPFN((address.rawValue >> 12) + i) }
    }

    /// `get_page` (`hyp_get_page`; `BUG_ON(refcount == USHRT_MAX)`).
    public func getPage(_ address: PhysAddr) {
        let p = address.rawValue >> 12
        let rc = vmemmap.refcount(p)
        guard rc < UInt16.max else {
            bugs += 1
            return
        }
        vmemmap.setRefcount(p, rc + 1)
    }

    /// `put_page` (`hyp_put_page`).
    public func putPage(_ address: PhysAddr) { putPFN(address.rawValue >> 12) }

    /// `page_count` (`hyp_page_count`).
    public func pageCount(_ address: PhysAddr) -> Int { Int(vmemmap.refcount(address.rawValue >> 12)) }
}
