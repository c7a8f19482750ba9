import Mem
import Pgtable
import XCTest

/// Seeded random sequences of every `kvm_pgtable` operation, filling gaps left by PgtableTests'
/// Stage2PropertyTests (which covers map / unmap / set_owner on 48-bit stage-2 tables):
/// - stage 2 with the attribute operations mixed in (wrprotect, relax_perms, mkyoung, test_clear_young)
///   and LPA2 (52-bit, 4K level -1 and 16K) geometries, with and without FWB;
/// - the hyp stage 1 (`kvm_pgtable_hyp_map` / `unmap`), which no property test covered.
/// After every step the table is well formed with the reference counts the kernel keeps; a successful map
/// reads back (`get_leaf`) as mapped; unmapping everything leaves the root alone, empty; destroy frees all.
final class TableOperationPropertyTests: XCTestCase {
    static let prots: [Prot] = [.r, .rw, .rwx, [.r, .x], [.r, .device], [.rw, .normalNC], [.rw, .sw1]]

    /// The output address `get_leaf` gives for the page at `addr`.
    func mappedAddress(_ pgt: PgtableRoot, _ mem: PhysMem, _ addr: UInt64) throws -> UInt64? {
        let g = pgt.geometry
        let (pte, level) = try pgt.leaf(mem: mem, addr: addr)
        guard pte.isValid else { return nil }
        return g.format.address(of: pte.rawValue, shift: g.granule.levelShift(level))
            + (addr & (g.granule.levelSize(level) - 1))
    }

    func runStage2(_ g: Geometry, flags: Stage2Flags, seed: UInt64, steps: Int) throws {
        var rng = SplitMix64(seed: seed)
        let pages = 64
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: UInt64(pages) << UInt64(g.granule.shift))
        let pool = try PagePool(
            mem: mem, base: PhysAddr(0x4000_0000), size: UInt64(pages) << UInt64(g.granule.shift),
            pageShift: g.granule.shift)
        let s2 = try Stage2Table(mm: pool, geometry: g, flags: flags)
        let page = g.granule.size
        let block = g.granule.levelSize(2)
        // High in the input space, so the upper levels (and LPA2's level -1) are exercised.
        let window = g.inputSize - 8 * block
        var failures = 0
        for step in 0..<steps {
            let whole = rng.below(3) == 0
            let addr = window + (whole ? rng.below(8) * block : rng.below(8 * block / page - 8) * page)
            let size = whole ? block : (1 + rng.below(8)) * page
            // Output addresses above 48 bits when the format holds them.
            let phys = (rng.below(2) == 0 ? addr : rng.below(1 << UInt64(g.oaBits - 21)) << 21) & ~(page - 1)
            let prot = Self.prots[Int(rng.below(UInt64(Self.prots.count)))]
            let context = "\(g) seed \(seed) step \(step)"
            do {
                switch rng.below(8) {
                case 0, 1, 2:
                    try s2.map(addr, size: size, phys: phys, prot: prot)
                    XCTAssertEqual(try mappedAddress(s2.pgt, mem, addr), phys, context)
                    XCTAssertEqual(try mappedAddress(s2.pgt, mem, addr + size - page), phys + size - page, context)
                    let (pte, _) = try s2.getLeaf(addr)
                    XCTAssertEqual(Stage2Attributes.prot(of: pte).intersection(.rwx), prot.intersection(.rwx), context)
                case 3: try s2.unmap(addr, size: size)
                case 4: try s2.setOwner(addr, size: size, owner: 1)
                case 5: try s2.wrprotect(addr, size: size)
                case 6: try s2.relaxPerms(addr, prot: prot)
                default:
                    // On a valid leaf: young after mkyoung, old after test_clear_young(mkold). (On an invalid
                    // one the attribute walker's -EAGAIN is dropped outside fault handling: both are no-ops.)
                    let valid = try mappedAddress(s2.pgt, mem, addr) != nil
                    try s2.mkyoung(addr)
                    XCTAssertEqual(try s2.testClearYoung(addr, size: page, mkold: true), valid, context)
                    XCTAssertFalse(try s2.testClearYoung(addr, size: page, mkold: false), context)
                }
            } catch let e {
                // Allowed failures only: no memory left, or an attribute change on an unmapped page.
                failures += 1
                switch e as? PgtableError {
                case .outOfMemory?, .tryAgain?: break
                case .invalidArgument? where !prot.isDisjoint(with: [.device, .sw1]): break
                default: XCTFail("\(context): \(e)")
                }
            }
            XCTAssertEqual(s2.pgt.wellFormednessProblems(mem: mem, pool: pool), [], context)
        }
        XCTAssertLessThan(failures, steps / 2, "\(g): most steps should succeed")
        try s2.unmap(0, size: g.inputSize)
        XCTAssertEqual(pool.allocatedPages.count, g.rootPages, "\(g): unmap of everything left tables")
        XCTAssertTrue(pool.allocatedPages.allSatisfy { $0.count == 1 })
        XCTAssertTrue(s2.pgt.validLeaves(mem: mem).isEmpty)
        try s2.destroy()
        XCTAssertEqual(pool.usedPages, 0)
    }

    func testStage2AllOperationsLPA2FourLevelMinusOne() throws {
        try runStage2(
            Geometry(granule: .k4, iaBits: 52, startLevel: -1, oaBits: 52, lpa2: true), flags: [], seed: 11, steps: 80)
    }

    func testStage2AllOperationsLPA2Sixteen() throws {
        try runStage2(
            Geometry.kernelStage2(granule: .k16, ipaBits: 52, oaBits: 52, lpa2: true), flags: [.noFWB], seed: 12,
            steps: 50)
    }

    func testStage2AllOperations64KLPA() throws {
        try runStage2(Geometry.kernelStage2(granule: .k64, ipaBits: 52, oaBits: 52), flags: [], seed: 13, steps: 30)
    }

    /// Hyp stage 1: maps over holes (the kernel's hyp never remaps; `hyp_map_walker` over a block it only
    /// partly covers leaks the block's reference, in the kernel as here), each read back; unmaps of whole
    /// leaves; then every leaf unmapped leaves the root alone with count 1.
    func testHypMapGetLeafUnmap() throws {
        for (granule, vaBits, seed) in [(Granule.k4, 48, UInt64(21)), (.k16, 47, 22), (.k64, 48, 23)] {
            var rng = SplitMix64(seed: seed)
            let g = try Geometry.kernelHyp(granule: granule, vaBits: vaBits)
            let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: 64 << UInt64(granule.shift))
            let pool = try PagePool(
                mem: mem, base: PhysAddr(0x4000_0000), size: 64 << UInt64(granule.shift), pageShift: granule.shift)
            let hyp = try HypTable(mm: pool, geometry: g)
            let page = granule.size
            let block = granule.levelSize(2)
            var maps = 0
            for step in 0..<60 {
                let context = "hyp \(g) step \(step)"
                let whole = rng.below(4) == 0
                let va = (1 << UInt64(vaBits - 1)) + (whole ? rng.below(4) * block : rng.below(4 * block / page - 8) * page)
                let size = whole ? block : (1 + rng.below(8)) * page
                let covered = stride(from: va, to: va + size, by: Int(page))
                if rng.below(3) != 0 {
                    guard try covered.allSatisfy({ try mappedAddress(hyp.pgt, mem, $0) == nil }) else { continue }
                    let pa = (rng.below(1 << 20) << 21) + (va & (block - 1))
                    do {
                        try hyp.map(va, size: size, phys: pa, prot: [.r, .rw, [.r, .x]][Int(rng.below(3))])
                    } catch .outOfMemory { continue }
                    maps += 1
                    for p in covered {
                        XCTAssertEqual(try mappedAddress(hyp.pgt, mem, p), pa + (p - va), context)
                    }
                } else if let (leafVA, leafSize) = hyp.pgt.validLeaves(mem: mem).randomElement(using: &rng) {
                    XCTAssertEqual(try hyp.unmap(leafVA, size: leafSize), leafSize, context)
                    for p in stride(from: leafVA, to: leafVA + leafSize, by: Int(page)) {
                        XCTAssertNil(try mappedAddress(hyp.pgt, mem, p), context)
                    }
                }
                XCTAssertEqual(hyp.pgt.wellFormednessProblems(mem: mem, pool: pool), [], context)
            }
            XCTAssertGreaterThan(maps, 10)
            for (va, size) in hyp.pgt.validLeaves(mem: mem) {
                XCTAssertEqual(try hyp.unmap(va, size: size), size)
            }
            XCTAssertEqual(pool.allocatedPages.map(\.count), [1], "\(g): unmapping every leaf left tables")
            try hyp.destroy()
            XCTAssertEqual(pool.usedPages, 0)
        }
    }
}

extension SplitMix64: RandomNumberGenerator {}
