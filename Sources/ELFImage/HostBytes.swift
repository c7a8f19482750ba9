/// A manually managed copy of some bytes whose address libelf keeps (as `Elf_Data.d_buf`) until `elf_update`
/// has written them; at least one byte long, so there is always an address.
struct HostBytes {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(_ bytes: [UInt8]) {
        count = max(bytes.count, 1)
        pointer = .allocate(byteCount: count, alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count)
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { pointer.copyMemory(from: base, byteCount: src.count) }
        }
    }

    var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }
    func release() { pointer.deallocate() }
}
