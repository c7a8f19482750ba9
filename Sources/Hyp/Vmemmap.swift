import Mem

/// The hypervisor's vmemmap (`hyp_vmemmap`): one `struct hyp_page` per PFN of memory, stored in emulated
/// memory with the layout of the kernel version modelled.
///
/// Only memory (the RAM regions of the memory map) has entries, as `hyp_back_vmemmap` backs the vmemmap only
/// for `hyp_memory` regions. Each region's entries are contiguous in emulated physical memory from its
/// backing address; entries of PFN `p` of a region starting at PFN `s` sit at `backing + (p - s) * size`.
/// The backing is sized for the largest layout (8 bytes a page), so a live machine can be migrated from the
/// 4-byte v6.13 layout to the 8-byte v6.14 one in place.
public final class Vmemmap: @unchecked Sendable {
    /// One RAM region's entries.
    @usableFromInline
    struct Span {
        @usableFromInline let startPFN: UInt64
        @usableFromInline let endPFN: UInt64
        @usableFromInline let backing: PhysAddr
        @usableFromInline let host: UnsafeMutableRawPointer
    }

    public let mem: PhysMem
    // Changed only by `relayout`; concurrent use would be a caller bug (the class is `@unchecked Sendable`),
    // so the per-page accessors skip the dynamic exclusivity check (the equivalence checker's full
    // comparison reads them for every page).
    /// The entry layout now in use.
    @exclusivity(unchecked) public private(set) var layout: HypPageLayout
    @exclusivity(unchecked) @usableFromInline var spans: [Span]
    @exclusivity(unchecked) @usableFromInline var entrySize: Int

    /// Bytes of backing a region of `pages` pages needs (8 bytes a page, rounded up to whole 4 KiB pages).
    public static func backingSize(pages: UInt64) -> UInt64 { (pages * 8 + 0xfff) & ~0xfff }

    /// A zeroed vmemmap for `regions` (each `(base, size)` of RAM), entries at `backings[i]` for region `i`.
    /// - Throws: `HypError.memory` if a backing is not inside emulated memory.
    public init(mem: PhysMem, layout: HypPageLayout, regions: [(base: PhysAddr, size: UInt64)], backings: [PhysAddr])
        throws(HypError)
    {
        self.mem = mem
        self.layout = layout
        self.entrySize = layout.size
        var spans: [Span] = []
        for (r, b) in zip(regions, backings) {
            let pages = r.size >> 12
            let size = Self.backingSize(pages: pages)
            let host: UnsafeMutableRawPointer
            do { host = try mem.pointer(b, size: size) } catch { throw .memory(error) }
            host.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
            spans.append(
                Span(startPFN: r.base.rawValue >> 12, endPFN: (r.base.rawValue >> 12) + pages, backing: b, host: host))
        }
        self.spans = spans
    }

    /// The host pointer to PFN `pfn`'s entry, or nil if `pfn` is not memory.
    @inlinable
    func entry(_ pfn: UInt64) -> UnsafeMutableRawPointer? {
        for s in spans where pfn >= s.startPFN && pfn < s.endPFN {
            return s.host + Int(pfn - s.startPFN) * entrySize
        }
        return nil
    }

    /// The physical address of PFN `pfn`'s entry (`hyp_phys_to_page`), or nil if it is not memory.
    public func entryAddress(_ pfn: UInt64) -> PhysAddr? {
        for s in spans where pfn >= s.startPFN && pfn < s.endPFN {
            return s.backing + (pfn - s.startPFN) * UInt64(entrySize)
        }
        return nil
    }

    /// Whether PFN `pfn` has an entry.
    @inlinable
    public func covers(_ pfn: UInt64) -> Bool { entry(pfn) != nil }

    /// `hyp_page::refcount` (0 for a PFN without entry).
    @inlinable
    public func refcount(_ pfn: UInt64) -> UInt16 {
        guard let e = entry(pfn) else { return 0 }
        return UInt16(littleEndian: e.loadUnaligned(as: UInt16.self))
    }

    @inlinable
    public func setRefcount(_ pfn: UInt64, _ v: UInt16) {
        entry(pfn)?.storeBytes(of: v.littleEndian, as: UInt16.self)
    }

    /// `hyp_page::order` (widened; `HYP_NO_ORDER` is `layout.noOrder`).
    @inlinable
    public func order(_ pfn: UInt64) -> UInt16 {
        guard let e = entry(pfn) else { return 0 }
        if layout.orderBytes == 2 {
            return UInt16(littleEndian: (e + HypPageLayout.orderOffset).loadUnaligned(as: UInt16.self))
        }
        return UInt16((e + HypPageLayout.orderOffset).load(as: UInt8.self))
    }

    @inlinable
    public func setOrder(_ pfn: UInt64, _ v: UInt16) {
        guard let e = entry(pfn) else { return }
        if layout.orderBytes == 2 {
            (e + HypPageLayout.orderOffset).storeBytes(of: v.littleEndian, as: UInt16.self)
        } else {
            (e + HypPageLayout.orderOffset).storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
        }
    }

    /// `hyp_page::host_state` as stored (the enum value); nil if the layout has no such field or `pfn` is
    /// not memory.
    @inlinable
    public func hostState(_ pfn: UInt64) -> UInt8? {
        guard layout.hasHostState, let e = entry(pfn) else { return nil }
        return (e + HypPageLayout.hostStateOffset).load(as: UInt8.self)
    }

    @inlinable
    public func setHostState(_ pfn: UInt64, _ v: UInt8) {
        guard layout.hasHostState, let e = entry(pfn) else { return }
        (e + HypPageLayout.hostStateOffset).storeBytes(of: v, as: UInt8.self)
    }

    /// Sets `hyp_page::host_state` of every PFN of `pfns` that has an entry: one span lookup per run of
    /// pages, for the migration's whole-leaf runs.
    @inlinable
    public func setHostState(_ pfns: Range<UInt64>, _ v: UInt8) {
        guard layout.hasHostState else { return }
        let size = entrySize
        for s in spans {
            let lo = max(pfns.lowerBound, s.startPFN)
            let hi = min(pfns.upperBound, s.endPFN)
            guard lo < hi else { continue }
            var e = s.host + Int(lo - s.startPFN) * size + HypPageLayout.hostStateOffset
            for _ in lo..<hi {
                e.storeBytes(of: v, as: UInt8.self)
                e += size
            }
        }
    }

    /// `hyp_page::host_share_guest_count`; nil if the layout has no such field or `pfn` is not memory.
    @inlinable
    public func shareGuestCount(_ pfn: UInt64) -> UInt32? {
        guard layout.hasShareGuestCount, let e = entry(pfn) else { return nil }
        return UInt32(littleEndian: (e + HypPageLayout.shareGuestCountOffset).loadUnaligned(as: UInt32.self))
    }

    @inlinable
    public func setShareGuestCount(_ pfn: UInt64, _ v: UInt32) {
        guard layout.hasShareGuestCount, let e = entry(pfn) else { return }
        (e + HypPageLayout.shareGuestCountOffset).storeBytes(of: v.littleEndian, as: UInt32.self)
    }

    /// The raw bytes of PFN `pfn`'s entry.
    public func bytes(_ pfn: UInt64) -> [UInt8] {
        guard let e = entry(pfn) else { return [] }
        return (0..<entrySize).map { e.load(fromByteOffset: $0, as: UInt8.self) }
    }

    /// Every PFN with an entry, lowest first.
    public var pfnRanges: [Range<UInt64>] { spans.map { $0.startPFN..<$0.endPFN } }

    /// Rewrites every entry into `newLayout` in place, keeping refcount and order (`HYP_NO_ORDER` stays
    /// `HYP_NO_ORDER`); new fields start at zero. Entries are moved from the highest PFN down so a larger
    /// layout never overwrites an entry not yet read.
    public func relayout(to newLayout: HypPageLayout) {
        let old = layout
        for s in spans {
            let n = Int(s.endPFN - s.startPFN)
            func move(_ i: Int) {
                let e = s.host + i * old.size
                let rc = UInt16(littleEndian: e.loadUnaligned(as: UInt16.self))
                var o: UInt16 =
                    old.orderBytes == 2
                    ? UInt16(littleEndian: (e + 2).loadUnaligned(as: UInt16.self))
                    : UInt16((e + 2).load(as: UInt8.self))
                if o == old.noOrder { o = newLayout.noOrder }
                let d = s.host + i * newLayout.size
                // refcount at 0, order at 2 (1 or 2 bytes), zeros after it: one little-endian word.
                let word = UInt64(rc) | UInt64(newLayout.orderBytes == 2 ? o : o & 0xff) << 16
                switch newLayout.size {
                case 8: d.storeBytes(of: word.littleEndian, as: UInt64.self)
                case 4: d.storeBytes(of: UInt32(truncatingIfNeeded: word).littleEndian, as: UInt32.self)
                default:
                    d.initializeMemory(as: UInt8.self, repeating: 0, count: newLayout.size)
                    d.storeBytes(of: UInt32(truncatingIfNeeded: word).littleEndian, as: UInt32.self)
                }
            }
            if newLayout.size >= old.size {
                var i = n
                while i > 0 {
                    i -= 1
                    move(i)
                }
            } else {
                for i in 0..<n { move(i) }
            }
            if newLayout.size < old.size {
                let tail = s.host + n * newLayout.size
                tail.initializeMemory(as: UInt8.self, repeating: 0, count: n * (old.size - newLayout.size))
            }
        }
        layout = newLayout
        entrySize = newLayout.size
    }
}
