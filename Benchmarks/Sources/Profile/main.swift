import Fixtures
import Hyp
import Mem
import Pgtable

#if canImport(Glibc)
    import Glibc
#endif

/// A plain loop over one workload, for `valgrind --tool=callgrind` (instruction counts are repeatable
/// where wall-clock time is not): `Profile <workload> [repeats]`, e.g.
/// `valgrind --tool=callgrind .build/release/Profile get_leaf 100`.
@inline(never)
func sink(_ v: UInt64) { withExtendedLifetime(v) {} }

/// Monotonic nanoseconds.
func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func run(_ workload: String, _ repeats: Int) throws {
    let gib: UInt64 = 1 << 30
    let k4 = Shape(.k4, levels: 4)
    switch workload {
    case "check":
        // The lookup fixtures of every shape PgtableBench uses: translate and get_leaf find each address.
        for shape in [
            Shape(.k4, levels: 4), Shape(.k4, levels: 3), Shape(.k16, levels: 3), Shape(.k16, levels: 2),
            Shape(.k64, levels: 3), Shape(.k64, levels: 2), Shape(.k4, levels: 4, blocks: true),
            Shape(.k4, levels: 3, blocks: true), Shape(.k16, levels: 3, blocks: true),
            Shape(.k64, levels: 3, blocks: true),
        ] {
            _ = try Fixture.lookups(shape, bytes: gib)
            print("\(shape): ok")
        }
    case "translate":
        let fx = try Fixture.lookups(k4, bytes: gib)
        let r = fx.regime
        var acc: UInt64 = 0
        for _ in 0..<repeats {
            for a in fx.addresses { acc ^= r.translate(a, .read, in: fx.mem).result?.parAddress ?? 0 }
        }
        sink(acc)
    case "floor", "get_leaf":
        let fx = try Fixture.mapped(k4, bytes: gib)
        let floor = fx.floor
        let t = fx.table
        var acc: UInt64 = 0
        if workload == "floor" {
            for _ in 0..<repeats { for a in fx.addresses { acc ^= floor.walk(a) } }
        } else {
            for _ in 0..<repeats { for a in fx.addresses { acc ^= try t.getLeaf(a).pte.rawValue } }
        }
        sink(acc)
    case "map", "set_owner", "map_single":
        let fx = try Fixture(shape: k4, poolBytes: k4.poolBytes(mapping: gib))
        var measured: UInt64 = 0
        defer { print("\(workload): \(Double(measured) / Double(max(repeats, 1) << 18)) ns per page (wall clock)") }
        for _ in 0..<repeats {
            try fx.reset()
            let t = fx.table
            let t0 = now()
            defer { measured += now() - t0 }
            switch workload {
            case "map": try t.map(Fixture.mapBase, size: gib, phys: Fixture.mapBase, prot: [.r, .w])
            case "set_owner": try t.setOwner(Fixture.mapBase, size: gib, owner: 1)
            default:
                var a = Fixture.mapBase
                while a < Fixture.mapBase + gib {
                    try t.map(a, size: 4096, phys: a, prot: [.r, .w])
                    a += 4096
                }
            }
        }
    case "unmap":
        let fx = try Fixture(shape: k4, poolBytes: k4.poolBytes(mapping: gib))
        for _ in 0..<repeats {
            try fx.table.map(Fixture.mapBase, size: gib, phys: Fixture.mapBase, prot: [.r, .w])
            try fx.table.unmap(Fixture.mapBase, size: gib)
        }
    case "visit":
        let fx = try Fixture.mapped(k4, bytes: gib)
        for _ in 0..<repeats {
            var v = LeafCounter()
            _ = try fx.table.walk(0, size: fx.table.geometry.inputSize, flags: .leaf, visitor: &v)
            sink(UInt64(v.valid))
        }
    case "wrprotect":
        let fx = try Fixture.mapped(k4, bytes: gib)
        for _ in 0..<repeats {
            _ = try fx.table.updateLeafAttributes(Fixture.mapBase, size: gib, set: Descriptor.s2apW.mask, clear: 0)
            try fx.table.wrprotect(Fixture.mapBase, size: gib)
        }
    case "migrate":
        // `repeats` GiB of host RAM.
        let m = try PKVMMachine(
            PKVMConfig(storage: .pte, ram: [MemoryMap.Region(base: 0x4000_0000, size: UInt64(repeats) << 30)]))
        sink(UInt64(try m.migrateToVmemmap().clearedPTEs))
    case "equivalence":
        // `repeats` thousand steps on 2 x 256 MiB, 4 guests.
        let ram = [
            MemoryMap.Region(base: 0x4000_0000, size: 256 << 20),
            MemoryMap.Region(base: 0x1_0000_0000, size: 256 << 20),
        ]
        let c = try EquivalenceChecker(
            PKVMConfig(storage: .pte, ram: ram), PKVMConfig(storage: .vmemmap, ram: ram), guests: 4)
        var g = c.generator(seed: 2026, hotPages: 4096)
        print(c.run(steps: repeats * 1000, generator: &g))
    default:
        print("unknown workload \(workload)")
        exit(2)
    }
}

let args = CommandLine.arguments
let workload = args.count > 1 ? args[1] : "get_leaf"
let repeats = args.count > 2 ? Int(args[2]) ?? 1 : 1
do { try run(workload, repeats) } catch {
    print("error: \(error)")
    exit(1)
}
