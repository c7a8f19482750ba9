import Mem

/// A successful translation: where the input address lands and with which attributes (the Arm ARM's
/// `TTWState` after the leaf, plus the output address `StageOA`).
@frozen
public struct TranslationResult: Sendable, Equatable {
    /// The output address: the leaf's base plus the input address's offset in the block or page.
    public let outputAddress: UInt64
    /// Level of the leaf.
    public let level: Int
    /// Bytes the leaf maps (`TranslationSize`): the page size at level 3, the block size above.
    public let blockSize: UInt64
    /// Stage 2: MemAttr[3:0] (descriptor bits 5:2). Hyp stage 1: AttrIndx[2:0] (bits 4:2).
    public let memAttr: UInt8
    /// Shareability: descriptor SH[1:0], or VTCR_EL2.SH0 / TCR_EL2.SH0 when DS=1 (bits 9:8 are OA bits).
    public let shareability: UInt8
    public let permissions: TranslationPermissions
    /// The contiguous hint as `AArch64.ContiguousBit` reads it (RES0 at the LPA-only block levels).
    public let contiguous: Bool
    /// DBM, bit 51.
    public let dirtyBitModifier: Bool
    /// Software bits [58:55].
    public let softwareBits: UInt8
    /// The leaf descriptor, as it is in memory after any hardware update.
    public let descriptor: Descriptor
    /// Where the leaf descriptor lives.
    public let descriptorAddress: PhysAddr
    /// The walk wrote the descriptor (hardware access flag or dirty state update).
    public let descriptorUpdated: Bool

    @inlinable
    public init(
        outputAddress: UInt64, level: Int, blockSize: UInt64, memAttr: UInt8, shareability: UInt8,
        permissions: TranslationPermissions, contiguous: Bool, dirtyBitModifier: Bool, softwareBits: UInt8,
        descriptor: Descriptor, descriptorAddress: PhysAddr, descriptorUpdated: Bool
    ) {
        self.outputAddress = outputAddress
        self.level = level
        self.blockSize = blockSize
        self.memAttr = memAttr
        self.shareability = shareability
        self.permissions = permissions
        self.contiguous = contiguous
        self.dirtyBitModifier = dirtyBitModifier
        self.softwareBits = softwareBits
        self.descriptor = descriptor
        self.descriptorAddress = descriptorAddress
        self.descriptorUpdated = descriptorUpdated
    }

    /// PAR_EL1.PA as an `AT` instruction reports it: the output address with bits 11:0 cleared.
    @inlinable
    public var parAddress: UInt64 { outputAddress & ~0xfff }
}
