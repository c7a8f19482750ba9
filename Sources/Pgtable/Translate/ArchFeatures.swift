/// The implementation's choices that the Arm ARM leaves to it: which FEAT_* a translation walk may use
/// and which IMPLEMENTATION DEFINED behaviour it picks. The default is what QEMU's `-cpu max` implements.
@frozen
public struct ArchFeatures: Sendable, Equatable {
    /// `AArch64.PAMax()`: the implemented physical address size in bits (ID_AA64MMFR0_EL1.PARange).
    public var paMax: Int
    /// FEAT_LPA (`Have52BitPAExt()`): with 64K pages, descriptor bits[15:12] hold OA[51:48].
    public var lpa: Bool
    /// FEAT_LVA (`Have52BitVAExt()`): a 52-bit input address with 64K pages at stage 1 (TCR_EL2.T0SZ = 12).
    public var lva: Bool
    /// FEAT_LPA2 (`Have52BitIPAAndPASpaceExt()`): VTCR_EL2.DS / TCR_EL2.DS select 52-bit 4K/16K descriptors.
    public var lpa2: Bool
    /// FEAT_TTST (`HaveSmallTranslationTableExt()`): T0SZ up to 48 (47 with 64K) and SL0=3 with 4K.
    public var smallTranslationTables: Bool
    /// FEAT_HAFDBS access-flag part (`HaveAccessFlagUpdateExt()`): VTCR_EL2.HA / TCR_EL2.HA take effect.
    public var hardwareAccessFlag: Bool
    /// FEAT_HAFDBS dirty-state part (`HaveDirtyBitModifierExt()`): VTCR_EL2.HD / TCR_EL2.HD take effect.
    public var hardwareDirtyState: Bool
    /// FEAT_XNX (`HaveExtendedExecuteNeverExt()`): stage-2 XN[0] (bit 53) distinguishes EL0 from EL1.
    public var extendedExecuteNever: Bool
    /// IMPLEMENTATION DEFINED "Fault on TxSZ value above maximum" (`AArch64.S2TxSZFaults`); otherwise
    /// T0SZ is clamped to the maximum.
    public var faultOnTxSZAboveMaximum: Bool
    /// CONSTRAINED UNPREDICTABLE choice for a stage-2 input size larger than the effective output size
    /// (VTCR_EL2.T0SZ against PS): a stage-2 translation fault at level 0 for every address.
    public var faultOnIPAWiderThanPS: Bool
    /// IMPLEMENTATION DEFINED "Translation fault on misprogrammed contiguous bit"
    /// (`AArch64.ContiguousBitFaults`).
    public var faultOnMisprogrammedContiguous: Bool
    /// IMPLEMENTATION DEFINED "TG0 encoded granule size" used for the reserved TG0 encoding 0b11
    /// (`AArch64.S2DecodeTG0`).
    public var reservedTG0Granule: Granule

    public init(
        paMax: Int = 52, lpa: Bool = true, lva: Bool = true, lpa2: Bool = true, smallTranslationTables: Bool = true,
        hardwareAccessFlag: Bool = true, hardwareDirtyState: Bool = true, extendedExecuteNever: Bool = true,
        faultOnTxSZAboveMaximum: Bool = true, faultOnIPAWiderThanPS: Bool = true,
        faultOnMisprogrammedContiguous: Bool = false,
        reservedTG0Granule: Granule = .k4
    ) {
        self.paMax = paMax
        self.lpa = lpa
        self.lva = lva
        self.lpa2 = lpa2
        self.smallTranslationTables = smallTranslationTables
        self.hardwareAccessFlag = hardwareAccessFlag
        self.hardwareDirtyState = hardwareDirtyState
        self.extendedExecuteNever = extendedExecuteNever
        self.faultOnTxSZAboveMaximum = faultOnTxSZAboveMaximum
        self.faultOnIPAWiderThanPS = faultOnIPAWiderThanPS
        self.faultOnMisprogrammedContiguous = faultOnMisprogrammedContiguous
        self.reservedTG0Granule = reservedTG0Granule
    }

    /// QEMU 7.2 `-cpu max`: PARange 52, FEAT_LPA, FEAT_LVA, FEAT_LPA2, FEAT_TTST, FEAT_HAFDBS, FEAT_XNX;
    /// faults on an out-of-range TxSZ (`aa64_va_parameters` sets `tsz_oob`) and on an IPA wider than PS
    /// (`check_s2_mmu_setup`: "CONSTRAINED UNPREDICTABLE and we choose to fault"); no contiguous-bit fault;
    /// the smallest implemented granule (4K) for a reserved TG0 (`sanitize_gran_size`).
    public static let qemuMax = ArchFeatures()
}
