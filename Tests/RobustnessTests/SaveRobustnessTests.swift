import ELFImage
import Foundation
import Mem
import Pgtable
import XCTest

/// Nothing lost on save: an interrupted save (the writer killed with SIGKILL half way through a large
/// image) leaves the previous file byte for byte and no partial file under its name; saving a machine over
/// the very image it was loaded from (whose bytes are still mapped from that file) writes the machine.
final class SaveRobustnessTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "s2emu-robust-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The `s2emu` built next to the test runner (`.build/<configuration>/`).
    static var s2emu: String {
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: runner).deletingLastPathComponent().appendingPathComponent("s2emu").path
    }

    /// Fills `count` bytes at `p` with a pattern no page of which is zero (so the writer cannot skip it).
    static func fill(_ p: UnsafeMutableRawPointer, count: Int, seed: UInt64) {
        let words = p.bindMemory(to: UInt64.self, capacity: count / 8)
        var x = seed | 1
        for i in 0..<(count / 8) {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            words[i] = x
        }
    }

    func testKilledSaveKeepsThePreviousFile() throws {
        // The previous file: a small machine saved normally.
        let previous = dir + "/machine.elf"
        let small = try PhysMem(base: PhysAddr(0x4000_0000), size: 0x4000)
        try small.write64(PhysAddr(0x4000_0008), 0x1234_5678_9abc_def0)
        try ELFImage.save(small, registers: ImageRegisters(vtcr: 0x8002_3558), to: previous)
        let previousBytes = try Data(contentsOf: URL(fileURLWithPath: previous))

        // A large machine (192 MiB of non-zero pages) for the child to save over it.
        let big = dir + "/big.elf"
        let size = 192 << 20
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: UInt64(size))
        Self.fill(try mem.pointer(PhysAddr(0x4000_0000), size: UInt64(size)), count: size, seed: 7)
        try ELFImage.save(mem, registers: ImageRegisters(vtcr: 0x8002_3558), to: big)

        // `s2emu save --image big.elf machine.elf`, killed once its temporary file holds some of the image.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: Self.s2emu)
        child.arguments = ["save", "--image", big, previous]
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        // The writer's file has no name while it is written (O_TMPFILE): watch its descriptor instead.
        var sawPartial = false
        let deadline = Date().addingTimeInterval(60)
        while child.isRunning && Date() < deadline {
            if Self.writtenBytes(pid: child.processIdentifier, directory: dir) >= 8 << 20 {
                kill(child.processIdentifier, SIGKILL)
                sawPartial = true
                break
            }
            usleep(200)
        }
        child.waitUntilExit()
        XCTAssertTrue(sawPartial, "the save finished before it could be interrupted (status \(child.terminationStatus))")
        XCTAssertEqual(child.terminationReason, .uncaughtSignal)

        // The previous file is untouched and still loads.
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: previous)), previousBytes)
        let again = PhysMem()
        let image = try ELFImage.load(path: previous, into: again)
        XCTAssertEqual(image.registers.vtcr, 0x8002_3558)
        XCTAssertEqual(try again.read64(PhysAddr(0x4000_0008)), 0x1234_5678_9abc_def0)
        // No partial file is left anywhere: not under the image's name, not as a temporary.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["big.elf", "machine.elf"])
    }

    /// The size of the largest file `pid` has open for writing in `directory` (an unnamed O_TMPFILE file
    /// shows in /proc as `<directory>/#<inode> (deleted)`), 0 if none.
    static func writtenBytes(pid: Int32, directory: String) -> UInt64 {
        let fds = "/proc/\(pid)/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: fds) else { return 0 }
        var largest: UInt64 = 0
        for e in entries {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + e),
                target.hasPrefix(directory + "/"), !target.hasSuffix("/big.elf")
            else { continue }
            var st = stat()
            if stat(fds + "/" + e, &st) == 0 { largest = max(largest, UInt64(st.st_size)) }
        }
        return largest
    }

    /// A loaded image's bytes are mapped from its file (copy on write); saving the modified machine over
    /// that same file must write the machine as it is now, not a mixture of old file and new bytes.
    func testSaveOverTheImageItWasLoadedFrom() throws {
        let path = dir + "/self.elf"
        let size = 4 << 20
        let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: UInt64(size))
        Self.fill(try mem.pointer(PhysAddr(0x4000_0000), size: UInt64(size)), count: size, seed: 11)
        try ELFImage.save(mem, registers: ImageRegisters(), to: path)

        let loaded = PhysMem()
        _ = try ELFImage.load(path: path, into: loaded)
        // Change a word in every page, and zero one page entirely (a hole in the new file).
        for page in stride(from: 0, to: size, by: 0x1000) {
            try loaded.write64(PhysAddr(0x4000_0000 + UInt64(page) + 8), UInt64(page) ^ 0x5a5a)
        }
        try loaded.zero(PhysAddr(0x4000_3000), count: 0x1000)
        let expected = try loaded.read(PhysAddr(0x4000_0000), count: size)
        try ELFImage.save(loaded, registers: ImageRegisters(vttbr: 0x4000_0000), to: path)

        let copy = PhysMem()
        let image = try ELFImage.load(path: path, into: copy)
        XCTAssertEqual(image.registers.vttbr, 0x4000_0000)
        XCTAssertTrue(try copy.read(PhysAddr(0x4000_0000), count: size) == expected)
        // The machine that was loaded from the old file still reads its own bytes.
        XCTAssertTrue(try loaded.read(PhysAddr(0x4000_0000), count: size) == expected)
    }

    /// A region backed by a shared file mapping: after a save, both the image and the backing file hold the
    /// bytes written through the machine. (`save` calls `PhysMem.flush`, `msync(MS_SYNC)`, first; the page
    /// cache makes the bytes visible to this process either way, so what this checks is the data, and that
    /// a save with a file-backed region succeeds; durability across a crash of the host is msync's part.)
    func testSaveWithASharedFileBackedRegion() throws {
        let backing = dir + "/ram.bin"
        XCTAssertTrue(FileManager.default.createFile(atPath: backing, contents: Data(count: 0x4000)))
        let mem = PhysMem()
        try mem.addRegion(base: PhysAddr(0x8000_0000), size: 0x4000, backing: .file(path: backing, offset: 0, shared: true))
        try mem.write64(PhysAddr(0x8000_1008), 0xfeed_f00d_dead_beef)
        let path = dir + "/shared.elf"
        try ELFImage.save(mem, registers: ImageRegisters(), to: path)
        let file = try Data(contentsOf: URL(fileURLWithPath: backing))
        XCTAssertEqual(file.count, 0x4000)
        XCTAssertEqual(file[0x1008..<0x1010].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }, 0xfeed_f00d_dead_beef)
        let copy = PhysMem()
        _ = try ELFImage.load(path: path, into: copy)
        XCTAssertEqual(try copy.read64(PhysAddr(0x8000_1008)), 0xfeed_f00d_dead_beef)
    }

    /// A machine with a stage-2 table: saved and loaded, every walk of the copy gives the same leaf.
    func testTablesSurviveTheRoundTrip() throws {
        var rng = SplitMix64(seed: 41)
        for granule in [Granule.k4, .k16, .k64] {
            let poolSize: UInt64 = 32 << UInt64(granule.shift)
            let mem = try PhysMem(base: PhysAddr(0x4000_0000), size: poolSize)
            let pool = try PagePool(mem: mem, base: PhysAddr(0x4000_0000), size: poolSize, pageShift: granule.shift)
            let g = try Geometry.kernelStage2(granule: granule, ipaBits: 40)
            let s2 = try Stage2Table(mm: pool, geometry: g)
            var probes: [UInt64] = []
            for _ in 0..<24 {
                let ipa = rng.below(1 << 28) & ~(granule.size - 1)
                try s2.map(ipa, size: granule.size * (1 + rng.below(4)), phys: rng.below(1 << 36), prot: .rw)
                probes.append(ipa)
            }
            let path = dir + "/tables-\(granule).elf"
            try ELFImage.save(
                mem, registers: ImageRegisters(vtcr: g.vtcr.rawValue, vttbr: s2.root.rawValue, probes: probes), to: path)
            let copy = PhysMem()
            let image = try ELFImage.load(path: path, into: copy)
            XCTAssertEqual(image.registers.probes, probes)
            XCTAssertEqual(try Geometry(vtcr: VTCR(try XCTUnwrap(image.registers.vtcr))), g)
            let reloaded = PgtableRoot(root: PhysAddr(try XCTUnwrap(image.registers.vttbr)), geometry: g)
            for ipa in probes {
                let a = try s2.getLeaf(ipa)
                let b = try reloaded.leaf(mem: copy, addr: ipa)
                XCTAssertEqual(a.pte, b.pte, "\(granule) 0x\(String(ipa, radix: 16))")
                XCTAssertEqual(a.level, b.level)
            }
        }
    }
}
