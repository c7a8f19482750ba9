import Glibc
import Hyp
import Mem
import Pgtable
import XCTest

/// Random pKVM transitions (the seeded `TransitionGenerator`, invalid and out-of-range requests included):
/// each one either succeeds with the ownership invariants intact, or fails (negative errno) with every byte
/// of emulated memory and the FF-A share counts exactly as before. HypTests checks hand-picked invalid
/// requests this way; this covers whatever the generator reaches.
final class TransitionAtomicityTests: XCTestCase {
    /// A copy of every region of `mem`.
    final class Snapshot {
        var copies: [(MemRegion, UnsafeMutableRawPointer)] = []
        init(_ mem: PhysMem) throws {
            for r in mem.regions {
                let p = UnsafeMutableRawPointer.allocate(byteCount: Int(r.size), alignment: 4096)
                p.copyMemory(from: try mem.pointer(r.base, size: r.size), byteCount: Int(r.size))
                copies.append((r, p))
            }
        }
        deinit { for (_, p) in copies { p.deallocate() } }
        /// The regions whose bytes differ from `mem`'s now.
        func changed(in mem: PhysMem) throws -> [MemRegion] {
            guard mem.regions == copies.map(\.0) else { return mem.regions }
            return try copies.filter { r, p in memcmp(p, try mem.pointer(r.base, size: r.size), Int(r.size)) != 0 }
                .map(\.0)
        }
        func retake(_ mem: PhysMem) throws {
            for (r, p) in copies { p.copyMemory(from: try mem.pointer(r.base, size: r.size), byteCount: Int(r.size)) }
        }
    }

    func run(_ storage: HostStateStorage, debug: Bool, seed: UInt64, steps: Int) throws {
        var config = PKVMConfig(storage: storage, ram: [MemoryMap.Region(base: 0x4000_0000, size: 8 << 20)])
        config.debug = debug
        let m = try PKVMMachine(config)
        var handles: [UInt32] = []
        for i: UInt64 in 0..<2 {
            let h = m.createGuest(vmPFN: 0x40010 + i * 4, pgdPFN: 0x40012 + i * 4)
            XCTAssertGreaterThan(h, 0)
            handles.append(UInt32(h))
        }
        var g = TransitionGenerator(seed: seed, hotPFN: 0x40100, hotPages: 128, guests: handles, gfnWindow: 256)
        g.outOfRangeRequests = true
        let snapshot = try Snapshot(m.mem)
        var ok = 0
        var failed = 0
        for step in 1...steps {
            let t = g.next { h in m.guest(h)?.pool.memcache?.count ?? 0 }
            let ffaBefore = m.ffaShared
            let r = m.apply(t)
            g.observe(t, result: r)
            let context = "\(storage) seed \(seed) step \(step): \(t) = \(r)"
            if r < 0 {
                failed += 1
                XCTAssertEqual(try snapshot.changed(in: m.mem), [], context)
                XCTAssertEqual(m.ffaShared, ffaBefore, context)
            } else {
                ok += 1
                if let (first, count) = t.physPages {
                    for p in first..<first + min(count, 16) where m.memoryMap.isMemory(p << 12) {
                        XCTAssertNil(m.checkInvariants(phys: p << 12), context)
                    }
                }
                try snapshot.retake(m.mem)
            }
            if step % 100 == 0 { XCTAssertNil(m.checkAllInvariants(), context) }
        }
        XCTAssertNil(m.checkAllInvariants())
        // Both outcomes were exercised in earnest.
        XCTAssertGreaterThan(ok, steps / 5, "\(storage): \(ok) successes")
        XCTAssertGreaterThan(failed, steps / 10, "\(storage): \(failed) failures")
    }

    func testVmemmapStorage() throws { try run(.vmemmap, debug: false, seed: 31, steps: 400) }

    func testPTEStorageWithDebugChecks() throws { try run(.pte, debug: true, seed: 32, steps: 400) }
}

/// Found by FuzzPKVM (input Fuzz/corpus/FuzzPKVM/unpin-huge-count): `unpin` of a pinned page with a page count
/// of 0x0282_0000_0000_0000 ran one `hyp_page_ref_dec` per page, through 2^48 pages, warning on each.
final class UnpinHugeCountTests: XCTestCase {
    func testUnpinStopsAtTheFirstZeroCount() throws {
        let m = try PKVMMachine(PKVMConfig(storage: .vmemmap, ram: [MemoryMap.Region(base: 0x4000_0000, size: 8 << 20)]))
        XCTAssertEqual(m.hostShareHyp(pfn: 0x40021), 0)
        XCTAssertEqual(m.hypPinSharedMem(pfn: 0x40021, pages: 1), 0)
        XCTAssertEqual(m.hostUnshareHyp(pfn: 0x40021), -KernelErrno.EBUSY)
        m.hypUnpinSharedMem(pfn: 0x40021, pages: 180_710_244_421_370_112)
        // The pinned page was unpinned, the next one (count 0) is the BUG_ON: one warning, and it stopped.
        XCTAssertEqual(m.warnings, 1)
        XCTAssertTrue(m.lastWarning.contains("BUG_ON"), m.lastWarning)
        XCTAssertEqual(m.hostUnshareHyp(pfn: 0x40021), 0)
    }

    /// Found by FuzzPKVM (input Fuzz/corpus/FuzzPKVM/pin-wrapping-range): `pin 0x40041 0xffff_ffff_ffff_fffd`.
    /// `hyp_pin_shared_mem` loops `for (cur = start; cur < end; ...)`: with an end that wraps past 2^64 the
    /// state checks walk an empty range and the loop runs no time; the model looped through 2^52 pages.
    func testPinOfAWrappingRangePinsNothing() throws {
        for storage in HostStateStorage.allCases {
            let m = try PKVMMachine(PKVMConfig(storage: storage, ram: [MemoryMap.Region(base: 0x4000_0000, size: 8 << 20)]))
            let before = try m.mem.read(PhysAddr(0x4000_0000), count: 8 << 20)
            _ = m.hypPinSharedMem(pfn: 0x40041, pages: 0xffff_ffff_ffff_fffd)
            m.hypUnpinSharedMem(pfn: 0x40041, pages: 0xffff_ffff_ffff_fffd)
            XCTAssertTrue(try m.mem.read(PhysAddr(0x4000_0000), count: 8 << 20) == before, "\(storage)")
            XCTAssertEqual(m.warnings, 0, "\(storage): \(m.lastWarning)")
        }
    }

    /// `share_ffa` / `unshare_ffa` with a page count whose `PAGE_SIZE * nr_pages` wraps (found by FuzzPKVM as a
    /// hang, `Fuzz/crashes/FuzzPKVM-share-ffa-wrapping-size`): the range end wraps below its start, so the
    /// kernel's `cur < end` loops visit no page; the model's FF-A share counts now do the same.
    func testFFAShareOfAWrappingSizeVisitsNothing() throws {
        for storage in HostStateStorage.allCases {
            let m = try PKVMMachine(PKVMConfig(storage: storage, ram: [MemoryMap.Region(base: 0x4000_0000, size: 8 << 20)]))
            let before = try m.mem.read(PhysAddr(0x4000_0000), count: 8 << 20)
            _ = m.hostShareFFA(pfn: 0x40025, pages: 0x00ff_ffff_ffff_ffff)
            _ = m.hostUnshareFFA(pfn: 0x40025, pages: 0x00ff_ffff_ffff_ffff)
            XCTAssertTrue(try m.mem.read(PhysAddr(0x4000_0000), count: 8 << 20) == before, "\(storage)")
            XCTAssertEqual(m.hostState(0x4002_5000), .owned, "\(storage)")
        }
    }
}
