import ArgumentParser
import Mem
import Pgtable

@main
struct S2emu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s2emu",
        abstract: "AArch64 stage-2 page-table emulator, bit-exact with Linux pKVM.",
        subcommands: [Demo.self],
        defaultSubcommand: Demo.self
    )
}

/// Builds the default stage-2 table and prints a walk of it.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the default stage-2 table (4K, 40-bit IPA) and print the walk of an address.")

    @Argument(help: "IPA to walk (hex or decimal).", transform: parseNumber)
    var ipa: UInt64 = 0x4000_1000

    func run() throws {
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 1 << 30)
        let pool = try PagePool(mem: mem, base: PhysAddr(0x7000_0000), size: 16 << 20)
        let geometry = try Geometry.kernelStage2(granule: .k4, ipaBits: 40)
        let s2 = try Stage2Table(mm: pool, geometry: geometry)
        try s2.map(0x4000_0000, size: 1 << 21, phys: 0x4000_0000, prot: .rwx)
        try s2.map(0x4020_0000, size: 1 << 12, phys: 0x4020_0000, prot: .rw)
        try s2.map(0x0900_0000, size: 1 << 12, phys: 0x0900_0000, prot: [.r, .w, .device])
        print("stage 2: \(geometry), root \(s2.root)")
        for step in try s2.pgt.trace(mem: mem, addr: ipa) {
            let fields = step.descriptor.fields(
                level: step.level, granule: geometry.granule, format: geometry.format, regime: .stage2
            ).map { "\($0.0)=0x\(String($0.1, radix: 16))" }.joined(separator: " ")
            print("L\(step.level) table \(step.tableAddress)[\(step.index)] @\(step.entryAddress) = \(step.descriptor) \(step.kind.rawValue) \(fields)")
        }
    }
}

/// Parses `0x`-prefixed hex or decimal, with `_` separators.
func parseNumber(_ text: String) throws -> UInt64 {
    let t = text.filter { $0 != "_" }.lowercased()
    let v = t.hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t)
    guard let v else { throw ValidationError("'\(text)' is not a number") }
    return v
}
