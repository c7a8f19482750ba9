/// Which translation regime a descriptor belongs to, for decoding its attribute fields.
public enum Regime: String, Sendable, CaseIterable {
    /// A stage-2 table (guest or host), VTCR_EL2 + VTTBR_EL2.
    case stage2
    /// The hypervisor's EL2 stage 1, TCR_EL2 + TTBR0_EL2.
    case hypStage1 = "hyp"
}

extension Descriptor {
    /// Every field of the descriptor by its Arm ARM / kernel name, as `(name, value)` pairs in bit order,
    /// for a descriptor at `level` of a `regime` table with `granule` and `format`.
    public func fields(level: Int, granule: Granule, format: OutputAddressFormat, regime: Regime) -> [(String, UInt64)] {
        let kind = WalkStep.kind(of: self, level: level)
        var out: [(String, UInt64)] = [("valid", self[Descriptor.valid])]
        switch kind {
        case .invalid:
            out.append(("owner_id", self[Descriptor.ownerID]))
            out.append(("locked", self[Descriptor.locked]))
            return out
        case .reserved:
            out.append(("type", self[Descriptor.type]))
            return out
        case .table:
            out.append(("type", 1))
            out.append(("next_table", outputAddress(granule: granule, format: format)))
            return out
        case .block, .page:
            out.append(("type", self[Descriptor.type]))
        }
        switch regime {
        case .stage2:
            out.append(("MemAttr", self[Descriptor.memAttr]))
            out.append(("S2AP", self[Descriptor.s2ap]))
            if format != .lpa2 { out.append(("SH", self[Descriptor.sh])) }
        case .hypStage1:
            out.append(("AttrIndx", self[Descriptor.attrIndx]))
            out.append(("AP", self[Descriptor.ap]))
            if format != .lpa2 { out.append(("SH", self[Descriptor.sh])) }
        }
        out.append(("AF", self[Descriptor.af]))
        if regime == .hypStage1 { out.append(("nG", self[Descriptor.nG])) }
        out.append(("OA", outputAddress(granule: granule, format: format)))
        if regime == .hypStage1 { out.append(("GP", self[Descriptor.gp])) }
        out.append(("DBM", self[Descriptor.dbm]))
        out.append(("Contiguous", self[Descriptor.contiguous]))
        switch regime {
        case .stage2: out.append(("XN", self[Descriptor.xn]))
        case .hypStage1:
            out.append(("PXN", self[Descriptor.pxn]))
            out.append(("XN", self[Descriptor.s1xn]))
        }
        out.append(("SW", self[Descriptor.sw]))
        return out
    }
}
