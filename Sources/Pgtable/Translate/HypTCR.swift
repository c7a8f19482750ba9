/// TCR_EL2 without VHE (the hyp stage 1's control register), its fields at their Arm ARM positions (the
/// kernel's `TCR_EL2_*` in `arch/arm64/include/asm/kvm_arm.h`): T0SZ[5:0], SH0[13:12], TG0[15:14] (encoded
/// as VTCR_EL2.TG0), PS[18:16], TBI[20], HA[21], HD[22], HPD[24], DS[32].
public enum HypTCR {
    public static let t0sz = BitField(5, 0)
    public static let sh0 = BitField(13, 12)
    public static let tg0 = BitField(15, 14)
    public static let ps = BitField(18, 16)
    public static let tbi = BitField(bit: 20)
    public static let ha = BitField(bit: 21)
    public static let hd = BitField(bit: 22)
    public static let hpd = BitField(bit: 24)
    public static let ds = BitField(bit: 32)
}
