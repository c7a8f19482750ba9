import Pgtable

/// Where a machine keeps the host's page state.
public enum HostStateStorage: String, Sendable, CaseIterable {
    /// In the host stage-2 PTE software bits and owner annotations (Linux up to v6.13).
    case pte
    /// In `struct hyp_page::host_state` of the hyp vmemmap (Linux v6.14).
    case vmemmap
}

/// Which version of the transition code runs (independent of where the host state is stored).
public enum TransitionCode: String, Sendable, CaseIterable {
    /// v6.13's `pkvm_mem_transition` machinery (`do_share`, `do_unshare`, …): a host-initiated unshare
    /// skips the hyp-side state check unless `CONFIG_NVHE_EL2_DEBUG`, and a failed completion returns
    /// `WARN_ON(ret)`, i.e. 1.
    case v613
    /// v6.14's direct functions (after "Always check the state from hyp_ack_unshare()" and "Drop
    /// pkvm_mem_transition …").
    case v614
}

/// What a `PKVMMachine` is built from.
public struct PKVMConfig: Sendable {
    /// Host-state storage; also picks the default layouts (`pte`: v6.13, `vmemmap`: v6.14).
    public var storage: HostStateStorage
    /// The encoding of `enum pkvm_page_state`.
    public var layout: PageStateLayout
    /// RAM (`hyp_memory`); every other address is MMIO.
    public var ram: [MemoryMap.Region]
    /// Physical address bits (ID_AA64MMFR0_EL1.PARange): the host stage-2 input size (`prepare_host_vtcr`).
    public var paBits: Int = 40
    /// Hyp stage-1 VA bits (`hyp_va_bits`).
    public var hypVABits: Int = 48
    /// `hyp_physvirt_offset`: hyp VA = PA − offset (wrapping). The default puts the linear map at VA bit 47.
    public var hypPhysVirtOffset: UInt64 = 0 &- (1 << 47)
    /// Start of the hyp carve-out (`hyp_mem_base`); nil: the top of the highest RAM region.
    public var carveOutBase: UInt64?
    /// Guest stage-2 tables use FEAT_S2FWB encodings (the CPU has it).
    public var guestFWB: Bool = true
    /// The transition code; v6.14's by default for both storages, so that comparing storages isolates the
    /// move of the host state.
    public var transitionCode: TransitionCode = .v614
    /// `CONFIG_NVHE_EL2_DEBUG`: the extra completer-side state checks.
    public var debug: Bool = false
    /// Track the host's state of shared MMIO in the host stage-2 software bits (the reviewer's point on the
    /// seed: the vmemmap covers memory only). Only meaningful with `vmemmap` storage.
    public var deviceSharing: Bool = false

    public init(storage: HostStateStorage, ram: [MemoryMap.Region], layout: PageStateLayout? = nil) {
        self.storage = storage
        self.ram = ram
        self.layout = layout ?? (storage == .pte ? .v613 : .v614)
    }

    /// The `struct hyp_page` layout that goes with the storage.
    public var hypPageLayout: HypPageLayout { storage == .pte ? .v613 : .v614 }
}
