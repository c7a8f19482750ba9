import Mem

/// Where `ELFImage.save` puts the register words its symbols name: a small segment of its own, outside the
/// saved memory, at the top of the 52-bit physical address space (the highest free 4 KiB-aligned range
/// below 2^52 that no region of the saved memory touches).
///
/// Layout, one 8-byte little-endian word each, in this order: `s2_vtcr`, `s2_vttbr`, `hyp_tcr`, `hyp_ttbr0`,
/// `probe_count`, then the `probe_ipas` array. A symbol is written only for a register that has a value
/// (`probe_count`/`probe_ipas` only when there are probes); its word is there either way (zero).
struct RegisterPage {
    /// Physical address of the segment.
    let base: UInt64
    /// The segment's bytes (a whole number of 4 KiB pages).
    let bytes: [UInt8]
    /// Symbol name → (address, size) for the registers that have values.
    let symbols: [(name: String, address: UInt64, size: UInt64)]

    /// The segment for `registers`, placed clear of every region in `regions`.
    /// - Returns: nil if no free range below 2^52 is large enough (never for real memory maps).
    init?(registers: ImageRegisters, avoiding regions: [MemRegion]) {
        let probes = registers.probes ?? []
        let words: [UInt64] =
            [
                registers.vtcr ?? 0, registers.vttbr ?? 0, registers.hypTCR ?? 0, registers.hypTTBR0 ?? 0,
                UInt64(probes.count),
            ] + probes
        let size = Placement.alignUp(UInt64(words.count * 8), Placement.page)
        var top = ImageContents.physicalAddressLimit
        for r in regions.sorted(by: { $0.base > $1.base }) where r.end.rawValue > top - size {
            guard r.base.rawValue >= size else { return nil }
            top = min(top, Placement.alignDown(r.base.rawValue, Placement.page))
        }
        guard top >= size else { return nil }
        let base = top - size
        var bytes = [UInt8](repeating: 0, count: Int(size))
        for (i, w) in words.enumerated() {
            for b in 0..<8 { bytes[i * 8 + b] = UInt8(truncatingIfNeeded: w >> (8 * UInt64(b))) }
        }
        var symbols: [(String, UInt64, UInt64)] = []
        let named: [(RegisterSymbol, UInt64?)] = [
            (.vtcr, registers.vtcr), (.vttbr, registers.vttbr), (.hypTCR, registers.hypTCR),
            (.hypTTBR0, registers.hypTTBR0),
        ]
        for (i, (s, v)) in named.enumerated() where v != nil { symbols.append((s.rawValue, base + UInt64(i) * 8, 8)) }
        if registers.probes != nil {
            symbols.append((RegisterSymbol.probeCount.rawValue, base + 32, 8))
            symbols.append((RegisterSymbol.probeIPAs.rawValue, base + 40, UInt64(probes.count) * 8))
        }
        self.base = base
        self.bytes = bytes
        self.symbols = symbols
    }
}
