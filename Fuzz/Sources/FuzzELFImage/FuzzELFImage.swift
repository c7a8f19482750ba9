import ELFImage
import Mem

/// libFuzzer entry point: loads the input as an ELF test image (`ELFImage.load(bytes:)`, the same
/// validation and placement as loading a file, through libelf's `elf_memory`) into a machine that already
/// has RAM with known contents.
///
/// Any crash is a finding; so is a broken promise of the loader, checked here with `precondition`:
/// a failed load must leave the machine exactly as it was, and a successful one must have backed every
/// byte of every segment.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzELFImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let ramBase = PhysAddr(0x4000_0000)
    let marker: UInt64 = 0x5a5a_1234_5678_a5a5
    guard let mem = try? PhysMem(base: ramBase, size: 0x1_0000), (try? mem.write64(ramBase, marker)) != nil else {
        return 0
    }
    let before = mem.regions
    do {
        let image = try ELFImage.load(bytes: UnsafeRawBufferPointer(start: data, count: size), name: "input", into: mem)
        for s in image.segments where s.memorySize > 0 {
            let first = s.physicalAddress
            let last = s.physicalAddress + (s.memorySize - 1)
            precondition(
                mem.regions.contains { $0.base <= first && first < $0.end }
                    && mem.regions.contains { $0.base <= last && last < $0.end },
                "segment \(s.index) not backed after a successful load")
        }
    } catch {
        precondition(!error.description.isEmpty)
        precondition(mem.regions == before, "failed load changed the regions: \(error)")
        precondition((try? mem.read64(ramBase)) == marker, "failed load changed memory: \(error)")
    }
    return 0
}
