/// The shape of a translation regime: granule, input address size, start level, root concatenation and
/// output address format (the kernel's `struct kvm_pgtable` fields `ia_bits` and `start_level`, plus what
/// VTCR_EL2/TCR_EL2 say about the output side).
public struct Geometry: Equatable, Sendable, CustomStringConvertible {
    /// Page and table size.
    public let granule: Granule
    /// Input address bits (`ia_bits`; 64 - T0SZ).
    public let iaBits: Int
    /// Level of the root table (`start_level`), -1 to 3.
    public let startLevel: Int
    /// Output (physical) address bits (PS / IPS); by default the widest the descriptor format holds
    /// (48, or 52 with 64K FEAT_LPA or LPA2), which is all the kernel's tables are limited by.
    public let oaBits: Int
    /// FEAT_LPA2 52-bit descriptors (DS=1; the kernel's `kvm_lpa2_is_enabled()`).
    public let lpa2: Bool
    /// Whether the root may be several concatenated tables (stage 2) or is one table (stage 1).
    public let concatenation: Bool

    /// Builds and checks a regime.
    ///
    /// - Throws: `PgtableError.invalidGeometry` where the Arm ARM makes the combination invalid: a start
    ///   level outside -1…3 (or -1 without 4K LPA2), an input size too small for the start level or needing
    ///   more than 16 concatenated root tables (`AArch64.S2InconsistentSL`), more than one root table at
    ///   stage 1, LPA2 with 64K pages, an output size the descriptors cannot hold.
    public init(
        granule: Granule, iaBits: Int, startLevel: Int, oaBits: Int? = nil, lpa2: Bool = false,
        concatenation: Bool = true
    ) throws(PgtableError) {
        guard (granule.firstLevel...Granule.lastLevel).contains(startLevel) else {
            throw .invalidGeometry("start level \(startLevel) is not available with the \(granule) granule")
        }
        guard startLevel >= 0 || lpa2 else { throw .invalidGeometry("start level -1 needs FEAT_LPA2 (DS=1)") }
        guard !(lpa2 && granule == .k64) else { throw .invalidGeometry("LPA2 (DS=1) does not apply to 64K pages") }
        let stride = granule.bitsPerLevel
        let minBits = (Granule.lastLevel - startLevel) * stride + granule.shift + 1
        let maxBits = minBits + (stride - 1) + (concatenation ? 4 : 0)
        guard iaBits >= minBits, iaBits <= maxBits else {
            throw .invalidGeometry(
                "start level \(startLevel) with \(granule) pages resolves \(minBits)...\(maxBits)-bit inputs"
                    + (concatenation ? " (up to 16 concatenated root tables)" : " (one root table)")
                    + ", not \(iaBits) bits" + (concatenation ? " (S2InconsistentSL)" : ""))
        }
        let format = OutputAddressFormat.kernel(granule: granule, lpa2: lpa2)
        let oaBits = oaBits ?? format.maxBits
        guard oaBits >= 32 else {
            throw .invalidGeometry("a \(oaBits)-bit output size is below the smallest PS, 32 bits")
        }
        guard oaBits <= format.maxBits else {
            throw .invalidGeometry(
                "\(oaBits)-bit output addresses need FEAT_LPA (64K) or FEAT_LPA2 (DS=1) descriptors;"
                    + " these hold \(format.maxBits) bits")
        }
        guard iaBits <= 52 else {
            throw .invalidGeometry("a \(iaBits)-bit input is wider than the architecture's 52 bits")
        }
        guard iaBits <= 48 || lpa2 || granule == .k64 else {
            throw .invalidGeometry("\(iaBits)-bit input needs FEAT_LPA2 or the 64K granule")
        }
        self.granule = granule
        self.iaBits = iaBits
        self.startLevel = startLevel
        self.oaBits = oaBits
        self.lpa2 = lpa2
        self.concatenation = concatenation
    }

    /// The geometry `kvm_get_vtcr` chooses for a stage-2 of `ipaBits`: as few levels as 16 concatenated
    /// root tables allow (`stage2_pgtable_levels`), but at least 2; never an extra LPA2 level.
    public static func kernelStage2(granule: Granule, ipaBits: Int, oaBits: Int? = nil, lpa2: Bool = false)
        throws(PgtableError) -> Geometry
    {
        let levels = max(2, granule.levels(forAddressBits: ipaBits - 4))
        return try Geometry(
            granule: granule, iaBits: ipaBits, startLevel: Granule.lastLevel + 1 - levels, oaBits: oaBits, lpa2: lpa2)
    }

    /// The geometry `kvm_pgtable_hyp_init` uses for a hyp stage 1 of `vaBits`.
    public static func kernelHyp(granule: Granule, vaBits: Int, oaBits: Int? = nil, lpa2: Bool = false)
        throws(PgtableError) -> Geometry
    {
        let start = Granule.lastLevel + 1 - granule.levels(forAddressBits: vaBits)
        return try Geometry(
            granule: granule, iaBits: vaBits, startLevel: start, oaBits: oaBits, lpa2: lpa2, concatenation: false)
    }

    /// Reads a stage-2 regime from VTCR_EL2, as `AArch64.S2Walk` does before walking.
    ///
    /// - Parameters:
    ///   - paMax: the implemented physical address size (`AArch64.PAMax()`), which limits the start levels
    ///     `AArch64.S2InvalidSL` accepts and the smallest T0SZ (`AArch64.S2MinTxSZ`).
    ///   - smallTranslationTables: FEAT_TTST (`HaveSmallTranslationTableExt()`): allows SL0=3 with 4K
    ///     (start at level 3) and T0SZ up to 48 (47 with 64K) instead of 39 (`AArch64.MaxTxSZ`).
    /// - Throws: `PgtableError.invalidGeometry` for a reserved TG0 or PS, a T0SZ out of range, an invalid
    ///   (`S2InvalidSL`) or inconsistent (`S2InconsistentSL`) start level.
    public init(vtcr: VTCR, paMax: Int = 52, smallTranslationTables: Bool = true) throws(PgtableError) {
        guard let granule = vtcr.granule else { throw .invalidGeometry("VTCR_EL2.TG0 is the reserved 0b11") }
        guard let ps = vtcr.paBits else { throw .invalidGeometry("VTCR_EL2.PS is the reserved 0b111") }
        let ds = vtcr[VTCR.ds] == 1 && granule != .k64
        let sl0 = vtcr[VTCR.sl0]
        let sl2 = granule == .k4 && ds ? vtcr[VTCR.sl2] : 0
        let start: Int
        switch (granule, sl2, sl0) {
        case (.k4, 1, 0): start = -1
        case (.k4, 1, _): throw .invalidGeometry("VTCR_EL2.SL2=1 needs SL0=0 (S2InvalidSL)")
        case (.k4, _, 0): start = 2
        case (.k4, _, 1): start = 1
        case (.k4, _, 2):
            guard paMax >= 44 else { throw .invalidGeometry("SL0=2 with 4K needs PAMax >= 44 (S2InvalidSL)") }
            start = 0
        case (.k4, _, _):
            guard smallTranslationTables else { throw .invalidGeometry("SL0=3 with 4K needs FEAT_TTST (S2InvalidSL)") }
            start = 3
        case (.k16, _, 3):
            guard ds else { throw .invalidGeometry("SL0=3 with 16K needs DS=1 (S2InvalidSL)") }
            start = 0
        case (.k16, _, 2):
            guard paMax >= 42 else { throw .invalidGeometry("SL0=2 with 16K needs PAMax >= 42 (S2InvalidSL)") }
            start = 1
        case (.k64, _, 3): throw .invalidGeometry("SL0=3 is reserved with 64K (S2InvalidSL)")
        case (.k64, _, 2):
            guard paMax >= 44 else { throw .invalidGeometry("SL0=2 with 64K needs PAMax >= 44 (S2InvalidSL)") }
            start = 1
        case (_, _, let s): start = 3 - Int(s)
        }
        let t0sz = Int(vtcr[VTCR.t0sz])
        let maxIA = min((ds || (granule == .k64 && paMax >= 52)) ? 52 : 48, paMax)
        let maxT0SZ = smallTranslationTables ? (granule == .k64 ? 47 : 48) : 39
        guard 64 - t0sz <= maxIA, t0sz <= maxT0SZ else {
            throw .invalidGeometry(
                "VTCR_EL2.T0SZ=\(t0sz) (a \(64 - t0sz)-bit IPA) is out of range for \(granule) pages:"
                    + " \(64 - maxIA)...\(maxT0SZ) allowed")
        }
        let oa = min(ps, paMax, OutputAddressFormat.kernel(granule: granule, lpa2: ds).maxBits)
        try self.init(granule: granule, iaBits: 64 - t0sz, startLevel: start, oaBits: oa, lpa2: ds)
    }

    /// VTCR_EL2 for this geometry: T0SZ, SL0 (and SL2), TG0, PS, DS; inner-shareable write-back walks
    /// (`VTCR_EL2_COMMON_BITS`), as `kvm_get_vtcr` builds it without HA and VS.
    public var vtcr: VTCR {
        var v = VTCR(0)
        v[VTCR.t0sz] = UInt64(64 - iaBits)
        if startLevel == -1 {
            v[VTCR.sl2] = 1
        } else if granule == .k4 {
            v[VTCR.sl0] = startLevel == 3 ? 3 : UInt64(2 - startLevel)
        } else {
            v[VTCR.sl0] = UInt64(3 - startLevel)
        }
        v[VTCR.tg0] = VTCR.tg0(granule)
        v[VTCR.ps] = PARange.encoding(oaBits) ?? 5
        v[VTCR.sh0] = 3
        v[VTCR.orgn0] = 1
        v[VTCR.irgn0] = 1
        if lpa2 { v[VTCR.ds] = 1 }
        return v
    }

    /// The descriptor address layout.
    @inlinable
    public var format: OutputAddressFormat { .kernel(granule: granule, lpa2: lpa2) }

    /// Number of levels walked.
    public var levels: Int { Granule.lastLevel + 1 - startLevel }

    /// Number of concatenated root tables (`kvm_pgd_pages`).
    public var rootPages: Int { Int(rootIndex(~0) + 1) }

    /// Which concatenated root table covers `address` (`kvm_pgd_page_idx`).
    @inlinable
    public func rootIndex(_ address: UInt64) -> UInt64 {
        let mask: UInt64 = iaBits >= 64 ? ~0 : (1 << UInt64(iaBits)) - 1
        let shift = granule.levelShift(startLevel - 1)
        return shift >= 64 ? 0 : (address & mask) >> UInt64(shift)
    }

    /// Checks that a mapping of `[addr, addr+size)` to `phys` stays below `BIT(oaBits)`, with the walk's
    /// page rounding (`kvm_pgtable_walk`: start = `ALIGN_DOWN(addr)`, end = `PAGE_ALIGN(start + size)`;
    /// `ALIGN_DOWN(phys)`). A range the walk visits nothing of (end at or below start, after wrapping) maps
    /// nothing, and one reaching past `BIT(ia_bits)` is the walk's `-ERANGE`: neither is checked here.
    /// - Throws: `PgtableError.outputBeyondPS`.
    @inlinable
    public func checkOutputRange(addr: UInt64, size: UInt64, phys: UInt64) throws(PgtableError) {
        let page = granule.size
        let start = addr & ~(page &- 1)
        let end = (start &+ size &+ page &- 1) & ~(page &- 1)
        guard start < end, end <= inputSize else { return }
        let pa = phys & ~(page &- 1)
        let limit: UInt64 = oaBits >= 64 ? ~0 : (1 << UInt64(oaBits))
        guard pa < limit, end &- start <= limit - pa else { throw .outputBeyondPS(phys: phys, size: size, oaBits: oaBits) }
    }

    /// Bytes of input address space (`BIT(ia_bits)`).
    public var inputSize: UInt64 { 1 << UInt64(iaBits) }

    public var description: String {
        "\(granule) granule, \(iaBits)-bit input, start level \(startLevel)"
            + (rootPages > 1 ? " (\(rootPages) concatenated roots)" : "") + ", \(oaBits)-bit output"
            + (lpa2 ? ", LPA2" : "")
    }
}
