import Benchmark
import Fixtures
import Mem
import Pgtable

/// The mapped sizes the scaling benchmarks run at, with their names.
let scalingSizes: [(name: String, bytes: UInt64)] = [
    ("1MiB", 1 << 20), ("64MiB", 64 << 20), ("1GiB", 1 << 30), ("16GiB", 16 << 30), ("64GiB", 64 << 30),
]

/// How cost grows with the mapped size: lookups (floor, translate and get_leaf on 2^20 random addresses over
/// the whole mapping), a one-call map into an empty table, and a full-tree visit, all 4K pages, 4 levels.
func registerScaling() {
    let shape = Shape(.k4, levels: 4)
    for (name, bytes) in scalingSizes {
        let big = bytes >= 16 << 30
        let long = Benchmark.Configuration(
            warmupIterations: 1, maxDuration: .seconds(big ? 4 : 1), maxIterations: big ? 8 : 2000)
        let lookup = Benchmark.Configuration(scalingFactor: .kilo)
        Benchmark("scale floor \(name)", configuration: lookup) { benchmark, fx in
            let floor = fx.floor
            let a = fx.addresses
            let mask = a.count - 1
            var j = fx.cursor
            for _ in benchmark.scaledIterations {
                blackHole(floor.walk(a[j]))
                j = (j &+ 1) & mask
            }
            fx.cursor = j
        } setup: {
            try Fixture.lookups(shape, bytes: bytes, addressCount: 1 << 20)
        }
        Benchmark("scale translate \(name)", configuration: lookup) { benchmark, fx in
            let r = fx.regime
            let mem = fx.mem
            let a = fx.addresses
            let mask = a.count - 1
            var j = fx.cursor
            for _ in benchmark.scaledIterations {
                blackHole(r.translate(a[j], .read, in: mem))
                j = (j &+ 1) & mask
            }
            fx.cursor = j
        } setup: {
            try Fixture.lookups(shape, bytes: bytes, addressCount: 1 << 20)
        }
        Benchmark("scale get_leaf \(name)", configuration: lookup) { benchmark, fx in
            let t = fx.table
            let a = fx.addresses
            let mask = a.count - 1
            var j = fx.cursor
            for _ in benchmark.scaledIterations {
                do { blackHole(try t.getLeaf(a[j]).pte.rawValue) } catch { blackHole(error) }
                j = (j &+ 1) & mask
            }
            fx.cursor = j
        } setup: {
            try Fixture.lookups(shape, bytes: bytes, addressCount: 1 << 20)
        }
        Benchmark("scale map \(name)", configuration: long) { benchmark, fx in
            do {
                try fx.reset()
                benchmark.startMeasurement()
                try fx.table.map(Fixture.mapBase, size: bytes, phys: Fixture.mapBase, prot: [.r, .w])
                benchmark.stopMeasurement()
            } catch { benchmark.error("map: \(error)") }
        } setup: {
            try Fixture(shape: shape, poolBytes: shape.poolBytes(mapping: bytes))
        }
        Benchmark("scale visit \(name)", configuration: long) { benchmark, fx in
            do {
                var v = LeafCounter()
                _ = try fx.table.walk(0, size: fx.table.geometry.inputSize, flags: .leaf, visitor: &v)
                blackHole(v.valid)
            } catch { benchmark.error("walk: \(error)") }
        } setup: {
            try Fixture.mapped(shape, bytes: bytes)
        }
    }
}
