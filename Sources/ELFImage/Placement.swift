import Mem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a validated image goes into memory: the regions to add (anonymous, or mapped from the file where a
/// segment's bytes allow it), then the bytes to copy and zero. Planned without touching memory; applied all
/// or nothing.
struct Placement {
    /// A region to add to memory.
    struct NewRegion: Equatable {
        let range: Range<UInt64>
        let backing: MemRegion.Backing
    }

    /// The granule regions are made of (PhysMem's 4 KiB pages).
    static let page: UInt64 = 4096
    /// File-backed regions start and end on this boundary, so that no page table (at most 16 concatenated
    /// 64 KiB tables, 1 MiB) straddles a file-backed region and its anonymous neighbour.
    static let mapAlignment: UInt64 = 2 << 20

    let segments: [LoadedImage.Segment]
    /// Regions `mem` had before the load.
    let existing: [Range<UInt64>]
    /// Regions the load adds, in address order.
    let newRegions: [NewRegion]

    /// Plans the placement of `contents` into `mem`.
    ///
    /// With `createRegions`, every 4 KiB page a segment touches that no region backs gets a new region: pages
    /// holding only file bytes of one segment, 2 MiB aligned and with the file offset congruent to the
    /// address, are mapped from the file copy-on-write (`MAP_PRIVATE`, read lazily); the rest is anonymous.
    /// Without it, every segment byte must already be backed.
    /// - Throws: `notBacked` naming the first segment with an unbacked byte.
    init(_ contents: ImageContents, file: ELFFile, mem: PhysMem, createRegions: Bool) throws(ELFImageError) {
        segments = contents.segments.filter { $0.memorySize > 0 }
        existing = mem.regions.map { $0.base.rawValue..<$0.base.rawValue + $0.size }
        guard createRegions else {
            for s in segments {
                let r = s.physicalAddress.rawValue..<s.physicalAddress.rawValue + s.memorySize
                if let hole = Self.subtract([r], existing).first {
                    throw .notBacked(file: file.name, segment: s.index, address: PhysAddr(hole.lowerBound))
                }
            }
            newRegions = []
            return
        }
        let pages = segments.map { s -> Range<UInt64> in
            let pa = s.physicalAddress.rawValue
            return Self.alignDown(pa, Self.page)..<Self.alignUp(pa + s.memorySize, Self.page)
        }
        let needed = Self.merge(joinTouching: false, pages)
        var regions: [NewRegion] = []
        for hole in Self.subtract(needed, existing) {
            var windows: [NewRegion] = []
            if let path = file.path {
                for s in segments where (s.fileOffset &- s.physicalAddress.rawValue) % Self.page == 0 {
                    let pa = s.physicalAddress.rawValue
                    let lo = Self.alignUp(max(pa, hole.lowerBound), Self.mapAlignment)
                    let hi = Self.alignDown(min(pa + s.fileSize, hole.upperBound), Self.mapAlignment)
                    guard lo < hi else { continue }
                    windows.append(
                        NewRegion(
                            range: lo..<hi, backing: .file(path: path, offset: s.fileOffset + (lo - pa), shared: false))
                    )
                }
            }
            var at = hole.lowerBound
            for w in windows.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
                if at < w.range.lowerBound {
                    regions.append(NewRegion(range: at..<w.range.lowerBound, backing: .anonymous))
                }
                regions.append(w)
                at = w.range.upperBound
            }
            if at < hole.upperBound { regions.append(NewRegion(range: at..<hole.upperBound, backing: .anonymous)) }
        }
        newRegions = regions
    }

    /// Adds the regions, then copies every segment's file bytes that are not mapped from the file and zeroes
    /// its tail where it lands in memory that was already there (new anonymous memory is zero).
    ///
    /// On any failure every region added is removed and every pre-existing byte written is restored.
    /// - Throws: `memory` if a region cannot be added; `readFailed` if the file cannot be read.
    func apply(file: ELFFile, mem: PhysMem) throws(ELFImageError) {
        var added: [PhysAddr] = []
        var saved: [(PhysAddr, [UInt8])] = []
        func rollback() {
            for (address, bytes) in saved { try? mem.write(address, bytes: bytes) }
            for base in added { mem.removeRegion(base: base) }
        }
        do throws(ELFImageError) {
            for r in newRegions {
                do {
                    try mem.addRegion(
                        base: PhysAddr(r.range.lowerBound), size: UInt64(r.range.count), backing: r.backing)
                } catch { throw .memory(file: file.name, error) }
                added.append(PhysAddr(r.range.lowerBound))
            }
            for s in segments {
                let whole = s.physicalAddress.rawValue..<s.physicalAddress.rawValue + s.memorySize
                for old in Self.intersect(whole, existing) {
                    do {
                        saved.append(
                            (PhysAddr(old.lowerBound), try mem.read(PhysAddr(old.lowerBound), count: old.count)))
                    } catch { throw .memory(file: file.name, error) }
                }
            }
            try copySegments(file: file, mem: mem)
        } catch {
            rollback()
            throw error
        }
    }

    /// Copies the file bytes and zeroes the tails (see `apply`).
    private func copySegments(file: ELFFile, mem: PhysMem) throws(ELFImageError) {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return }
        let mapped = newRegions.filter { $0.backing != .anonymous }.map(\.range)
        for s in segments {
            let pa = s.physicalAddress.rawValue
            for part in Self.subtract([pa..<pa + s.fileSize], mapped) {
                var at = part.lowerBound
                while at < part.upperBound {
                    let n = Int(min(UInt64(chunk), part.upperBound - at))
                    try file.copy(offset: s.fileOffset + (at - pa), count: n, to: base)
                    let bytes = UnsafeRawBufferPointer(start: base, count: n)
                    if !Self.intersect(at..<at + UInt64(n), existing).isEmpty || !Self.isZero(bytes) {
                        do { try mem.write(PhysAddr(at), bytes: bytes) } catch { throw .memory(file: file.name, error) }
                    }
                    at += UInt64(n)
                }
            }
            for old in Self.intersect(pa + s.fileSize..<pa + s.memorySize, existing) {
                do { try mem.zero(PhysAddr(old.lowerBound), count: UInt64(old.count)) } catch {
                    throw .memory(file: file.name, error)
                }
            }
        }
    }

    /// Whether every byte is zero: the first is, and each equals the next (one `memcmp`, fast in debug builds).
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return true }
        return bytes[0] == 0 && memcmp(p, p + 1, bytes.count - 1) == 0
    }

    static func alignDown(_ v: UInt64, _ a: UInt64) -> UInt64 { v & ~(a - 1) }
    static func alignUp(_ v: UInt64, _ a: UInt64) -> UInt64 { (v + a - 1) & ~(a - 1) }

    /// Sorted ranges with overlapping ones joined, and touching ones too if `joinTouching`.
    ///
    /// Loading keeps segments that merely touch as separate regions, so that saving and loading again gives
    /// back the same regions.
    static func merge(joinTouching: Bool = true, _ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !r.isEmpty {
            if let last = out.last, r.lowerBound < last.upperBound || (joinTouching && r.lowerBound == last.upperBound)
            {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// The parts of `ranges` (disjoint) that no range of `cut` covers, in address order.
    static func subtract(_ ranges: [Range<UInt64>], _ cut: [Range<UInt64>]) -> [Range<UInt64>] {
        let cuts = merge(cut)
        var out: [Range<UInt64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            var at = r.lowerBound
            for c in cuts where c.upperBound > at && c.lowerBound < r.upperBound {
                if c.lowerBound > at { out.append(at..<c.lowerBound) }
                at = max(at, c.upperBound)
            }
            if at < r.upperBound { out.append(at..<r.upperBound) }
        }
        return out
    }

    /// The parts of `range` that `others` cover.
    static func intersect(_ range: Range<UInt64>, _ others: [Range<UInt64>]) -> [Range<UInt64>] {
        others.compactMap { o in
            let lo = max(range.lowerBound, o.lowerBound)
            let hi = min(range.upperBound, o.upperBound)
            return lo < hi ? lo..<hi : nil
        }
    }
}
