import Benchmark
import ELFImage
import Mem
import Pgtable

#if canImport(Glibc)
    import Glibc
#endif

/// ELF image load (Sources/ELFImage): a saved 2 GiB RAM holding a stage 2 that maps 1 GiB as 4K pages
/// (2 MiB of tables, the rest zero and so holes of a sparse file), loaded into a fresh `PhysMem` per
/// iteration. The image is written once, in setup.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal], warmupIterations: 2, maxDuration: .seconds(1), maxIterations: 500)
    Benchmark("elf load 2GiB sparse") { benchmark, path in
        let mem = PhysMem()
        do {
            benchmark.startMeasurement()
            let image = try ELFImage.load(path: path, into: mem)
            benchmark.stopMeasurement()
            blackHole(image.entry)
        } catch { benchmark.error("load: \(error)") }
    } setup: {
        try writeImage()
    } teardown: {
        _ = unlink(imagePath)
    }
}

let imagePath = "/tmp/s2emu-bench-\(getpid()).elf"

/// Saves the 2 GiB machine to `imagePath`.
func writeImage() throws -> String {
    let ram = PhysAddr(0x4000_0000)
    let mem = try PhysMem(base: ram, size: 2 << 30)
    let pool = try PagePool(mem: mem, base: ram + (1 << 30), size: 64 << 20)
    let g = try Geometry.kernelStage2(granule: .k4, ipaBits: 40)
    let table = try Stage2Table(mm: pool, geometry: g, forcePTE: { _, _, _ in true })
    try table.map(0x4000_0000, size: 1 << 30, phys: 0x4000_0000, prot: [.r, .w])
    let regs = ImageRegisters(vtcr: g.vtcr.rawValue, vttbr: table.root.rawValue)
    try ELFImage.save(mem, registers: regs, to: imagePath)
    return imagePath
}
