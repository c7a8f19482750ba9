import Mem

/// A stack of pages the host gave the hypervisor for a guest's stage-2 tables (`struct kvm_hyp_memcache`):
/// the head's physical address and a count; each page holds the physical address of the next in its first
/// 8 bytes (`push_hyp_memcache`, `pop_hyp_memcache`).
public struct HypMemcache: Sendable, Equatable {
    /// `head`: the top page, 0 when empty.
    public private(set) var head: UInt64 = 0
    /// `nr_pages`.
    public private(set) var count: Int = 0

    public init() {}

    /// `push_hyp_memcache`: `*page = head; head = page`.
    public mutating func push(_ page: PhysAddr, mem: PhysMem) throws(MemError) {
        try mem.write64(page, head)
        head = page.rawValue
        count += 1
    }

    /// `pop_hyp_memcache`: the top page (nil when empty); `head = *page`.
    public mutating func pop(mem: PhysMem) -> PhysAddr? {
        guard count > 0, let next = try? mem.read64(PhysAddr(head)) else { return nil }
        let page = PhysAddr(head)
        head = next
        count -= 1
        return page
    }
}
