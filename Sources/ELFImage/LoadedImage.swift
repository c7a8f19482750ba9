import Mem

/// What `ELFImage.load` found in and placed from an ELF test image.
public struct LoadedImage: Sendable {
    /// The file's ELF type.
    public enum Kind: Equatable, Sendable {
        /// `ET_EXEC`: a test image.
        case executable
        /// `ET_CORE`: a memory dump (QEMU `dump-guest-memory`).
        case core
    }

    /// One `PT_LOAD` program header, as placed.
    public struct Segment: Equatable, Sendable {
        /// Index of the program header in the file's program header table (as `readelf -l` numbers them).
        public let index: Int
        /// Where the segment is placed (`p_paddr`).
        public let physicalAddress: PhysAddr
        /// The address the image was linked at (`p_vaddr`); symbols are translated through it.
        public let virtualAddress: UInt64
        /// Offset of its bytes in the file (`p_offset`).
        public let fileOffset: UInt64
        /// Bytes taken from the file (`p_filesz`).
        public let fileSize: UInt64
        /// Bytes in memory (`p_memsz`); the rest after `fileSize` is zero.
        public let memorySize: UInt64

        public init(
            index: Int, physicalAddress: PhysAddr, virtualAddress: UInt64, fileOffset: UInt64, fileSize: UInt64,
            memorySize: UInt64
        ) {
            self.index = index
            self.physicalAddress = physicalAddress
            self.virtualAddress = virtualAddress
            self.fileOffset = fileOffset
            self.fileSize = fileSize
            self.memorySize = memorySize
        }
    }

    /// The file loaded (or the name given to an in-memory image).
    public let path: String
    /// `ET_EXEC` or `ET_CORE`.
    public let kind: Kind
    /// The entry point (`e_entry`): where the image's EL2 program starts under QEMU.
    public let entry: UInt64
    /// The `PT_LOAD` segments in program header order.
    public let segments: [Segment]
    /// Every named, defined `.symtab` symbol and its value (the first definition of a name wins);
    /// empty for files without a symbol table (memory dumps).
    public let symbols: [String: UInt64]
    /// The register words read from the image, with the user's overrides applied.
    public let registers: ImageRegisters
}
