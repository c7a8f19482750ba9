/// The system registers a session's translation regimes come from; nil = not set.
public struct Registers: Equatable, Sendable {
    /// VTCR_EL2 (image symbol `s2_vtcr`).
    public var vtcr: UInt64?
    /// VTTBR_EL2 (image symbol `s2_vttbr`).
    public var vttbr: UInt64?
    /// TCR_EL2 (image symbol `hyp_tcr`).
    public var hypTCR: UInt64?
    /// TTBR0_EL2 (image symbol `hyp_ttbr0`).
    public var hypTTBR0: UInt64?

    public init(vtcr: UInt64? = nil, vttbr: UInt64? = nil, hypTCR: UInt64? = nil, hypTTBR0: UInt64? = nil) {
        self.vtcr = vtcr
        self.vttbr = vttbr
        self.hypTCR = hypTCR
        self.hypTTBR0 = hypTTBR0
    }

    /// The names `set` accepts, in display order, with their key paths.
    public static let names: [(String, WritableKeyPath<Registers, UInt64?> & Sendable)] = [
        ("vtcr", \.vtcr), ("vttbr", \.vttbr), ("hyp_tcr", \.hypTCR), ("hyp_ttbr0", \.hypTTBR0),
    ]

    /// The table base address in a TTBR/VTTBR value (`BADDR`): bits [47:1] with 48-bit output addresses;
    /// with 52-bit output addresses bits [47:6] plus BADDR[51:48] from bits [5:2] (the inverse of the
    /// kernel's `phys_to_ttbr`).
    public static func baddr(_ ttbr: UInt64, oaBits: Int) -> UInt64 {
        if oaBits > 48 {
            return (ttbr & 0x0000_ffff_ffff_ffc0) | (((ttbr >> 2) & 0xf) << 48)
        }
        return ttbr & 0x0000_ffff_ffff_fffe
    }

    /// A TTBR value with base `address` (`phys_to_ttbr`), VMID and CnP zero.
    public static func ttbr(baddr address: UInt64, oaBits: Int) -> UInt64 {
        if oaBits > 48 { return (address | (address >> 46)) & 0x0000_ffff_ffff_fffc }
        return address & 0x0000_ffff_ffff_fffe
    }
}
