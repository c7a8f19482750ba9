import Mem
import Pgtable
import XCTest

/// Seeded random map / unmap / set_owner sequences on a 4K, 40-bit stage 2 over the first 16 MiB of IPA
/// (eight 2M block slots), checking after every step the invariants the kernel's `pgtable.c` keeps:
/// - every table page's reference count is 1 + its entries with `stage2_pte_is_counted` (non-zero);
/// - every page inside the step's range reads back (kvm_pgtable_get_leaf) as the step made it;
/// - pages outside the range are either unchanged or were dropped whole with their block (the kernel never
///   splits a block into more than the new mapping, and unmap removes whole blocks), never anything else;
/// and at the end, unmapping everything returns the pool to just the two root pages.
final class Stage2PropertyTests: XCTestCase {
    enum PageState: Equatable {
        case none
        case mapped(phys: UInt64, prot: Prot)
        case owned
    }

    let span: UInt64 = 16 << 20
    let pageSize: UInt64 = 0x1000

    func testRandomSequences() throws {
        for seed: UInt64 in [1, 2, 3] {
            try run(seed: seed, steps: 60)
        }
    }

    func run(seed: UInt64, steps: Int) throws {
        var rng = SplitMix64(seed: seed)
        let f = try TableFixture(granule: .k4, pages: 96)
        let s2 = try Stage2Table(mm: f.pool, geometry: Geometry.kernelStage2(granule: .k4, ipaBits: 40))
        var model = [PageState](repeating: .none, count: Int(span / pageSize))
        let prots: [Prot] = [.rw, .r, .rwx, [.r, .device]]

        for step in 0..<steps {
            // Ranges: sometimes 2M aligned and 2M long (so blocks appear), otherwise a few pages.
            let blocky = rng.next() % 3 == 0
            let start: UInt64
            let size: UInt64
            if blocky {
                start = (rng.next() % 8) << 21
                size = 0x20_0000
            } else {
                start = (rng.next() % (span / pageSize - 8)) * pageSize
                size = (1 + rng.next() % 8) * pageSize
            }
            let first = Int(start / pageSize)
            let pages = Int(size / pageSize)
            let what = rng.next() % 3
            switch what {
            case 0:
                let prot = prots[Int(rng.next() % UInt64(prots.count))]
                let phys = 0x1_0000_0000 + start
                try s2.map(start, size: size, phys: phys, prot: prot)
                try reconcile(s2, &model, except: first..<first + pages)
                for i in 0..<pages {
                    let pagePhys = phys + UInt64(i) * pageSize
                    // stage2_pte_needs_update: where the entry the walk stops at already maps this address with
                    // the same memory type, only the permissions would differ and the entry is left alone
                    // (-EAGAIN, ignored outside a fault). Which entry that is depends on the block structure, so
                    // accept the old permissions in that case and record what the table holds.
                    var allowed = [prot]
                    if case .mapped(let p, let oldProt) = model[first + i], p == pagePhys,
                        oldProt.contains(.device) == prot.contains(.device)
                    {
                        allowed.append(oldProt)
                    }
                    let got = try s2.getLeaf(start + UInt64(i) * pageSize).pte
                    let gotProt = Stage2Attributes.prot(of: got).union(prot.intersection(.device))
                    XCTAssertTrue(allowed.contains(gotProt), "seed \(seed) step \(step): \(gotProt) not in \(allowed)")
                    model[first + i] = .mapped(phys: pagePhys, prot: gotProt)
                }
            case 1:
                try s2.unmap(start, size: size)
                for i in first..<first + pages { model[i] = .none }
                try reconcile(s2, &model, except: first..<first + pages)
            default:
                try s2.setOwner(start, size: size, owner: 1)
                for i in first..<first + pages { model[i] = .owned }
                try reconcile(s2, &model, except: first..<first + pages)
            }
            try checkRefcounts(f)
            for i in 0..<model.count {
                try checkPage(s2, index: i, expect: model[i], context: "seed \(seed) step \(step) op \(what)")
            }
        }
        try s2.unmap(0, size: span)
        XCTAssertEqual(f.allocated, [0x4000_0000: 1, 0x4000_1000: 1], "seed \(seed)")
    }

    /// Pages outside `except` may only have been dropped (their block or table removed): update the model.
    func reconcile(_ s2: Stage2Table<PagePool>, _ model: inout [PageState], except: Range<Int>) throws {
        for i in 0..<model.count where !except.contains(i) && model[i] != .none {
            let leaf = try s2.getLeaf(UInt64(i) * pageSize)
            if leaf.pte.rawValue == 0 { model[i] = .none }
        }
    }

    func checkPage(_ s2: Stage2Table<PagePool>, index: Int, expect: PageState, context: String) throws {
        let ipa = UInt64(index) * pageSize
        let (pte, level) = try s2.getLeaf(ipa)
        switch expect {
        case .none:
            XCTAssertEqual(pte.rawValue, 0, "\(context): page 0x\(String(ipa, radix: 16))")
        case .owned:
            XCTAssertEqual(pte.rawValue, 4, "\(context): page 0x\(String(ipa, radix: 16))")
            XCTAssertEqual(level, 3, context)
        case .mapped(let phys, let prot):
            let blockSize = Granule.k4.levelSize(level)
            let oa = pte.outputAddress(granule: .k4, format: .pa48) + (ipa & (blockSize - 1))
            XCTAssertTrue(pte.isValid, "\(context): page 0x\(String(ipa, radix: 16))")
            XCTAssertEqual(oa, phys, "\(context): page 0x\(String(ipa, radix: 16))")
            let attr = try Stage2Attributes.attributes(for: prot, fwb: true, lpa2: false)
            let permissionMask = Stage2Attributes.permissions
            XCTAssertEqual(
                pte.rawValue & (Descriptor.attrLo.mask | Descriptor.attrHi.mask) & ~permissionMask,
                attr & ~permissionMask, context)
        }
    }

    /// Every allocated page: count == 1 + non-zero entries (all pool pages here are table pages).
    func checkRefcounts(_ f: TableFixture) throws {
        for (page, count) in f.allocated {
            let entries = try f.nonZeroEntries(page, granule: .k4).count
            XCTAssertEqual(count, 1 + entries, "page 0x\(String(page, radix: 16))")
        }
    }
}
