import Mem
import Pgtable
import XCTest

/// Seeded random map / unmap / set_owner sequences over eight level-2 block slots of IPA (16 MiB for 4K,
/// 256 MiB for 16K, 4 GiB for 64K), checking after every step the invariants Linux v6.14 `pgtable.c` keeps:
/// - every table page's reference count is 1 + its entries with `stage2_pte_is_counted` (non-zero);
/// - every page inside the step's range reads back (`kvm_pgtable_get_leaf`) as the step made it;
/// - pages outside the range are either unchanged or were dropped with their block (the kernel never
///   rebuilds the rest of a block it splits, and unmap removes whole blocks), never anything else;
/// and at the end, unmapping everything returns the pool to just the root pages.
final class Stage2PropertyTests: XCTestCase {
    enum PageState: Equatable {
        case none
        case mapped(phys: UInt64, prot: Prot)
        case owned
    }

    func testRandomSequences4K() throws {
        for seed: UInt64 in [1, 2, 3] {
            try run(granule: .k4, ipaBits: 40, seed: seed, steps: 60)
        }
    }

    func testRandomSequences16K() throws {
        try run(granule: .k16, ipaBits: 40, seed: 4, steps: 40)
    }

    func testRandomSequences64K() throws {
        try run(granule: .k64, ipaBits: 44, seed: 5, steps: 20)
    }

    func run(granule: Granule, ipaBits: Int, seed: UInt64, steps: Int) throws {
        var rng = SplitMix64(seed: seed)
        let f = try TableFixture(granule: granule, pages: 64)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: granule, ipaBits: ipaBits))
        let roots = f.allocated
        let pageSize = granule.size
        let blockSize = granule.levelSize(2)
        let span = 8 * blockSize
        var model: [UInt64: PageState] = [:]  // page index → state, for pages ever touched
        let prots: [Prot] = [.rw, .r, .rwx, [.r, .device]]

        for step in 0..<steps {
            // Ranges: sometimes one whole level-2 block slot (so blocks appear), otherwise a few pages.
            let start: UInt64
            let size: UInt64
            if rng.next() % 3 == 0 {
                start = (rng.next() % 8) * blockSize
                size = blockSize
            } else {
                start = (rng.next() % (span / pageSize - 8)) * pageSize
                size = (1 + rng.next() % 8) * pageSize
            }
            let first = start / pageSize
            let range = first..<first + size / pageSize
            let what = rng.next() % 3
            let context = "\(granule) seed \(seed) step \(step) op \(what) at 0x\(String(start, radix: 16))"
            switch what {
            case 0:
                let prot = prots[Int(rng.next() % UInt64(prots.count))]
                let phys = 0x1_0000_0000 + start
                try s2.map(start, size: size, phys: phys, prot: prot)
                try reconcile(s2, &model, except: range, pageSize: pageSize)
                for i in range {
                    let pagePhys = phys + (i - first) * pageSize
                    // stage2_pte_needs_update: where the entry the walk stops at already maps this address with
                    // the same memory type, only the permissions would differ and the entry is left alone
                    // (-EAGAIN, ignored outside a fault). Which entry that is depends on the block structure,
                    // so the old permissions are accepted then; the model records what the table holds.
                    var allowed = [prot]
                    if case .mapped(let p, let oldProt) = model[i], p == pagePhys,
                        oldProt.contains(.device) == prot.contains(.device)
                    {
                        allowed.append(oldProt)
                    }
                    let got = try s2.getLeaf(i * pageSize).pte
                    let gotProt = Stage2Attributes.prot(of: got).union(prot.intersection(.device))
                    XCTAssertTrue(allowed.contains(gotProt), "\(context): \(gotProt) not in \(allowed)")
                    model[i] = .mapped(phys: pagePhys, prot: gotProt)
                }
            case 1:
                try s2.unmap(start, size: size)
                for i in range { model[i] = PageState.none }
                try reconcile(s2, &model, except: range, pageSize: pageSize)
            default:
                try s2.setOwner(start, size: size, owner: 1)
                for i in range { model[i] = .owned }
                try reconcile(s2, &model, except: range, pageSize: pageSize)
            }
            try checkRefcounts(f, granule: granule, context: context)
            for (i, state) in model {
                try checkPage(s2, ipa: i * pageSize, expect: state, context: context)
            }
        }
        try s2.unmap(0, size: span)
        XCTAssertEqual(f.allocated, roots, "\(granule) seed \(seed)")
    }

    /// Pages outside `except` may only have been dropped (their block or table removed): update the model.
    func reconcile(_ s2: Stage2Table<PagePool>, _ model: inout [UInt64: PageState], except: Range<UInt64>,
                   pageSize: UInt64) throws {
        for (i, state) in model where !except.contains(i) && state != .none {
            if try s2.getLeaf(i * pageSize).pte.rawValue == 0 { model[i] = PageState.none }
        }
    }

    func checkPage(_ s2: Stage2Table<PagePool>, ipa: UInt64, expect: PageState, context: String) throws {
        let (pte, level) = try s2.getLeaf(ipa)
        let granule = s2.geometry.granule
        let here = "\(context): page 0x\(String(ipa, radix: 16))"
        switch expect {
        case .none:
            XCTAssertEqual(pte.rawValue, 0, here)
        case .owned:
            XCTAssertEqual(pte.rawValue, 4, here)
            XCTAssertEqual(level, 3, here)
        case .mapped(let phys, let prot):
            let blockSize = granule.levelSize(level)
            let oa = pte.outputAddress(granule: granule, format: s2.geometry.format) + (ipa & (blockSize - 1))
            XCTAssertTrue(pte.isValid, here)
            XCTAssertEqual(oa, phys, here)
            let attr = try Stage2Attributes.attributes(for: prot, fwb: true, lpa2: false)
            let nonPermission = (Descriptor.attrLo.mask | Descriptor.attrHi.mask) & ~Stage2Attributes.permissions
            XCTAssertEqual(pte.rawValue & nonPermission, attr & nonPermission, here)
        }
    }

    /// Every allocated page: count == 1 + non-zero entries (all pool pages here are table pages).
    func checkRefcounts(_ f: TableFixture, granule: Granule, context: String) throws {
        for (page, count) in f.allocated {
            let entries = try f.nonZeroEntries(page, granule: granule).count
            XCTAssertEqual(count, 1 + entries, "\(context): page 0x\(String(page, radix: 16))")
        }
    }
}
