import Benchmark
import Hyp
import Mem
import Pgtable

/// pKVM model benchmarks (Sources/Hyp): ownership transitions per second for both host-state storages,
/// the `pte` → `vmemmap` migration of a 64 GiB host, and the equivalence checker's steps per second.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal], warmupIterations: 2, maxDuration: .seconds(1), maxIterations: 2000)
    let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]
    /// The window of host pages the transitions cycle through (4096 pages, 1 MiB into RAM).
    let hot: UInt64 = 0x40100
    let window: UInt64 = 4096

    for storage in HostStateStorage.allCases {
        // __pkvm_host_share_hyp + __pkvm_host_unshare_hyp of one page: 2 transitions per scaled iteration.
        Benchmark("hyp share_hyp+unshare_hyp \(storage)", configuration: .init(scalingFactor: .kilo)) { benchmark, m in
            var bad: Int32 = 0
            for i in benchmark.scaledIterations {
                let pfn = hot + UInt64(i) % window
                bad |= m.hostShareHyp(pfn: pfn) | m.hostUnshareHyp(pfn: pfn)
            }
            if bad != 0 { benchmark.error("share/unshare hyp failed: \(bad)") }
        } setup: {
            try PKVMMachine(PKVMConfig(storage: storage, ram: ram))
        }
        // __pkvm_host_share_guest + __pkvm_host_unshare_guest of one page: 2 transitions per scaled iteration.
        Benchmark("hyp share_guest+unshare_guest \(storage)", configuration: .init(scalingFactor: .kilo)) {
            benchmark, fx in
            let (m, handle) = fx
            var bad: Int32 = 0
            for i in benchmark.scaledIterations {
                let page = UInt64(i) % window
                bad |= m.hostShareGuest(pfn: hot + page, gfn: page, guest: handle, prot: [.r, .w])
                bad |= m.hostUnshareGuest(gfn: page, guest: handle)
            }
            if bad != 0 { benchmark.error("share/unshare guest failed: \(bad)") }
        } setup: {
            try guestMachine(storage: storage, ram: ram, hot: hot, window: window)
        }
    }

    // pte -> vmemmap migration of a live 64 GiB host (16 M pages); the machine is built outside the measurement.
    let big = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 30)]
    Benchmark(
        "hyp migrate pte->vmemmap 64GiB",
        configuration: .init(warmupIterations: 0, maxDuration: .seconds(10), maxIterations: 3)
    ) { benchmark in
        do {
            let m = try PKVMMachine(PKVMConfig(storage: .pte, ram: big))
            for p in 0..<UInt64(64) { _ = m.hostShareHyp(pfn: hot + p) }
            benchmark.startMeasurement()
            blackHole(try m.migrateToVmemmap())
            benchmark.stopMeasurement()
        } catch { benchmark.error("migration: \(error)") }
    }

    // The equivalence checker (pte v6.13 against vmemmap v6.14, 2 x 256 MiB, 4 guests): 10,000 generated
    // steps per iteration, with the checker's full comparison at the start and end of each run.
    let twoRegions = [
        MemoryMap.Region(base: 0x4000_0000, size: 256 << 20), MemoryMap.Region(base: 0x1_0000_0000, size: 256 << 20),
    ]
    Benchmark(
        "hyp equivalence 10k steps",
        configuration: .init(warmupIterations: 1, maxDuration: .seconds(5), maxIterations: 20)
    ) { benchmark, fx in
        let r = fx.checker.run(steps: 10_000, generator: &fx.generator)
        if !r.isEquivalent { benchmark.error("\(r)") }
    } setup: {
        try CheckerFixture(twoRegions)
    }
}

/// A machine with one guest whose memcache is topped up, and the guest's handle.
func guestMachine(storage: HostStateStorage, ram: [MemoryMap.Region], hot: UInt64, window: UInt64) throws
    -> (PKVMMachine, UInt32)
{
    let m = try PKVMMachine(PKVMConfig(storage: storage, ram: ram))
    let base = ram[0].base >> 12
    let h = m.createGuest(vmPFN: base + 16, pgdPFN: base + 18)
    guard h > 0 else { throw HypBenchError.setup("create guest: \(h)") }
    let handle = UInt32(h)
    // Enough memcache pages for the guest's tables over the window (64 pages, far from the hot window).
    for p in 0..<UInt64(64) {
        let r = m.topUpGuestMemcache(guest: handle, pfn: hot + window + 0x100 + p)
        guard r == 0 else { throw HypBenchError.setup("topup: \(r)") }
    }
    for page in 0..<window {
        let r1 = m.hostShareGuest(pfn: hot + page, gfn: page, guest: handle, prot: [.r, .w])
        let r2 = m.hostUnshareGuest(gfn: page, guest: handle)
        guard r1 == 0, r2 == 0 else { throw HypBenchError.setup("share/unshare guest page \(page): \(r1) \(r2)") }
    }
    return (m, handle)
}

/// The checker and its generator, kept across iterations.
final class CheckerFixture: @unchecked Sendable {
    let checker: EquivalenceChecker
    var generator: TransitionGenerator

    init(_ ram: [MemoryMap.Region]) throws {
        checker = try EquivalenceChecker(
            PKVMConfig(storage: .pte, ram: ram), PKVMConfig(storage: .vmemmap, ram: ram), guests: 4)
        generator = checker.generator(seed: 2026, hotPages: 4096)
    }
}

enum HypBenchError: Error {
    case setup(String)
}
