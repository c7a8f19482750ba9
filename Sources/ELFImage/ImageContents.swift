import CLibELF
import Mem

/// Everything `ELFImage.load` needs from a file, read and checked through libelf before memory is touched:
/// the `PT_LOAD` segments, the symbols and the register words they name.
struct ImageContents {
    let kind: LoadedImage.Kind
    let entry: UInt64
    let segments: [LoadedImage.Segment]
    let symbols: [String: UInt64]
    let registers: ImageRegisters

    /// The largest physical address space AArch64 has (FEAT_LPA / FEAT_LPA2: 52 bits).
    static let physicalAddressLimit: UInt64 = 1 << 52

    /// The most probe addresses an image may list (8 MiB of words), so that a corrupt `probe_count` cannot
    /// make the loader allocate without bound.
    static let maxProbes: UInt64 = 1 << 20

    /// Reads and validates `file` (`IMAGE-FORMAT.md`): ELF header, program headers, symbol table, register words.
    init(_ file: ELFFile) throws(ELFImageError) {
        let name = file.name
        guard elf_kind(file.elf) == ELF_K_ELF else { throw .notELF(file: name) }
        guard let ident = elf_getident(file.elf, nil) else {
            throw .truncatedHeader(file: name, header: "ELF identification", reason: ELFFile.lastError)
        }
        let elfClass = UInt8(bitPattern: ident[Int(EI_CLASS)])
        guard elfClass == UInt8(ELFCLASS64) else { throw .wrongClass(file: name, elfClass: elfClass) }
        let encoding = UInt8(bitPattern: ident[Int(EI_DATA)])
        guard encoding == UInt8(ELFDATA2LSB) else { throw .wrongEndianness(file: name, encoding: encoding) }
        var ehdr = GElf_Ehdr()
        guard gelf_getehdr(file.elf, &ehdr) != nil else {
            throw .truncatedHeader(file: name, header: "ELF header", reason: ELFFile.lastError)
        }
        guard ehdr.e_machine == UInt16(EM_AARCH64) else { throw .wrongMachine(file: name, machine: ehdr.e_machine) }
        entry = ehdr.e_entry
        switch Int32(ehdr.e_type) {
        case ET_EXEC: kind = .executable
        case ET_CORE: kind = .core
        default: throw .wrongType(file: name, type: ehdr.e_type)
        }
        segments = try Self.loadSegments(file)
        symbols = try Self.symbols(file, sectionHeaderOffset: ehdr.e_shoff)
        registers = try Self.registers(file, segments: segments, symbols: symbols)
    }

    /// The `PT_LOAD` program headers, each checked on its own, then against each other for overlap.
    static func loadSegments(_ file: ELFFile) throws(ELFImageError) -> [LoadedImage.Segment] {
        let name = file.name
        var count = 0
        guard elf_getphdrnum(file.elf, &count) == 0 else {
            throw .truncatedHeader(file: name, header: "program header table", reason: ELFFile.lastError)
        }
        var out: [LoadedImage.Segment] = []
        for i in 0..<count {
            var ph = GElf_Phdr()
            guard gelf_getphdr(file.elf, Int32(i), &ph) != nil else {
                throw .truncatedHeader(file: name, header: "program header table", reason: ELFFile.lastError)
            }
            guard ph.p_type == UInt32(PT_LOAD) else { continue }
            guard ph.p_filesz <= ph.p_memsz else {
                throw .fileSizeExceedsMemorySize(file: name, segment: i, fileSize: ph.p_filesz, memorySize: ph.p_memsz)
            }
            guard ph.p_offset <= file.size, ph.p_filesz <= file.size - ph.p_offset else {
                throw .segmentPastEndOfFile(
                    file: name, segment: i, offset: ph.p_offset, size: ph.p_filesz, fileSize: file.size)
            }
            for address in [ph.p_paddr, ph.p_vaddr] where address > UInt64.max - ph.p_memsz {
                throw .addressOverflow(file: name, segment: i, address: address, size: ph.p_memsz)
            }
            guard ph.p_paddr + ph.p_memsz <= physicalAddressLimit else {
                throw .addressBeyond52Bits(file: name, segment: i, address: ph.p_paddr, size: ph.p_memsz)
            }
            out.append(
                LoadedImage.Segment(
                    index: i, physicalAddress: PhysAddr(ph.p_paddr), virtualAddress: ph.p_vaddr,
                    fileOffset: ph.p_offset, fileSize: ph.p_filesz, memorySize: ph.p_memsz))
        }
        guard !out.isEmpty else { throw .noLoadSegments(file: name) }
        let placed = out.filter { $0.memorySize > 0 }.sorted { $0.physicalAddress < $1.physicalAddress }
        for (lower, upper) in zip(placed, placed.dropFirst())
        where upper.physicalAddress.rawValue < lower.physicalAddress.rawValue + lower.memorySize {
            let (first, second) = lower.index < upper.index ? (lower, upper) : (upper, lower)
            throw .overlappingSegments(
                file: name, segment: second.index, address: second.physicalAddress.rawValue,
                size: second.memorySize, other: first.index, otherAddress: first.physicalAddress.rawValue,
                otherSize: first.memorySize)
        }
        return out
    }

    /// The named, defined symbols of every `SHT_SYMTAB` section (first definition of a name wins;
    /// a register symbol defined twice is an error).
    /// libelf reports no sections at all when the section header table lies outside the file; a non-zero
    /// `e_shoff` (`sectionHeaderOffset`) with no sections is therefore a truncated table.
    static func symbols(_ file: ELFFile, sectionHeaderOffset: UInt64) throws(ELFImageError) -> [String: UInt64] {
        let name = file.name
        var sectionCount = 0
        guard elf_getshdrnum(file.elf, &sectionCount) == 0 else {
            throw .truncatedHeader(file: name, header: "section header table", reason: ELFFile.lastError)
        }
        guard sectionCount > 0 || sectionHeaderOffset == 0 else {
            throw .truncatedHeader(
                file: name, header: "section header table",
                reason: "e_shoff \(hex(sectionHeaderOffset)) is outside the file")
        }
        let registerNames = Set(RegisterSymbol.allCases.map(\.rawValue))
        let symbolSize = gelf_fsize(file.elf, ELF_T_SYM, 1, clibelf_ev_current)
        var out: [String: UInt64] = [:]
        for index in 1..<max(sectionCount, 1) {
            guard let scn = elf_getscn(file.elf, index) else {
                throw .truncatedHeader(file: name, header: "section header \(index)", reason: ELFFile.lastError)
            }
            var sh = GElf_Shdr()
            guard gelf_getshdr(scn, &sh) != nil else {
                throw .truncatedHeader(file: name, header: "section header \(index)", reason: ELFFile.lastError)
            }
            guard sh.sh_type == UInt32(SHT_SYMTAB) else { continue }
            guard let data = elf_getdata(scn, nil) else {
                throw .badSymbolTable(file: name, section: index, reason: ELFFile.lastError)
            }
            guard symbolSize > 0 else { throw .badSymbolTable(file: name, section: index, reason: "no symbol size") }
            let count = data.pointee.d_size / symbolSize
            for j in 0..<count {
                var sym = GElf_Sym()
                guard gelf_getsym(data, Int32(clamping: j), &sym) != nil else {
                    throw .badSymbolTable(file: name, section: index, reason: "symbol \(j): \(ELFFile.lastError)")
                }
                let type = Int32(clibelf_st_type(sym.st_info))
                guard sym.st_shndx != UInt16(SHN_UNDEF), type != STT_SECTION, type != STT_FILE, sym.st_name != 0
                else { continue }
                guard let cName = elf_strptr(file.elf, Int(sh.sh_link), Int(sym.st_name)) else {
                    throw .badSymbolTable(file: name, section: index, reason: "symbol \(j): \(ELFFile.lastError)")
                }
                let symbol = String(cString: cName)
                if out[symbol] == nil {
                    out[symbol] = sym.st_value
                } else if registerNames.contains(symbol) {
                    throw .duplicateSymbol(file: name, symbol: symbol)
                }
            }
        }
        return out
    }

    /// Reads the words the register symbols name, from the file bytes (or the zeros after them) of the
    /// segment holding them: the same bytes loading places in memory.
    static func registers(_ file: ELFFile, segments: [LoadedImage.Segment], symbols: [String: UInt64])
        throws(ELFImageError) -> ImageRegisters
    {
        func word(_ s: RegisterSymbol) throws(ELFImageError) -> UInt64? {
            guard let address = symbols[s.rawValue] else { return nil }
            let bytes = try read(file, segments: segments, symbol: s.rawValue, address: address, size: 8)
            return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        }
        var regs = ImageRegisters(
            vtcr: try word(.vtcr), vttbr: try word(.vttbr), hypTCR: try word(.hypTCR), hypTTBR0: try word(.hypTTBR0))
        switch (try word(.probeCount), symbols[RegisterSymbol.probeIPAs.rawValue]) {
        case (nil, nil):
            break
        case (nil, _):
            throw .incompleteProbeList(file: file.name, missing: RegisterSymbol.probeCount.rawValue)
        case (_?, nil):
            throw .incompleteProbeList(file: file.name, missing: RegisterSymbol.probeIPAs.rawValue)
        case (let n?, let address?):
            guard n <= maxProbes else { throw .tooManyProbes(file: file.name, count: n, limit: maxProbes) }
            let bytes = try read(
                file, segments: segments, symbol: RegisterSymbol.probeIPAs.rawValue, address: address, size: n * 8)
            regs.probes = bytes.withUnsafeBytes { raw in
                (0..<Int(n)).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
            }
        }
        return regs
    }

    /// The `size` (at most `8 * maxProbes`) bytes at link address `address`, which must lie inside one
    /// segment's `[p_vaddr, p_vaddr+p_memsz)`: its file bytes, then zeros.
    static func read(
        _ file: ELFFile, segments: [LoadedImage.Segment], symbol: String, address: UInt64, size: UInt64
    ) throws(ELFImageError) -> [UInt8] {
        guard
            let s = segments.first(where: {
                address >= $0.virtualAddress && address - $0.virtualAddress <= $0.memorySize
                    && size <= $0.memorySize - (address - $0.virtualAddress)
            })
        else { throw .symbolOutsideLoadedMemory(file: file.name, symbol: symbol, address: address, size: size) }
        let offset = address - s.virtualAddress
        let fromFile = Int(min(size, s.fileSize > offset ? s.fileSize - offset : 0))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(size), alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        if fromFile > 0, let base = buffer.baseAddress {
            try file.copy(offset: s.fileOffset + offset, count: fromFile, to: base)
        }
        return Array(buffer)
    }
}
