import Mem
import Pgtable

/// A pKVM hypervisor over emulated memory: the memory map, the hyp vmemmap, the hyp and host-stage-2
/// page pools, the hyp stage-1 (`pkvm_pgtable`), the host stage-2 identity map (`host_mmu.pgt`) and the
/// guests, with the ownership transitions of `arch/arm64/kvm/hyp/nvhe/mem_protect.c` as methods.
///
/// Every transition returns what the kernel function returns: 0, a negative errno, or (for
/// `hostTestClearYoungGuest`) 0/1. Table bytes, vmemmap bytes and pool free lists are left as the modelled
/// kernel version leaves them; the host's page state lives where `storage` says.
///
/// The carve-out (`hyp_mem_base`) at the top of RAM holds, in order: one page of pool list heads, the
/// vmemmap backing (8 bytes per RAM page), the hyp stage-1 pool (`hpool`), and the host stage-2 pool
/// (`host_s2_pool`), sized as `hyp_s1_pgtable_pages()` / `host_s2_pgtable_pages()` size them.
public final class PKVMMachine: @unchecked Sendable {
    public let config: PKVMConfig
    public let mem: PhysMem
    public let memoryMap: MemoryMap
    /// Where the host's state lives now (a migration changes it).
    public internal(set) var storage: HostStateStorage
    /// The state encoding in use.
    public internal(set) var layout: PageStateLayout
    public let vmemmap: Vmemmap
    /// `hpool`: pages of the hyp stage-1.
    public let hypPool: HypPool
    /// `host_s2_pool`: pages of the host stage-2.
    public let hostPool: HypPool
    /// `pkvm_pgtable`.
    public let hyp: HypTable<HypPool>
    /// `host_mmu.pgt` (`KVM_HOST_S2_FLAGS` = NOFWB | IDMAP, `host_stage2_force_pte_cb`).
    public let host: Stage2Table<HypPool>
    /// The guests, by `handle - HANDLE_OFFSET`.
    public internal(set) var guests: [Guest] = []
    /// The carve-out `[base, base+size)`.
    public let carveOut: MemoryMap.Region
    /// `host_share_guest_count` for `pte` storage, which has no vmemmap field for it (what the series would
    /// have needed without the move): PFN → count.
    var pteShareCounts: [UInt64: UInt32] = [:]
    /// Ghost state for the invariants: pages the host shared with FF-A, with a count.
    public internal(set) var ffaShared: [UInt64: Int] = [:]
    /// Kernel `WARN_ON`s hit so far, and the last one's text.
    public internal(set) var warnings = 0
    public internal(set) var lastWarning = ""

    /// `PKVM_ID_HOST`, `PKVM_ID_HYP` (`enum pkvm_component_id`).
    public static let idHost: UInt8 = 0
    public static let idHyp: UInt8 = 1
    /// `PKVM_HOST_MEM_PROT` (RWX) and `PKVM_HOST_MMIO_PROT` (RW).
    public static let hostMemProt = Prot.rwx
    public static let hostMMIOProt = Prot.rw
    /// `PAGE_HYP` (RW).
    public static let pageHyp = Prot.rw
    static let page: UInt64 = 0x1000

    /// `__hyp_pgtable_max_pages`: table pages to map `pages` pages at page granularity, levels -1..3.
    public static func pgtableMaxPages(_ pages: UInt64) -> UInt64 {
        var n = pages
        var total: UInt64 = 0
        for _ in -1...3 {
            n = (n + 511) / 512
            total += n
        }
        return total
    }

    /// `__hyp_pgtable_total_pages` over `regions`.
    public static func pgtableTotalPages(_ regions: [MemoryMap.Region]) -> UInt64 {
        regions.reduce(0) { $0 + pgtableMaxPages($1.size >> 12) }
    }

    /// Builds and boots the machine: vmemmap, `hpool`, hyp stage-1 with the carve-out mapped hyp-owned page
    /// by page (`pkvm_create_mappings`), `host_s2_pool`, the host stage-2 root, and the carve-out annotated
    /// as hyp-owned in the host stage-2 (`fix_host_ownership`).
    /// - Throws: `HypError.invalidConfig` for bad regions, geometry or a carve-out that does not fit;
    ///   `HypError.memory` if backing fails.
    public init(_ config: PKVMConfig) throws(HypError) {
        self.config = config
        self.storage = config.storage
        self.layout = config.layout
        memoryMap = try MemoryMap(config.ram)
        mem = PhysMem()
        for r in memoryMap.regions {
            do { try mem.addRegion(base: PhysAddr(r.base), size: r.size) } catch { throw .memory(error) }
        }
        guard let top = memoryMap.regions.last else { throw .invalidConfig("no RAM") }
        let vmemmapBytes = memoryMap.regions.reduce(0) { $0 + Vmemmap.backingSize(pages: $1.size >> 12) }
        let hypPages = Self.pgtableTotalPages(memoryMap.regions) + 16
        let hostPages = Self.pgtableTotalPages(memoryMap.regions) + 16 + Self.pgtableMaxPages((1 << 30) >> 12)
        let size = Self.page + vmemmapBytes + (hypPages + hostPages) * Self.page
        let base = config.carveOutBase ?? ((top.end - size) & ~0xfff)
        guard memoryMap.rangeIsMemory(base, base + size), base & 0xfff == 0 else {
            throw .invalidConfig(
                "carve-out 0x\(String(base, radix: 16))+0x\(String(size, radix: 16)) not inside one RAM region")
        }
        carveOut = MemoryMap.Region(base: base, size: size)
        var backings: [PhysAddr] = []
        var at = base + Self.page
        for r in memoryMap.regions {
            backings.append(PhysAddr(at))
            at += Vmemmap.backingSize(pages: r.size >> 12)
        }
        vmemmap = try Vmemmap(
            mem: mem, layout: config.hypPageLayout, regions: memoryMap.regions.map { (PhysAddr($0.base), $0.size) },
            backings: backings)
        let hypPFN = at >> 12
        hypPool = try HypPool(
            vmemmap: vmemmap, pfn: hypPFN, pages: Int(hypPages), headsAt: PhysAddr(base),
            physVirtOffset: config.hypPhysVirtOffset)
        do {
            hyp = try HypTable(mm: hypPool, geometry: try Geometry.kernelHyp(granule: .k4, vaBits: config.hypVABits))
        } catch { throw .invalidConfig("hyp stage-1: \(error)") }
        for pa in stride(from: base, to: base + size, by: Int(Self.page)) {
            do {
                try hyp.map(pa &- config.hypPhysVirtOffset, size: Self.page, phys: pa, prot: Self.pageHyp)
            } catch { throw .outOfPages("mapping the carve-out in the hyp stage-1: \(error)") }
        }
        hostPool = try HypPool(
            vmemmap: vmemmap, pfn: hypPFN + hypPages, pages: Int(hostPages), headsAt: PhysAddr(base + 0x100),
            physVirtOffset: config.hypPhysVirtOffset)
        let map = memoryMap
        do {
            host = try Stage2Table(
                mm: hostPool, geometry: try Geometry.kernelStage2(granule: .k4, ipaBits: config.paBits),
                flags: [.noFWB, .idmap],
                forcePTE: { addr, end, prot in
                    map.rangeIsMemory(addr, end)
                        ? prot != PKVMMachine.hostMemProt : prot != PKVMMachine.hostMMIOProt
                })
        } catch { throw .invalidConfig("host stage-2: \(error)") }
        let r = hostStage2SetOwnerLocked(base, size: size, owner: Self.idHyp)
        guard r == 0 else { throw .outOfPages("fix_host_ownership: \(KernelErrno.name(r))") }
    }

    // MARK: helpers

    /// The frame number of a page-aligned address (`hyp_phys_to_pfn`), for callers that take addresses.
    /// - Throws: `HypError.unaligned` if `address` is not 4 KiB aligned (the ABI cannot express it).
    public static func pfn(ofAddress address: UInt64) throws(HypError) -> UInt64 {
        guard address & 0xfff == 0 else { throw .unaligned(address) }
        return address >> 12
    }

    /// Hyp VA of a physical address (`__hyp_va`).
    @inlinable
    public func hypVA(_ phys: UInt64) -> UInt64 { phys &- config.hypPhysVirtOffset }

    /// The guest with `handle` (`get_pkvm_hyp_vm`), nil if none.
    @inlinable
    public func guest(_ handle: UInt32) -> Guest? {
        let i = Int(truncatingIfNeeded: handle &- Guest.handleOffset)
        return i >= 0 && i < guests.count ? guests[i] : nil
    }

    /// Records a kernel `WARN_ON` that fired.
    func warn(_ what: @autoclosure () -> String) {
        warnings += 1
        lastWarning = what()
    }

    /// The errno of a table-code error (unbacked tables are a model fault: reported as -EFAULT with a warning).
    func errno(_ e: PgtableError) -> Int32 {
        if let n = e.errno { return n }
        warn("\(e)")
        return -KernelErrno.EFAULT
    }

    /// `host_share_guest_count` of PFN `pfn`, wherever the storage keeps it.
    public func shareGuestCount(_ pfn: UInt64) -> UInt32 {
        storage == .vmemmap ? (vmemmap.shareGuestCount(pfn) ?? 0) : (pteShareCounts[pfn] ?? 0)
    }

    func setShareGuestCount(_ pfn: UInt64, _ v: UInt32) {
        if storage == .vmemmap {
            vmemmap.setShareGuestCount(pfn, v)
        } else if v == 0 {
            pteShareCounts[pfn] = nil
        } else {
            pteShareCounts[pfn] = v
        }
    }
}
