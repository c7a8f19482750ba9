import Benchmark
import Fixtures
import Mem
import Pgtable

/// The core's walkers and stage-2 operations (Linux `kvm_pgtable_*`), each against a fixture built in
/// the benchmark's setup, outside the measured closure. Per-operation figures (ns per lookup, per PTE,
/// per leaf) are derived from these by `Benchmarks/report.py`, which knows each benchmark's operation
/// count from its name.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal], warmupIterations: 2, maxDuration: .seconds(1), maxIterations: 2000)
    let lookup = Benchmark.Configuration(scalingFactor: .kilo)
    registerScaling()
    let gib: UInt64 = 1 << 30

    // Lookups: the raw-load floor and get_leaf on the same random addresses, per granule and level count.
    let lookupShapes = [
        Shape(.k4, levels: 4), Shape(.k4, levels: 3), Shape(.k16, levels: 3), Shape(.k16, levels: 2),
        Shape(.k64, levels: 3), Shape(.k64, levels: 2), Shape(.k4, levels: 4, blocks: true),
        Shape(.k4, levels: 3, blocks: true),
    ]
    for shape in lookupShapes {
        Benchmark("floor \(shape)", configuration: lookup) { benchmark, fx in
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
            try Fixture.mapped(shape, bytes: gib)
        }
        Benchmark("translate \(shape)", configuration: lookup) { benchmark, fx in
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
            try Fixture.lookups(shape, bytes: gib)
        }
        Benchmark("get_leaf \(shape)", configuration: lookup) { benchmark, fx in
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
            try Fixture.mapped(shape, bytes: gib)
        }
    }

    // Whole-range operations over 1 GiB, per granule (the deepest geometry each granule has).
    let rangeShapes = [Shape(.k4, levels: 4), Shape(.k16, levels: 3), Shape(.k64, levels: 3)]
    let blockShapes = [
        Shape(.k4, levels: 4, blocks: true), Shape(.k16, levels: 3, blocks: true), Shape(.k64, levels: 3, blocks: true),
    ]
    for shape in rangeShapes + blockShapes {
        // kvm_pgtable_stage2_map of the whole GiB in one call, into an empty table.
        Benchmark("map 1GiB \(shape)") { benchmark, fx in
            do {
                try fx.reset()
                benchmark.startMeasurement()
                try fx.table.map(Fixture.mapBase, size: gib, phys: fx.phys, prot: [.r, .w])
                benchmark.stopMeasurement()
            } catch { benchmark.error("map: \(error)") }
        } setup: {
            try Fixture(shape: shape, poolBytes: shape.poolBytes(mapping: gib))
        }
        // kvm_pgtable_stage2_unmap of the whole GiB in one call; the emptied tables are freed.
        Benchmark("unmap 1GiB \(shape)") { benchmark, fx in
            do {
                try fx.table.map(Fixture.mapBase, size: gib, phys: fx.phys, prot: [.r, .w])
                benchmark.startMeasurement()
                try fx.table.unmap(Fixture.mapBase, size: gib)
                benchmark.stopMeasurement()
            } catch { benchmark.error("unmap: \(error)") }
        } setup: {
            try Fixture(shape: shape, poolBytes: shape.poolBytes(mapping: gib))
        }
    }

    // One kvm_pgtable_stage2_map call per 4K page: into an empty table, and over existing mappings
    // (each page moved to another output address: break-before-make, no table allocation).
    let k4 = Shape(.k4, levels: 4)
    Benchmark("map 1GiB \(k4) single calls") { benchmark, fx in
        do {
            try fx.reset()
            let t = fx.table
            benchmark.startMeasurement()
            var a = Fixture.mapBase
            while a < Fixture.mapBase + gib {
                try t.map(a, size: 4096, phys: a, prot: [.r, .w])
                a += 4096
            }
            benchmark.stopMeasurement()
        } catch { benchmark.error("map: \(error)") }
    } setup: {
        try Fixture(shape: k4, poolBytes: k4.poolBytes(mapping: gib))
    }
    Benchmark("remap 1GiB \(k4) single calls") { benchmark, fx in
        do {
            fx.cursor ^= 1
            let shift = UInt64(fx.cursor) * gib
            let t = fx.table
            var a = Fixture.mapBase
            while a < Fixture.mapBase + gib {
                try t.map(a, size: 4096, phys: a + shift, prot: [.r, .w])
                a += 4096
            }
        } catch { benchmark.error("map: \(error)") }
    } setup: {
        try Fixture.mapped(k4, bytes: gib)
    }

    for shape in rangeShapes {
        // A full-tree LEAF walk (kvm_pgtable_walk over all of BIT(ia_bits)) counting valid leaves.
        Benchmark("visit 1GiB \(shape)") { benchmark, fx in
            do {
                var v = LeafCounter()
                _ = try fx.table.walk(0, size: fx.table.geometry.inputSize, flags: .leaf, visitor: &v)
                blackHole(v.valid)
            } catch { benchmark.error("walk: \(error)") }
        } setup: {
            try Fixture.mapped(shape, bytes: gib)
        }
        // kvm_pgtable_stage2_set_owner of the whole GiB (page by page) into an empty table.
        Benchmark("set_owner 1GiB \(shape)") { benchmark, fx in
            do {
                try fx.reset()
                benchmark.startMeasurement()
                try fx.table.setOwner(Fixture.mapBase, size: gib, owner: 1)
                benchmark.stopMeasurement()
            } catch { benchmark.error("set_owner: \(error)") }
        } setup: {
            try Fixture(shape: shape, poolBytes: shape.poolBytes(mapping: gib))
        }
        // kvm_pgtable_stage2_wrprotect of the whole GiB; W is set again outside the measurement.
        Benchmark("wrprotect 1GiB \(shape)") { benchmark, fx in
            do {
                _ = try fx.table.updateLeafAttributes(
                    Fixture.mapBase, size: gib, set: Descriptor.s2apW.mask, clear: 0)
                benchmark.startMeasurement()
                try fx.table.wrprotect(Fixture.mapBase, size: gib)
                benchmark.stopMeasurement()
            } catch { benchmark.error("wrprotect: \(error)") }
        } setup: {
            try Fixture.mapped(shape, bytes: gib)
        }
        // kvm_pgtable_stage2_test_clear_young(mkold) of the whole GiB; AF is set again outside the measurement.
        Benchmark("test_clear_young 1GiB \(shape)") { benchmark, fx in
            do {
                _ = try fx.table.updateLeafAttributes(Fixture.mapBase, size: gib, set: Descriptor.af.mask, clear: 0)
                benchmark.startMeasurement()
                blackHole(try fx.table.testClearYoung(Fixture.mapBase, size: gib, mkold: true))
                benchmark.stopMeasurement()
            } catch { benchmark.error("test_clear_young: \(error)") }
        } setup: {
            try Fixture.mapped(shape, bytes: gib)
        }
        // kvm_pgtable_stage2_relax_perms (add W) on every page of the GiB, one call per page, after
        // a wrprotect outside the measurement.
        Benchmark("relax_perms 1GiB \(shape) single calls") { benchmark, fx in
            do {
                try fx.table.wrprotect(Fixture.mapBase, size: gib)
                let page = shape.granule.size
                let t = fx.table
                benchmark.startMeasurement()
                var a = Fixture.mapBase
                while a < Fixture.mapBase + gib {
                    try t.relaxPerms(a, prot: [.r, .w])
                    a += page
                }
                benchmark.stopMeasurement()
            } catch { benchmark.error("relax_perms: \(error)") }
        } setup: {
            try Fixture.mapped(shape, bytes: gib)
        }
    }
}
