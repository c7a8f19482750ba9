/// The memory seam of the table code, modelled on the kernel's `struct kvm_pgtable_mm_ops`.
///
/// Table pages are named by their physical address (the emulator's `phys_to_virt` is the identity),
/// and their size is the translation granule (`PAGE_SIZE` of the kernel the tables are built for).
/// Conformers are concrete classes; the table code is generic over them and `@inlinable`, so calls are
/// specialised and never go through an existential.
public protocol PgtableMMOps: AnyObject {
    /// The memory the table pages live in.
    var mem: PhysMem { get }
    /// log2 of the page (granule) size the pool hands out.
    var pageShift: Int { get }
    /// `zalloc_page`: one zeroed page with a reference count of 1.
    func zallocPage() throws(MemError) -> PhysAddr
    /// `zalloc_pages_exact`: `size` bytes of zeroed, contiguous pages, each with a reference count of 1,
    /// aligned to the power of two at or above `size` (what concatenated stage-2 roots need).
    func zallocPagesExact(_ size: UInt64) throws(MemError) -> PhysAddr
    /// `free_pages_exact`: returns the pages of a `zallocPagesExact` allocation, whatever their counts.
    func freePagesExact(_ address: PhysAddr, size: UInt64)
    /// `get_page`: takes a reference on the page holding `address`.
    func getPage(_ address: PhysAddr)
    /// `put_page`: drops a reference on the page holding `address`; the page is freed at zero.
    func putPage(_ address: PhysAddr)
    /// `page_count`: the reference count of the page holding `address` (0 for pages it does not track).
    func pageCount(_ address: PhysAddr) -> Int
}
