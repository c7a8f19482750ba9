import Mem

/// Loading and saving ELF test images (`shared/IMAGE-FORMAT.md`): ELF64 little-endian AArch64 files whose
/// `PT_LOAD` segments are physical memory and whose symbols name the register words of a stage-2 and a hyp
/// stage-1 regime. All ELF structure is read and written through libelf/gelf.
public enum ELFImage {
    /// Loads the image at `path` into `mem`.
    ///
    /// The whole file is validated first (ELF header, every program header, the symbol table, the register
    /// words); only then is anything placed: each `PT_LOAD` at `p_paddr`, `p_filesz` bytes from the file
    /// then zeros up to `p_memsz`. With `createRegions`, regions are added for the 4 KiB pages the segments
    /// touch that `mem` does not back yet (large 2 MiB-aligned runs of file bytes are mapped from the file
    /// copy-on-write, so untouched pages are never read); without it, `mem` must back every segment byte.
    /// Register values come from the words the symbols name; every non-nil value of `overrides` wins.
    ///
    /// - Throws: an `ELFImageError` naming the file and the segment or symbol at fault. On any error `mem`
    ///   is exactly as before: same regions, same bytes.
    public static func load(
        path: String, into mem: PhysMem, overrides: ImageRegisters = ImageRegisters(), createRegions: Bool = true
    ) throws(ELFImageError) -> LoadedImage {
        try load(ELFFile(path: path), into: mem, overrides: overrides, createRegions: createRegions)
    }

    /// Loads an image held in memory (`elf_memory`), named `name` in errors and in the result; otherwise as
    /// `load(path:into:overrides:createRegions:)`, except that segments are always copied.
    public static func load(
        bytes: UnsafeRawBufferPointer, name: String, into mem: PhysMem, overrides: ImageRegisters = ImageRegisters(),
        createRegions: Bool = true
    ) throws(ELFImageError) -> LoadedImage {
        try load(ELFFile(bytes: bytes, name: name), into: mem, overrides: overrides, createRegions: createRegions)
    }

    static func load(_ file: ELFFile, into mem: PhysMem, overrides: ImageRegisters, createRegions: Bool)
        throws(ELFImageError) -> LoadedImage
    {
        let contents = try ImageContents(file)
        let placement = try Placement(contents, file: file, mem: mem, createRegions: createRegions)
        try placement.apply(file: file, mem: mem)
        return LoadedImage(
            path: file.name, kind: contents.kind, entry: contents.entry, segments: contents.segments,
            symbols: contents.symbols,
            registers: contents.registers.overridden(by: overrides))
    }

    /// Writes every backed region of `mem` and `registers` as an ELF test image of the same convention.
    ///
    /// One `PT_LOAD` per region (`p_paddr = p_vaddr = base`, `p_filesz = p_memsz = size`; all-zero pages are
    /// left as holes of a sparse file), plus a register segment at the top of the 52-bit physical address space
    /// holding the words `.symtab` names (`RegisterPage`: `s2_vtcr`, `s2_vttbr`, `hyp_tcr`, `hyp_ttbr0`,
    /// `probe_count`, `probe_ipas`, each symbol only when the register has a value). `ET_EXEC`, `EM_AARCH64`,
    /// entry point `entry`. Loading the file back gives the same bytes in the same regions plus the register
    /// segment, and the same registers.
    ///
    /// The file is written beside `path` under a temporary name and renamed into place, so `path` is either
    /// the complete new image or left as it was. Regions backed by a shared file mapping are flushed to their
    /// files first (`PhysMem.flush`, `msync`), so a saved machine never has newer bytes than its backing files.
    /// - Throws: `cannotSave` if a region reaches beyond 52 bits, there are more than
    ///   `maxProbes` probes, or writing fails.
    public static func save(_ mem: PhysMem, registers: ImageRegisters, entry: UInt64 = 0, to path: String)
        throws(ELFImageError)
    {
        let regions = mem.regions
        if let r = regions.first(where: { $0.end.rawValue > ImageContents.physicalAddressLimit || $0.end.rawValue == 0 }
        ) {
            throw .cannotSave(file: path, operation: "layout", reason: "region \(r) reaches beyond 52 bits")
        }
        if let probes = registers.probes, UInt64(probes.count) > ImageContents.maxProbes {
            throw .cannotSave(file: path, operation: "layout", reason: "\(probes.count) probes exceed the limit")
        }
        guard let page = RegisterPage(registers: registers, avoiding: regions) else {
            throw .cannotSave(file: path, operation: "layout", reason: "no free range below 2^52 for the registers")
        }
        do { try mem.flush() } catch {
            throw .cannotSave(file: path, operation: "msync", reason: error.description)
        }
        try ImageWriter(path: path, regions: regions, registerPage: page, entry: entry).write(mem)
    }
}
