/// `OutputAddressFormat.address(of:shift:)` for one format and shift as two masks and a shift, so that the
/// walkers (`TranslationRegime.walk`, `PgtableRoot.leaf`) decode a table descriptor's address
/// (`kvm_pte_to_phys`, `AArch64.NextTableBase`) in a few instructions with no branch on the format.
///
/// Every format keeps some address bits in place and moves one run of descriptor bits up (none for the
/// 48-bit format; bits 15:12 to OA[51:48] for FEAT_LPA; bits 9:8 to OA[51:50] for FEAT_LPA2). The masks are
/// read off the format itself, one descriptor bit at a time, so they cannot disagree with it.
@usableFromInline
struct DescriptorAddressMasks: Sendable, Equatable {
    /// Descriptor bits that are the same bits of the address.
    @usableFromInline let inPlace: UInt64
    /// Descriptor bits that hold higher address bits.
    @usableFromInline let moved: UInt64
    /// How far up `moved` goes.
    @usableFromInline let movedShift: UInt64

    init(format: OutputAddressFormat, shift: Int) {
        var inPlace: UInt64 = 0
        var moved: UInt64 = 0
        var movedShift: UInt64 = 0
        for bit in 0..<64 {
            let d: UInt64 = 1 << UInt64(bit)
            let a = format.address(of: d, shift: shift)
            if a == d {
                inPlace |= d
            } else if a != 0 {
                moved |= d
                movedShift = UInt64(a.trailingZeroBitCount - bit)
            }
        }
        self.inPlace = inPlace
        self.moved = moved
        self.movedShift = movedShift
    }

    /// `format.address(of: descriptor, shift: shift)`.
    @inlinable @inline(__always)
    func address(of descriptor: UInt64) -> UInt64 {
        (descriptor & inPlace) | (descriptor & moved) &<< movedShift
    }
}
