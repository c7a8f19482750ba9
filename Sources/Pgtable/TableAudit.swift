import Mem

/// A whole-table audit for tests, fuzzing and `check`-style tools: reads a table from the root down, as the
/// reference-count and well-formedness invariants need it (not a hot path).
extension PgtableRoot {
    /// Problems with this table, whose pages come from `pool`: a table page not allocated or
    /// reached twice, an allocated page not reached, a block where the kernel makes none, a reserved
    /// level-3 encoding, a reference count other than 1 + the non-zero entries (`stage2_pte_is_counted`;
    /// for hyp tables every non-zero entry is valid). Empty when the table is well formed.
    public func wellFormednessProblems(mem: PhysMem, pool: PagePool) -> [String] {
        let g = geometry
        var seen: Set<UInt64> = []
        var out: [String] = []
        func descend(_ table: UInt64, _ level: Int) {
            let hex = "0x" + String(table, radix: 16)
            guard pool.pageCount(PhysAddr(table)) > 0 else { return out.append("table \(hex) not allocated") }
            guard seen.insert(table).inserted else { return out.append("table \(hex) reached twice") }
            guard let p = try? mem.pointer(PhysAddr(table), size: g.granule.size) else {
                return out.append("table \(hex) outside memory")
            }
            var counted = 0
            for i in 0..<g.granule.entries {
                let d = UInt64(littleEndian: p.load(fromByteOffset: i * 8, as: UInt64.self))
                if d != 0 { counted += 1 }
                guard d & 1 != 0 else { continue }
                if level == Granule.lastLevel {
                    if d & 2 == 0 { out.append("reserved level-3 encoding at \(hex)[\(i)]") }
                } else if d & 2 != 0 {
                    descend(g.format.address(of: d, shift: g.granule.shift), level + 1)
                } else if !g.granule.supportsBlock(at: level) {
                    out.append("block at level \(level) at \(hex)[\(i)]")
                }
            }
            let count = pool.pageCount(PhysAddr(table))
            if count != 1 + counted { out.append("table \(hex): count \(count) for \(counted) counted entries") }
        }
        for i in 0..<UInt64(g.rootPages) { descend(root.rawValue + i * g.granule.size, g.startLevel) }
        for (page, _) in pool.allocatedPages where !seen.contains(page.rawValue) {
            out.append("allocated page 0x\(String(page.rawValue, radix: 16)) not reachable from the root")
        }
        return out
    }

    /// Every valid leaf as (input address, size), in address order.
    public func validLeaves(mem: PhysMem) -> [(UInt64, UInt64)] {
        let g = geometry
        var out: [(UInt64, UInt64)] = []
        func descend(_ table: UInt64, _ level: Int, _ base: UInt64) {
            guard let p = try? mem.pointer(PhysAddr(table), size: g.granule.size) else { return }
            let span = g.granule.levelSize(level)
            for i in 0..<g.granule.entries {
                let d = UInt64(littleEndian: p.load(fromByteOffset: i * 8, as: UInt64.self))
                guard d & 1 != 0 else { continue }
                let va = base + UInt64(i) * span
                if level < Granule.lastLevel && d & 2 != 0 {
                    descend(g.format.address(of: d, shift: g.granule.shift), level + 1, va)
                } else {
                    out.append((va, span))
                }
            }
        }
        let rootSpan = g.granule.levelSize(g.startLevel) * UInt64(g.granule.entries)
        for i in 0..<UInt64(g.rootPages) {
            descend(root.rawValue + i * g.granule.size, g.startLevel, i * rootSpan)
        }
        return out
    }
}
