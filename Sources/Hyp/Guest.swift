import Mem
import Pgtable

/// A non-protected guest as the hypervisor holds it (`struct pkvm_hyp_vm`): its handle and VMID, the page
/// holding the VM structure (and its pool's free lists), its stage-2 table and the pool that table's pages
/// come from (`vm->pool` over the donated PGD, falling back on the vCPU memcache).
public final class Guest: @unchecked Sendable {
    /// The handle the host names the VM by (`idx_to_vm_handle`: index + `HANDLE_OFFSET` 0x1000).
    public let handle: UInt32
    /// The stage-2 VMID.
    public let vmid: UInt16
    /// The donated page holding `struct pkvm_hyp_vm`.
    public let vmPage: PhysAddr
    /// The donated, concatenated PGD pages.
    public let pgd: PhysAddr
    /// `vm->pool`.
    public let pool: HypPool
    /// `vm->pgt`.
    public let s2: Stage2Table<HypPool>

    init(handle: UInt32, vmid: UInt16, vmPage: PhysAddr, pgd: PhysAddr, pool: HypPool, s2: Stage2Table<HypPool>) {
        self.handle = handle
        self.vmid = vmid
        self.vmPage = vmPage
        self.pgd = pgd
        self.pool = pool
        self.s2 = s2
    }

    /// `HANDLE_OFFSET`.
    public static let handleOffset: UInt32 = 0x1000

    /// VTTBR_EL2 for this guest: VMID in bits 63:48, BADDR the root.
    public var vttbr: UInt64 { UInt64(vmid) << 48 | pgd.rawValue }
}
