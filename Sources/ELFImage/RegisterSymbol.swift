/// The symbols through which an image names its register words (`shared/IMAGE-FORMAT.md`, "Symbols").
public enum RegisterSymbol: String, CaseIterable, Sendable {
    /// VTCR_EL2.
    case vtcr = "s2_vtcr"
    /// VTTBR_EL2.
    case vttbr = "s2_vttbr"
    /// The hyp stage 1's TCR_EL2.
    case hypTCR = "hyp_tcr"
    /// The hyp stage 1's TTBR0_EL2.
    case hypTTBR0 = "hyp_ttbr0"
    /// The number N of probe IPAs.
    case probeCount = "probe_count"
    /// The first of N 8-byte probe IPAs.
    case probeIPAs = "probe_ipas"
}
