#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Errors of the emulated physical memory and its page allocator.
///
/// Every operation that fails with one of these leaves memory unchanged.
public enum MemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An access of `size` bytes at `address` touches memory that no region backs
    /// (on hardware: an external abort; in the kernel: an address outside the linear map).
    case outOfRange(address: PhysAddr, size: UInt64)
    /// A new region `[base, base+size)` overlaps the existing region starting at `existing`.
    case overlappingRegions(base: PhysAddr, size: UInt64, existing: PhysAddr)
    /// A region must have a non-zero size that is a multiple of 4 KiB, start 4 KiB aligned, not wrap, and be
    /// no larger than the host can map (`Int.max` bytes); the message says which rule the range breaks.
    case invalidRegion(base: PhysAddr, size: UInt64)
    /// The host refused to map backing storage (`mmap`, `open` or `ftruncate` failed with `errno`).
    case backingFailed(operation: String, errno: Int32)
    /// The page allocator has no free run of `pages` pages (the kernel's `-ENOMEM` from `zalloc_page`).
    case outOfPages(pages: Int)
    /// A page allocator pool must be page aligned, inside backed memory and hold at least one page.
    case invalidPool(base: PhysAddr, size: UInt64)
    /// `get_page`/`put_page`/`free` named a page that the allocator does not hand out, or that is free.
    case notAllocated(PhysAddr)

    public var description: String {
        switch self {
        case .outOfRange(let a, let s):
            return "physical access of \(s) bytes at \(a) is outside backed memory"
        case .overlappingRegions(let b, let s, let e):
            return "region \(b)+0x\(String(s, radix: 16)) overlaps the region at \(e)"
        case .invalidRegion(let b, let s):
            let why: String
            if s == 0 {
                why = "is empty"
            } else if b.rawValue & 0xfff != 0 || s & 0xfff != 0 {
                why = "is not 4 KiB aligned (base and size must be multiples of 0x1000)"
            } else if b.rawValue > UInt64.max - s {
                why = "wraps past the end of the 64-bit address space"
            } else {
                why = "is larger than the host can map"
            }
            return "region \(b)+0x\(String(s, radix: 16)) \(why)"
        case .backingFailed(let op, let e):
            return "\(op) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .outOfPages(let n):
            return "page allocator has no free run of \(n) page(s) (-ENOMEM)"
        case .invalidPool(let b, let s):
            return "page pool \(b)+0x\(String(s, radix: 16)) is refused: it must hold at least one page of 4K, 16K"
                + " or 64K, be aligned to that page size, and lie inside one backed region"
        case .notAllocated(let a):
            return "page \(a) is not an allocated page of this pool"
        }
    }
}
