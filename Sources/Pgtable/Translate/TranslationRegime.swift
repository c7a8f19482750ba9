/// A translation regime as the hardware walker reads it from its control and base registers: the
/// stage 2 (VTCR_EL2 + VTTBR_EL2, the Arm ARM's `S2TTWParams`) or the non-VHE EL2 stage 1 (TCR_EL2 +
/// TTBR0_EL2, `S1TTWParams` for `Regime_EL2`).
///
/// Building one never fails: a register combination the architecture rejects (`AArch64.S2TxSZFaults`,
/// `AArch64.S2InvalidSL`, `AArch64.S2InconsistentSL`, a TxSZ out of range at stage 1, and where the
/// implementation chooses to, an IPA wider than PS) gives a regime whose
/// every translation is a translation fault at level 0, as hardware (and QEMU) report it.
public struct TranslationRegime: Sendable, Equatable, CustomStringConvertible {
    /// Which walk the registers describe.
    public enum Stage: String, Sendable {
        /// Stage 2 of the EL1&0 regime (`AArch64.S2Walk`).
        case stage2
        /// The EL2 stage 1 without VHE (`AArch64.S1Walk`, `Regime_EL2`).
        case hypStage1 = "hyp"
    }

    public let stage: Stage
    public let features: ArchFeatures
    /// VTCR_EL2 or TCR_EL2 as given.
    public let control: UInt64
    /// VTTBR_EL2 or TTBR0_EL2 as given.
    public let ttbr: UInt64
    /// Granule, input size and start level; nil when the registers select no valid regime.
    public let geometry: Geometry?
    /// Why `geometry` is nil.
    public let invalidReason: String?
    /// Where descriptors keep output addresses (`AArch64.NextTableBase`, `AArch64.LeafBase`).
    public let format: OutputAddressFormat
    /// Effective output address size (`AArch64.PhysicalAddressSize(PS)`: at most PAMax; at most 48 bits
    /// without FEAT_LPA, or for 4K/16K without FEAT_LPA2).
    public let oaBits: Int
    /// Base of the initial lookup (`AArch64.S2TTBaseAddress` / `AArch64.S1TTBaseAddress`): BADDR aligned to
    /// the size of the (concatenated) root.
    public let tableBase: UInt64
    /// Effective DS: 52-bit descriptors with 4K/16K (FEAT_LPA2).
    public let ds: Bool
    /// Effective HA: hardware sets the access flag.
    public let ha: Bool
    /// Effective HA && HD: hardware manages dirty state through DBM.
    public let hd: Bool
    /// SH0, the shareability of leaves when DS=1.
    public let sh0: UInt8
    /// TCR_EL2.HPD: table descriptors' APTable/XNTable are ignored (stage 1 only).
    public let hierarchicalPermissionsDisabled: Bool
    /// TCR_EL2.TBI: the top byte of the VA is ignored (stage 1 only).
    public let topByteIgnored: Bool
    /// Shifts and masks the walk derives from the fields above, computed once here.
    @usableFromInline let walkConstants: WalkConstants

    /// The stage-2 regime VTCR_EL2 and VTTBR_EL2 select (`AArch64.NSS2TTWParams`,
    /// `AArch64.S2InitialTTWState`).
    public init(vtcr: UInt64, vttbr: UInt64, features: ArchFeatures = .qemuMax) {
        let v = VTCR(vtcr)
        let granule = v.granule ?? features.reservedTG0Granule
        let ds = features.lpa2 && granule != .k64 && v[VTCR.ds] == 1
        let psEncoding = v[VTCR.ps]
        let oaBits = Self.outputSize(psEncoding: psEncoding, granule: granule, features: features)
        var invalid: String? = nil
        var t0sz = v[VTCR.t0sz]
        // AArch64.S2MinTxSZ / AArch64.MaxTxSZ / AArch64.S2TxSZFaults
        let minTxSZ = UInt64(64 - min(ds || granule == .k64 ? 52 : 48, features.paMax))
        let maxTxSZ = UInt64(features.smallTranslationTables ? (granule == .k64 ? 47 : 48) : 39)
        if t0sz < minTxSZ {
            if features.lpa {
                invalid = "VTCR_EL2.T0SZ=\(t0sz) is below the minimum \(minTxSZ)"
            } else {
                t0sz = minTxSZ
            }
        } else if t0sz > maxTxSZ {
            if features.faultOnTxSZAboveMaximum {
                invalid = "VTCR_EL2.T0SZ=\(t0sz) is above the maximum \(maxTxSZ)"
            } else {
                t0sz = maxTxSZ
            }
        }
        if invalid == nil && features.faultOnIPAWiderThanPS && 64 - Int(t0sz) > oaBits {
            invalid =
                "a \(64 - Int(t0sz))-bit IPA is wider than the \(oaBits)-bit output size (CONSTRAINED UNPREDICTABLE)"
        }
        var geometry: Geometry? = nil
        if invalid == nil {
            var eff = v
            eff[VTCR.tg0] = VTCR.tg0(granule)
            eff[VTCR.ps] = PARange.encoding(oaBits) ?? 5
            eff[VTCR.t0sz] = t0sz
            if !ds { eff[VTCR.ds] = 0 }
            do {
                geometry = try Geometry(
                    vtcr: eff, paMax: features.paMax, smallTranslationTables: features.smallTranslationTables)
            } catch {
                invalid = error.description
            }
        }
        let wide = ds || (features.lpa && granule == .k64 && psEncoding == 6)
        self.init(
            stage: .stage2, features: features, control: vtcr, ttbr: vttbr, geometry: geometry, invalidReason: invalid,
            format: Self.format(granule: granule, ds: ds, features: features), oaBits: oaBits, wideBase: wide,
            ds: ds, ha: features.hardwareAccessFlag && v[VTCR.ha] == 1,
            hd: features.hardwareAccessFlag && features.hardwareDirtyState && v[VTCR.ha] == 1 && v[VTCR.hd] == 1,
            sh0: UInt8(v[VTCR.sh0]), hpd: false, tbi: false)
    }

    /// The EL2 stage-1 regime TCR_EL2 and TTBR0_EL2 select without VHE (`AArch64.S1TTWParamsEL2`,
    /// `AArch64.S1InitialTTWState`); the start level follows from T0SZ (`AArch64.S1StartLevel`).
    public init(hypTCR tcr: UInt64, ttbr0: UInt64, features: ArchFeatures = .qemuMax) {
        let granule = VTCR(tcr).granule ?? features.reservedTG0Granule
        let ds = features.lpa2 && granule != .k64 && HypTCR.ds.get(tcr) == 1
        let psEncoding = HypTCR.ps.get(tcr)
        let oaBits = Self.outputSize(psEncoding: psEncoding, granule: granule, features: features)
        var invalid: String? = nil
        var t0sz = HypTCR.t0sz.get(tcr)
        // AArch64.S1MinTxSZ / AArch64.MaxTxSZ / AArch64.S1TxSZFaults
        let minTxSZ: UInt64 = (ds || (granule == .k64 && features.lva)) ? 12 : 16
        let maxTxSZ = UInt64(features.smallTranslationTables ? (granule == .k64 ? 47 : 48) : 39)
        if t0sz < minTxSZ {
            if features.lva { invalid = "TCR_EL2.T0SZ=\(t0sz) is below the minimum \(minTxSZ)" } else { t0sz = minTxSZ }
        } else if t0sz > maxTxSZ {
            if features.faultOnTxSZAboveMaximum {
                invalid = "TCR_EL2.T0SZ=\(t0sz) is above the maximum \(maxTxSZ)"
            } else {
                t0sz = maxTxSZ
            }
        }
        var geometry: Geometry? = nil
        if invalid == nil {
            let iaBits = 64 - Int(t0sz)
            let start = Granule.lastLevel - (iaBits - 1 - granule.shift) / granule.bitsPerLevel
            do {
                geometry = try Geometry(
                    granule: granule, iaBits: iaBits, startLevel: start,
                    oaBits: min(oaBits, OutputAddressFormat.kernel(granule: granule, lpa2: ds).maxBits), lpa2: ds,
                    concatenation: false)
            } catch {
                invalid = error.description
            }
        }
        let wide = ds || (features.lpa && granule == .k64 && psEncoding == 6)
        self.init(
            stage: .hypStage1, features: features, control: tcr, ttbr: ttbr0, geometry: geometry,
            invalidReason: invalid, format: Self.format(granule: granule, ds: ds, features: features), oaBits: oaBits,
            wideBase: wide, ds: ds, ha: features.hardwareAccessFlag && HypTCR.ha.get(tcr) == 1,
            hd: features.hardwareAccessFlag && features.hardwareDirtyState && HypTCR.ha.get(tcr) == 1
                && HypTCR.hd.get(tcr) == 1,
            sh0: UInt8(HypTCR.sh0.get(tcr)), hpd: HypTCR.hpd.get(tcr) == 1, tbi: HypTCR.tbi.get(tcr) == 1)
    }

    private init(
        stage: Stage, features: ArchFeatures, control: UInt64, ttbr: UInt64, geometry: Geometry?,
        invalidReason: String?, format: OutputAddressFormat, oaBits: Int, wideBase: Bool, ds: Bool, ha: Bool,
        hd: Bool, sh0: UInt8, hpd: Bool, tbi: Bool
    ) {
        self.stage = stage
        self.features = features
        self.control = control
        self.ttbr = ttbr
        self.geometry = geometry
        self.invalidReason = invalidReason
        self.format = format
        self.oaBits = oaBits
        self.ds = ds
        self.ha = ha
        self.hd = hd
        self.sh0 = sh0
        self.hierarchicalPermissionsDisabled = hpd
        self.topByteIgnored = tbi
        // AArch64.S2TTBaseAddress / AArch64.S1TTBaseAddress
        var base: UInt64
        var tsize = 0
        if let g = geometry {
            let levels = Granule.lastLevel - g.startLevel
            tsize = g.iaBits - (levels * g.granule.bitsPerLevel + g.granule.shift) + 3
        }
        if wideBase {
            tsize = max(tsize, 6)
            base = (ttbr & BitField(47, 6).mask) | (BitField(5, 2).get(ttbr) << 48)
        } else {
            base = ttbr & BitField(47, 1).mask
        }
        base &= ~((1 << UInt64(max(tsize, 0))) &- 1)
        self.tableBase = base
        self.walkConstants = WalkConstants(
            geometry: geometry, format: format, oaBits: oaBits, topByteIgnored: tbi, stage1: stage == .hypStage1)
    }

    /// `AArch64.PhysicalAddressSize(PS)`: PS (0b111 is 56 bits) bounded by PAMax, and by 48 bits without
    /// FEAT_LPA, or for 4K/16K without FEAT_LPA2.
    private static func outputSize(psEncoding: UInt64, granule: Granule, features: ArchFeatures) -> Int {
        let ps = PARange.bits(psEncoding) ?? 56
        let wide = features.lpa && (granule == .k64 || features.lpa2)
        return min(ps, wide ? min(52, features.paMax) : min(48, features.paMax))
    }

    private static func format(granule: Granule, ds: Bool, features: ArchFeatures) -> OutputAddressFormat {
        ds ? .lpa2 : (granule == .k64 && features.lpa ? .lpa : .pa48)
    }

    /// Whether `address` has bits set at or above the output size (`AArch64.OAOutOfRange`).
    @inlinable
    public func outputAddressOutOfRange(_ address: UInt64) -> Bool {
        address & walkConstants.outputSizeMask != 0
    }

    public var description: String {
        guard let g = geometry else { return "\(stage.rawValue): invalid (\(invalidReason ?? "?"))" }
        return "\(stage.rawValue): \(g.granule) granule, \(g.iaBits)-bit input, start level \(g.startLevel)"
            + (g.concatenation && g.rootPages > 1 ? " (\(g.rootPages) concatenated roots)" : "")
            + ", \(oaBits)-bit output, \(format), table 0x" + String(tableBase, radix: 16)
            + (ha ? ", HA" : "") + (hd ? ", HD" : "")
    }
}
