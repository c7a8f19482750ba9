/// What `TranslationRegime.walk` derives from the regime's geometry and output size, computed once when the
/// regime is built (the Arm ARM recomputes them in `AArch64.S2Walk` / `AArch64.S1Walk` for every walk; the
/// values are the same each time). Shifts and masks are in the form the walk uses them, so that the walk
/// does no trapping arithmetic or conversion per level.
@usableFromInline
struct WalkConstants: Sendable, Equatable {
    /// Index shift of the start level (`granule.levelShift(startLevel)`).
    @usableFromInline let startShift: UInt64
    /// Address bits resolved per level (`granule.bitsPerLevel`).
    @usableFromInline let stride: UInt64
    /// Entries per table minus one (`granule.entries - 1`).
    @usableFromInline let indexMask: UInt64
    /// The input address bits the regime translates (`BIT(iaBits) - 1`).
    @usableFromInline let iaMask: UInt64
    /// Input address bits that make it out of range (`AArch64.IPAIsOutOfRange` / `AArch64.VAIsOutOfRange`
    /// with TBI): any of them set is a translation fault at level 0.
    @usableFromInline let outOfRangeMask: UInt64
    /// Address bits at or above the output size (`AArch64.OAOutOfRange`): any of them set is an address
    /// size fault; 0 when the output size is 64 bits.
    @usableFromInline let outputSizeMask: UInt64
    /// A table descriptor's address (`AArch64.NextTableBase`: `format.address(of:shift: granule.shift)`).
    @usableFromInline let tableAddress: DescriptorAddressMasks

    /// The constants of a regime with `geometry` (nil: no valid regime, every walk faults before using them).
    init(geometry: Geometry?, format: OutputAddressFormat, oaBits: Int, topByteIgnored: Bool, stage1: Bool) {
        guard let g = geometry else {
            startShift = 0
            stride = 0
            indexMask = 0
            iaMask = 0
            outOfRangeMask = 0
            outputSizeMask = oaBits < 64 ? ~0 << UInt64(oaBits) : 0
            tableAddress = DescriptorAddressMasks(format: format, shift: Granule.k4.shift)
            return
        }
        startShift = UInt64(g.granule.levelShift(g.startLevel))
        stride = UInt64(g.granule.bitsPerLevel)
        indexMask = UInt64(g.granule.entries - 1)
        iaMask = g.iaBits >= 64 ? ~0 : (1 << UInt64(g.iaBits)) - 1
        let checked: UInt64 = stage1 && topByteIgnored ? BitField(55, 0).mask : ~0
        outOfRangeMask = checked & ~iaMask
        outputSizeMask = oaBits < 64 ? ~0 << UInt64(oaBits) : 0
        tableAddress = DescriptorAddressMasks(format: format, shift: g.granule.shift)
    }
}
