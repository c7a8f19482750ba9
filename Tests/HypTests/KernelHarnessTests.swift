import Foundation
import Mem
import Pgtable
import XCTest

@testable import Hyp

/// The v6.14 machine against the kernel's own code: a harness (outside this repository) linked the
/// hash-verified v6.14 `arch/arm64/kvm/hyp/pgtable.c` and `nvhe/page_alloc.c` under a C transcription of the
/// v6.14 `mem_protect.c` transitions, booted like `PKVMMachine` (64 MiB RAM at 0x4000_0000, 40-bit PA, carve-out
/// at the top of RAM), and ran the scripts below. The expected values are that harness's output: FNV-1a hashes
/// of every return value, of every table page reachable from each root (pre-order: address, 512 entries,
/// then the child tables), and of every `struct hyp_page` of RAM. Built with `-DPTE`, the harness keeps the host
/// state as v6.13 did (host stage-2 walk for checks, `pkvm_mkstate(PKVM_HOST_MEM_PROT, state)` mappings, no
/// vmemmap state, the 4-byte v6.13 `struct hyp_page`, guest-share counts in a side table): that is compared with
/// the `pte` machine.
final class KernelHarnessTests: XCTestCase {
    static let ram = [MemoryMap.Region(base: 0x4000_0000, size: 64 << 20)]

    struct Hashes: Equatable, CustomStringConvertible {
        var returns: UInt64
        var hyp: UInt64
        var host: UInt64
        var guests: [UInt64]
        var vmemmap: UInt64
        var description: String {
            "returns 0x\(String(returns, radix: 16)) hyp 0x\(String(hyp, radix: 16)) host 0x\(String(host, radix: 16)) "
                + "guests \(guests.map { "0x" + String($0, radix: 16) }) vmemmap 0x\(String(vmemmap, radix: 16))"
        }
    }

    struct FNV {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func out(_ v: UInt64, bytes: Int = 8) {
            for i in 0..<bytes {
                h ^= (v >> UInt64(8 * i)) & 0xff
                h = h &* 0x100_0000_01b3
            }
        }
    }

    func tableHash(_ m: PKVMMachine, root: PhysAddr, pages: Int, level: Int) throws -> UInt64 {
        var f = FNV()
        func table(_ pa: UInt64, _ level: Int) throws {
            f.out(pa)
            let words = (0..<512).map { (try? m.mem.read64(PhysAddr(pa + UInt64($0) * 8))) ?? 0 }
            for w in words { f.out(w) }
            guard level < 3 else { return }
            for w in words where w & 3 == 3 { try table(w & 0x0000_ffff_ffff_f000, level + 1) }
        }
        for i in 0..<pages { try table(root.rawValue + UInt64(i) * 0x1000, level) }
        return f.h
    }

    /// Runs `lines` (the harness's script language: transitions plus `create_guest VM PGD`) on a v6.14 machine.
    func run(_ lines: [String], storage: HostStateStorage = .vmemmap) throws -> Hashes {
        let m = try PKVMMachine(PKVMConfig(storage: storage, ram: Self.ram))
        var rets = FNV()
        for line in lines {
            let r: Int32
            if line.hasPrefix("create_guest") {
                let w = line.split(separator: " ").map { UInt64($0.dropFirst(2), radix: 16) ?? 0 }
                r = m.createGuest(vmPFN: w[1], pgdPFN: w[2])
            } else {
                let t = try XCTUnwrap(Transition(parsing: line), line)
                r = m.apply(t)
            }
            rets.out(UInt64(UInt32(bitPattern: r)), bytes: 4)
        }
        var vm = FNV()
        for pfn in m.vmemmap.pfnRanges[0] {
            let a = try XCTUnwrap(m.vmemmap.entryAddress(pfn))
            if storage == .vmemmap {
                vm.out(try m.mem.read64(a))
            } else {
                vm.out(UInt64(try m.mem.read(a, count: 4).reversed().reduce(0) { $0 << 8 | UInt32($1) }), bytes: 4)
            }
        }
        return Hashes(
            returns: rets.h, hyp: try tableHash(m, root: m.hyp.root, pages: 1, level: 0),
            host: try tableHash(m, root: m.host.root, pages: 2, level: 1),
            guests: try m.guests.map { try tableHash(m, root: $0.pgd, pages: 2, level: 1) }, vmemmap: vm.h)
    }

    func testOneShare() throws {
        XCTAssertEqual(
            try run(["share_hyp 0x40000"]),
            Hashes(
                returns: 0x4d25_767f_9dce_13f5, hyp: 0x1cce_a558_bfb4_a86b, host: 0x5449_c81b_09ef_817a, guests: [],
                vmemmap: 0x34b5_9559_6559_efec))
    }
    func testOneSharePTE() throws {
        XCTAssertEqual(
            try run(["share_hyp 0x40000"], storage: .pte),
            Hashes(
                returns: 0x4d25_767f_9dce_13f5, hyp: 0x1cce_a558_bfb4_a86b, host: 0xd4d4_3ce5_d323_788f, guests: [],
                vmemmap: 0xfd43_fb7d_4862_3ebe))
    }

    /// The script of a seeded random run: three guests, then `steps` generated transitions (generated against
    /// a v6.14 machine, whose results steer the generator). `S2EMU_HARNESS_SCRIPT=path` writes it out for the
    /// harness.
    func randomScript(seed: UInt64, steps: Int) throws -> [String] {
        let m = try PKVMMachine(PKVMConfig(storage: .vmemmap, ram: Self.ram))
        var lines: [String] = []
        var handles: [UInt32] = []
        for i: UInt64 in 0..<3 {
            let vm = 0x40010 + 4 * i
            lines.append("create_guest 0x\(String(vm, radix: 16)) 0x\(String(vm + 2, radix: 16))")
            handles.append(UInt32(m.createGuest(vmPFN: vm, pgdPFN: vm + 2)))
        }
        var g = TransitionGenerator(seed: seed, hotPFN: 0x40100, hotPages: 512, guests: handles)
        for _ in 0..<steps {
            let t = g.next { h in m.guest(h)?.pool.memcache?.count ?? 0 }
            g.observe(t, result: m.apply(t))
            lines.append(t.description)
        }
        if let path = ProcessInfo.processInfo.environment["S2EMU_HARNESS_SCRIPT"] {
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        return lines
    }

    func testRandomRun() throws {
        let lines = try randomScript(seed: 614, steps: 20000)
        XCTAssertEqual(lines.count, 20003)
        XCTAssertEqual(
            try run(lines),
            Hashes(
                returns: 0xb3c9_ff3e_6602_4992, hyp: 0xa305_64c4_91d1_1739, host: 0xaac9_fd60_b229_b356,
                guests: [0xacdc_4490_eef6_7888, 0xff32_10a4_3bc9_9582, 0x8269_9965_46c8_97be],
                vmemmap: 0xc6ec_e7a8_fed5_c097))
        // The same script over the v6.13 storage: hyp and guest tables identical, host tables, returns and
        // vmemmap (4-byte entries, no state) as the -DPTE harness gives them.
        XCTAssertEqual(
            try run(lines, storage: .pte),
            Hashes(
                returns: 0x7f29_0333_5bc9_b03c, hyp: 0xa305_64c4_91d1_1739, host: 0x5441_bf84_9c99_286a,
                guests: [0xacdc_4490_eef6_7888, 0xff32_10a4_3bc9_9582, 0x8269_9965_46c8_97be],
                vmemmap: 0x7d35_23c5_2387_af29))
    }
}
