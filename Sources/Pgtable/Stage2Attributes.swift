/// Stage-2 leaf attribute encodings: `stage2_set_prot_attr` and `kvm_pgtable_stage2_pte_prot`.
public enum Stage2Attributes {
    /// Stage-2 MemAttr values without FEAT_S2FWB (`MT_S2_NORMAL`, `MT_S2_NORMAL_NC`, `MT_S2_DEVICE_nGnRE`).
    public enum MemAttr {
        public static let normal: UInt64 = 0xf
        public static let normalNC: UInt64 = 0x5
        public static let deviceNGnRE: UInt64 = 0x1
    }

    /// Stage-2 MemAttr values with FEAT_S2FWB (`MT_S2_FWB_NORMAL`, `MT_S2_FWB_NORMAL_NC`,
    /// `MT_S2_FWB_DEVICE_nGnRE`).
    public enum FWBMemAttr {
        public static let normal: UInt64 = 0x6
        public static let normalNC: UInt64 = 0x5
        public static let deviceNGnRE: UInt64 = 0x1
    }

    /// The MemAttr field for normal cacheable memory (`KVM_S2_MEMATTR(pgt, NORMAL)`).
    @inlinable
    public static func normal(fwb: Bool) -> UInt64 {
        Descriptor.memAttr.prep(fwb ? FWBMemAttr.normal : MemAttr.normal)
    }

    /// The leaf attributes for `prot` (`stage2_set_prot_attr`): MemAttr from DEVICE / NORMAL_NC / normal
    /// (with or without FWB), XN unless executable, S2AP from R and W, SH inner-shareable unless LPA2
    /// (where bits 9:8 hold address bits), AF set, software bits passed through.
    ///
    /// - Throws: `PgtableError.invalidArgument` (`-EINVAL`) for DEVICE together with NORMAL_NC, and for
    ///   executable device or non-cacheable memory.
    @inlinable
    public static func attributes(for prot: Prot, fwb: Bool, lpa2: Bool) throws(PgtableError) -> UInt64 {
        var attr: UInt64
        switch (prot.contains(.device), prot.contains(.normalNC)) {
        case (true, true):
            throw .invalidArgument("DEVICE and NORMAL_NC together")
        case (true, false):
            guard !prot.contains(.x) else { throw .invalidArgument("executable device mapping") }
            attr = Descriptor.memAttr.prep(fwb ? FWBMemAttr.deviceNGnRE : MemAttr.deviceNGnRE)
        case (false, true):
            guard !prot.contains(.x) else { throw .invalidArgument("executable non-cacheable mapping") }
            attr = Descriptor.memAttr.prep(fwb ? FWBMemAttr.normalNC : MemAttr.normalNC)
        case (false, false):
            attr = normal(fwb: fwb)
        }
        if !prot.contains(.x) { attr |= xnBit }
        if prot.contains(.r) { attr |= Descriptor.s2apR.mask }
        if prot.contains(.w) { attr |= Descriptor.s2apW.mask }
        if !lpa2 { attr |= Descriptor.sh.prep(3) }
        attr |= Descriptor.af.mask
        attr |= prot.rawValue & Descriptor.sw.mask
        return attr
    }

    /// What the kernel sets for "not executable" (`KVM_PTE_LEAF_ATTR_HI_S2_XN`, XN = 0b10).
    public static let xnBit: UInt64 = 1 << 54

    /// The permission bits the kernel compares separately (`KVM_PTE_LEAF_ATTR_S2_PERMS`).
    public static let permissions: UInt64 = Descriptor.s2apR.mask | Descriptor.s2apW.mask | xnBit

    /// The prot of a stage-2 entry (`kvm_pgtable_stage2_pte_prot`): its software bits, and for a valid
    /// entry R, W from S2AP and X when XN is clear.
    @inlinable
    public static func prot(of pte: Descriptor) -> Prot {
        var p = Prot(rawValue: pte.rawValue & Descriptor.sw.mask)
        guard pte.isValid else { return p }
        if pte[Descriptor.s2apR] != 0 { p.insert(.r) }
        if pte[Descriptor.s2apW] != 0 { p.insert(.w) }
        if pte.rawValue & xnBit == 0 { p.insert(.x) }
        return p
    }
}
