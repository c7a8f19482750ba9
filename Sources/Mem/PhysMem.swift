#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Emulated physical memory: a sparse set of regions, each backed by an `mmap`'d buffer.
///
/// Models what the kernel reaches through its linear map (`phys_to_virt`/`hyp_phys_to_virt`): memory is
/// only where a region backs it; any access elsewhere is a typed `MemError.outOfRange`, never a crash.
/// Anonymous regions use `MAP_NORESERVE`, so a 1 TiB span costs only the pages that are touched.
/// Loads and stores are 64-bit little-endian, as the architecture's table walker sees descriptors.
///
/// The lookup tables are kept in manually managed storage so that the hot paths (`read64`, `write64`,
/// `table`) do not retain or release anything.
public final class PhysMem: @unchecked Sendable {
    /// One backed range as the hot paths see it.
    @usableFromInline
    struct Slot {
        @usableFromInline var base: UInt64
        @usableFromInline var size: UInt64
        @usableFromInline var host: UnsafeMutableRawPointer
    }

    // Only `addRegion`/`removeRegion` change these; a region change concurrent with an access is already
    // a caller bug (the class is `@unchecked Sendable`), so the hot paths skip the dynamic exclusivity check.
    @exclusivity(unchecked) @usableFromInline var slots: UnsafeMutablePointer<Slot>
    @exclusivity(unchecked) @usableFromInline var slotCount: Int
    private var slotCapacity: Int
    private var info: [MemRegion] = []

    /// Empty physical memory: every access fails until a region is added.
    public init() {
        slotCapacity = 8
        slots = .allocate(capacity: slotCapacity)
        slotCount = 0
    }

    /// Physical memory with one anonymous region `[base, base+size)`.
    public convenience init(base: PhysAddr, size: UInt64) throws(MemError) {
        self.init()
        try addRegion(base: base, size: size)
    }

    /// Unmaps every region; shared file-backed regions are flushed to their files first (`msync`).
    deinit {
        for i in 0..<slotCount {
            if case .file(_, _, true) = info[i].backing { _ = msync(slots[i].host, Int(slots[i].size), MS_SYNC) }
            _ = munmap(slots[i].host, Int(slots[i].size))
        }
        slots.deallocate()
    }

    /// The backed regions, sorted by base address.
    public var regions: [MemRegion] { info }

    /// Adds a region `[base, base+size)` backed as `backing` says.
    ///
    /// - Throws: `MemError.invalidRegion` for an empty, unaligned (4 KiB) or wrapping range,
    ///   `MemError.overlappingRegions` if it overlaps an existing region, `MemError.backingFailed`
    ///   if the host cannot map it. On error nothing changes.
    public func addRegion(base: PhysAddr, size: UInt64, backing: MemRegion.Backing = .anonymous) throws(MemError) {
        let b = base.rawValue
        guard size > 0, b & 0xfff == 0, size & 0xfff == 0, b <= UInt64.max - size, size <= UInt64(Int.max) else {
            throw .invalidRegion(base: base, size: size)
        }
        for r in info where b < r.base.rawValue + r.size && r.base.rawValue < b + size {
            throw .overlappingRegions(base: base, size: size, existing: r.base)
        }
        let host = try Self.map(size: size, backing: backing)
        if slotCount == slotCapacity {
            let bigger = UnsafeMutablePointer<Slot>.allocate(capacity: slotCapacity * 2)
            bigger.moveInitialize(from: slots, count: slotCount)
            slots.deallocate()
            slots = bigger
            slotCapacity *= 2
        }
        let at = info.firstIndex { $0.base.rawValue > b } ?? info.count
        info.insert(MemRegion(base: base, size: size, backing: backing), at: at)
        (slots + at + 1).moveInitialize(from: slots + at, count: slotCount - at)
        (slots + at).initialize(to: Slot(base: b, size: size, host: host))
        slotCount += 1
    }

    /// Removes the region that starts at `base`, unmapping its backing (file-backed bytes are flushed first).
    /// - Returns: whether a region started there.
    @discardableResult
    public func removeRegion(base: PhysAddr) -> Bool {
        guard let at = info.firstIndex(where: { $0.base == base }) else { return false }
        let s = slots[at]
        if case .file(_, _, true) = info[at].backing { _ = msync(s.host, Int(s.size), MS_SYNC) }
        _ = munmap(s.host, Int(s.size))
        (slots + at).moveInitialize(from: slots + at + 1, count: slotCount - at - 1)
        slotCount -= 1
        info.remove(at: at)
        return true
    }

    /// Flushes every shared file-backed region to its file (`msync(MS_SYNC)`).
    public func flush() throws(MemError) {
        for (i, r) in info.enumerated() {
            guard case .file(_, _, true) = r.backing else { continue }
            if msync(slots[i].host, Int(slots[i].size), MS_SYNC) != 0 {
                throw .backingFailed(operation: "msync \(r.base)", errno: errno)
            }
        }
    }

    /// Whether `[address, address+size)` lies entirely inside one backed region.
    @inlinable
    public func contains(_ address: PhysAddr, size: UInt64 = 1) -> Bool {
        slot(address.rawValue, size) != nil
    }

    @inlinable
    func slot(_ a: UInt64, _ size: UInt64) -> UnsafeMutableRawPointer? {
        var i = 0
        while i < slotCount {
            let s = slots[i]
            let off = a &- s.base
            // off < s.size <= Int.max (`addRegion` checks the size), so the conversion cannot trap.
            if off < s.size && size <= s.size &- off { return s.host + Int(bitPattern: UInt(off)) }
            i &+= 1
        }
        return nil
    }

    /// A host pointer to `size` bytes at `address`, checked once for the whole range.
    ///
    /// This is the seam the table walkers use: they check a whole table once and then read its
    /// descriptors without further checks (the kernel's `phys_to_virt` on a table page).
    /// - Throws: `MemError.outOfRange` if the range is not inside one backed region.
    @inlinable
    public func pointer(_ address: PhysAddr, size: UInt64) throws(MemError) -> UnsafeMutableRawPointer {
        guard let p = slot(address.rawValue, size) else { throw .outOfRange(address: address, size: size) }
        return p
    }

    /// The 64-bit little-endian word at `address` (any alignment).
    /// - Throws: `MemError.outOfRange` outside backed memory.
    @inlinable
    public func read64(_ address: PhysAddr) throws(MemError) -> UInt64 {
        let p = try pointer(address, size: 8)
        return UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    }

    /// Stores a 64-bit little-endian word at `address` (any alignment).
    /// - Throws: `MemError.outOfRange` outside backed memory; nothing is written then.
    @inlinable
    public func write64(_ address: PhysAddr, _ value: UInt64) throws(MemError) {
        let p = try pointer(address, size: 8)
        p.storeBytes(of: value.littleEndian, as: UInt64.self)
    }

    /// Copies `bytes` into memory at `address`; the range may span adjacent regions.
    /// - Throws: `MemError.outOfRange` if any byte is unbacked; nothing is written then.
    public func write(_ address: PhysAddr, bytes: UnsafeRawBufferPointer) throws(MemError) {
        let chunks = try chunks(address, UInt64(bytes.count))
        var done = 0
        for (p, n) in chunks {
            if let src = bytes.baseAddress { p.copyMemory(from: src + done, byteCount: n) }
            done += n
        }
    }

    /// Copies `bytes` into memory at `address`.
    public func write(_ address: PhysAddr, bytes: [UInt8]) throws(MemError) {
        let r: Result<Void, MemError> = bytes.withUnsafeBytes { buf in
            do throws(MemError) { try write(address, bytes: buf) } catch { return .failure(error) }
            return .success(())
        }
        try r.get()
    }

    /// `count` bytes read from `address`; the range may span adjacent regions.
    /// - Throws: `MemError.outOfRange` if any byte is unbacked, or for a negative `count` (a range that
    ///   wraps past the end of the address space).
    public func read(_ address: PhysAddr, count: Int) throws(MemError) -> [UInt8] {
        guard count >= 0 else { throw .outOfRange(address: address, size: UInt64(bitPattern: Int64(count))) }
        let chunks = try chunks(address, UInt64(count))
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { dst in
            var done = 0
            for (p, n) in chunks {
                (dst.baseAddress! + done).copyMemory(from: p, byteCount: n)
                done += n
            }
        }
        return out
    }

    /// Sets `count` bytes at `address` to zero.
    public func zero(_ address: PhysAddr, count: UInt64) throws(MemError) {
        // A range inside one region (every page the pool zeroes) needs no chunk list, so no allocation.
        if count > 0, let p = slot(address.rawValue, count) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: Int(count))
            return
        }
        for (p, n) in try chunks(address, count) { p.initializeMemory(as: UInt8.self, repeating: 0, count: n) }
    }

    /// Splits `[address, address+count)` into host chunks, one per region it crosses.
    private func chunks(_ address: PhysAddr, _ count: UInt64) throws(MemError) -> [(UnsafeMutableRawPointer, Int)] {
        guard count > 0 else { return [] }
        guard address.rawValue <= UInt64.max - (count - 1) else { throw .outOfRange(address: address, size: count) }
        var out: [(UnsafeMutableRawPointer, Int)] = []
        var a = address.rawValue
        var left = count
        while left > 0 {
            var found = false
            for i in 0..<slotCount {
                let s = slots[i]
                let off = a &- s.base
                guard off < s.size else { continue }
                let n = min(left, s.size - off)
                out.append((s.host + Int(off), Int(n)))
                a &+= n
                left -= n
                found = true
                break
            }
            if !found { throw .outOfRange(address: address, size: count) }
        }
        return out
    }

    private static func map(size: UInt64, backing: MemRegion.Backing) throws(MemError) -> UnsafeMutableRawPointer {
        let len = Int(size)
        switch backing {
        case .anonymous:
            let p = mmap(nil, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            guard let p, p != MAP_FAILED else { throw .backingFailed(operation: "mmap anonymous", errno: errno) }
            return p
        case .file(let path, let offset, let shared):
            let fd = open(path, shared ? O_RDWR | O_CREAT : O_RDONLY, 0o644)
            guard fd >= 0 else { throw .backingFailed(operation: "open \(path)", errno: errno) }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw .backingFailed(operation: "fstat \(path)", errno: errno) }
            if shared && UInt64(st.st_size) < offset + size {
                guard ftruncate(fd, off_t(offset + size)) == 0 else {
                    throw .backingFailed(operation: "ftruncate \(path)", errno: errno)
                }
            }
            let flags = shared ? MAP_SHARED : MAP_PRIVATE | MAP_NORESERVE
            let p = mmap(nil, len, PROT_READ | PROT_WRITE, flags, fd, off_t(offset))
            guard let p, p != MAP_FAILED else { throw .backingFailed(operation: "mmap \(path)", errno: errno) }
            return p
        }
    }
}
