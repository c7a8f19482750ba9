/// The register values an ELF test image names through its symbols (`shared/IMAGE-FORMAT.md`); `nil` means
/// the image does not name it (and the user did not supply it).
public struct ImageRegisters: Equatable, Sendable {
    /// VTCR_EL2, from the word at `s2_vtcr`.
    public var vtcr: UInt64?
    /// VTTBR_EL2, from the word at `s2_vttbr`.
    public var vttbr: UInt64?
    /// TCR_EL2 of the hyp stage 1, from the word at `hyp_tcr`.
    public var hypTCR: UInt64?
    /// TTBR0_EL2 of the hyp stage 1, from the word at `hyp_ttbr0`.
    public var hypTTBR0: UInt64?
    /// The probe IPAs: `probe_count` words from `probe_ipas`.
    public var probes: [UInt64]?

    public init(
        vtcr: UInt64? = nil, vttbr: UInt64? = nil, hypTCR: UInt64? = nil, hypTTBR0: UInt64? = nil,
        probes: [UInt64]? = nil
    ) {
        self.vtcr = vtcr
        self.vttbr = vttbr
        self.hypTCR = hypTCR
        self.hypTTBR0 = hypTTBR0
        self.probes = probes
    }

    /// These values with every value `overrides` has replacing the one here.
    public func overridden(by overrides: ImageRegisters) -> ImageRegisters {
        ImageRegisters(
            vtcr: overrides.vtcr ?? vtcr, vttbr: overrides.vttbr ?? vttbr, hypTCR: overrides.hypTCR ?? hypTCR,
            hypTTBR0: overrides.hypTTBR0 ?? hypTTBR0, probes: overrides.probes ?? probes)
    }
}
