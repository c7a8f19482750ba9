import CLibELF
import Mem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes memory and registers as an ELF test image (`ELFImage.save`).
///
/// The ELF structure (header, one `PT_LOAD` per region plus the register segment, `.symtab`, `.strtab`,
/// `.shstrtab`) is laid out and written by libelf (`elf_update`). The segments' bytes follow it, each at a
/// 4 KiB-aligned file offset congruent to its address (so that loading can map them), and are written page by
/// page skipping all-zero pages, which stay holes of a sparse file.
struct ImageWriter {
    let path: String
    let regions: [MemRegion]
    let registerPage: RegisterPage
    let entry: UInt64

    /// A segment to write: where it goes in memory, where its bytes go in the file, and where they come from.
    struct Payload {
        let address: UInt64
        let size: UInt64
        let flags: UInt32
        var offset: UInt64 = 0
        let source: UnsafeRawPointer
    }

    /// Writes to a temporary file beside `path`, then renames it over `path`.
    ///
    /// On Linux the temporary file has no name (`O_TMPFILE` in `path`'s directory) until it is complete, so a
    /// writer killed half way leaves nothing behind; only then is it linked under a unique name and renamed
    /// over `path`. Where the file system has no `O_TMPFILE`, a named `mkstemp` file is written instead.
    func write(_ mem: PhysMem) throws(ELFImageError) {
        var (fd, temporary) = try openTemporary()
        do throws(ELFImageError) {
            guard fchmod(fd, 0o644) == 0 else {
                throw .cannotSave(file: path, operation: "fchmod", reason: ELFImageError.systemError(errno))
            }
            let regs = HostBytes(registerPage.bytes)
            defer { regs.release() }
            var payloads: [Payload] = []
            for r in regions {
                let p: UnsafeMutableRawPointer
                do { p = try mem.pointer(r.base, size: r.size) } catch {
                    throw .cannotSave(file: path, operation: "read \(r)", reason: error.description)
                }
                payloads.append(
                    Payload(address: r.base.rawValue, size: r.size, flags: UInt32(PF_R | PF_W | PF_X), source: p))
            }
            payloads.append(
                Payload(
                    address: registerPage.base, size: UInt64(regs.count), flags: UInt32(PF_R | PF_W),
                    source: UnsafeRawPointer(regs.pointer)))
            try writeELF(fd: fd, payloads: &payloads)
            try writePayloads(fd: fd, payloads)
            guard fsync(fd) == 0 else {
                throw .cannotSave(file: path, operation: "fsync", reason: ELFImageError.systemError(errno))
            }
            let name: String
            if let t = temporary { name = t } else { name = try link(fd) }
            temporary = name
            let closed = close(fd)
            fd = -1
            guard closed == 0 else {
                throw .cannotSave(file: path, operation: "close", reason: ELFImageError.systemError(errno))
            }
            guard rename(name, path) == 0 else {
                throw .cannotSave(file: path, operation: "rename", reason: ELFImageError.systemError(errno))
            }
        } catch {
            if fd >= 0 { close(fd) }
            if let t = temporary { unlink(t) }
            throw error
        }
    }

    /// The file to write: unnamed in `path`'s directory where `O_TMPFILE` works (name nil), else a named
    /// `mkstemp` file beside `path`.
    private func openTemporary() throws(ELFImageError) -> (fd: Int32, name: String?) {
        #if os(Linux)
            let slash = path.lastIndex(of: "/")
            let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
            let unnamed = open(directory, Self.oTmpfile | O_RDWR, 0o644)
            if unnamed >= 0 { return (unnamed, nil) }
        #endif
        var template = Array((path + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buf in buf.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else {
            throw .cannotSave(file: path, operation: "mkstemp", reason: ELFImageError.systemError(errno))
        }
        return (fd, String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    #if os(Linux)
        /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY` in `<fcntl.h>`, a macro Swift does not import).
        static let oTmpfile: Int32 = 0o2000_0000 | O_DIRECTORY
    #endif

    /// Gives the complete unnamed file `fd` a unique name beside `path` (`linkat` of `/proc/self/fd/N`).
    private func link(_ fd: Int32) throws(ELFImageError) -> String {
        while true {
            let name = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0 { return name }
            guard errno == EEXIST else {
                throw .cannotSave(file: path, operation: "linkat", reason: ELFImageError.systemError(errno))
            }
        }
    }

    /// Lays out and writes the ELF structure with libelf, choosing the payload offsets after it.
    private func writeELF(fd: Int32, payloads: inout [Payload]) throws(ELFImageError) {
        _ = ELFFile.libelfVersion
        guard let elf = elf_begin(fd, ELF_C_WRITE, nil) else { throw libelfFailure("elf_begin") }
        defer { elf_end(elf) }
        guard gelf_newehdr(elf, ELFCLASS64) != nil else { throw libelfFailure("gelf_newehdr") }
        guard gelf_newphdr(elf, payloads.count) != nil else { throw libelfFailure("gelf_newphdr") }

        // String tables: .strtab (symbol names), .shstrtab (section names), each starting with the empty name.
        var strtab: [UInt8] = [0]
        var nameOffsets: [UInt32] = []
        for s in registerPage.symbols {
            nameOffsets.append(UInt32(strtab.count))
            strtab += Array(s.name.utf8) + [0]
        }
        var shstrtab: [UInt8] = [0]
        func sectionName(_ n: String) -> UInt32 {
            defer { shstrtab += Array(n.utf8) + [0] }
            return UInt32(shstrtab.count)
        }
        let symtabName = sectionName(".symtab")
        let strtabName = sectionName(".strtab")
        let shstrtabName = sectionName(".shstrtab")

        let symSize = gelf_fsize(elf, ELF_T_SYM, 1, clibelf_ev_current)
        let symCount = registerPage.symbols.count + 1
        let syms = HostBytes([UInt8](repeating: 0, count: symSize * symCount))
        let str = HostBytes(strtab)
        let shstr = HostBytes(shstrtab)
        defer {
            syms.release()
            str.release()
            shstr.release()
        }
        let symtab = try newSection(elf, name: symtabName, type: SHT_SYMTAB, bytes: syms.buffer, type: ELF_T_SYM)
        let strtabScn = try newSection(elf, name: strtabName, type: SHT_STRTAB, bytes: str.buffer, type: ELF_T_BYTE)
        let shstrtabScn = try newSection(
            elf, name: shstrtabName, type: SHT_STRTAB, bytes: shstr.buffer, type: ELF_T_BYTE)
        guard let symData = elf_getdata(symtab.scn, nil) else { throw libelfFailure("elf_getdata") }
        for (i, s) in registerPage.symbols.enumerated() {
            var sym = GElf_Sym()
            sym.st_name = nameOffsets[i]
            sym.st_info = clibelf_st_info(UInt8(STB_GLOBAL), UInt8(STT_OBJECT))
            sym.st_shndx = UInt16(SHN_ABS)
            sym.st_value = s.address
            sym.st_size = s.size
            guard gelf_update_sym(symData, Int32(i + 1), &sym) != 0 else { throw libelfFailure("gelf_update_sym") }
        }
        var sh = GElf_Shdr()
        guard gelf_getshdr(symtab.scn, &sh) != nil else { throw libelfFailure("gelf_getshdr") }
        sh.sh_link = UInt32(strtabScn.index)
        sh.sh_info = 1
        sh.sh_entsize = UInt64(symSize)
        guard gelf_update_shdr(symtab.scn, &sh) != 0 else { throw libelfFailure("gelf_update_shdr") }

        var eh = GElf_Ehdr()
        guard gelf_getehdr(elf, &eh) != nil else { throw libelfFailure("gelf_getehdr") }
        withUnsafeMutableBytes(of: &eh.e_ident) { ident in
            ident[Int(EI_DATA)] = UInt8(ELFDATA2LSB)
            ident[Int(EI_OSABI)] = UInt8(ELFOSABI_NONE)
        }
        eh.e_type = UInt16(ET_EXEC)
        eh.e_machine = UInt16(EM_AARCH64)
        eh.e_version = UInt32(EV_CURRENT)
        eh.e_entry = entry
        eh.e_shstrndx = UInt16(shstrtabScn.index)
        guard gelf_update_ehdr(elf, &eh) != 0 else { throw libelfFailure("gelf_update_ehdr") }

        // Let libelf lay out headers and sections; the payloads go after all of it.
        let structureSize = elf_update(elf, ELF_C_NULL)
        guard structureSize >= 0 else { throw libelfFailure("elf_update(ELF_C_NULL)") }
        var offset = Placement.alignUp(UInt64(structureSize), Placement.page)
        for i in payloads.indices {
            payloads[i].offset = offset
            offset += payloads[i].size
            var ph = GElf_Phdr()
            ph.p_type = UInt32(PT_LOAD)
            ph.p_flags = payloads[i].flags
            ph.p_offset = payloads[i].offset
            ph.p_vaddr = payloads[i].address
            ph.p_paddr = payloads[i].address
            ph.p_filesz = payloads[i].size
            ph.p_memsz = payloads[i].size
            ph.p_align = Placement.page
            guard gelf_update_phdr(elf, Int32(i), &ph) != 0 else { throw libelfFailure("gelf_update_phdr") }
        }
        guard elf_update(elf, ELF_C_WRITE) >= 0 else { throw libelfFailure("elf_update(ELF_C_WRITE)") }
    }

    /// A new section holding `bytes` as one data block of `type`.
    private func newSection(
        _ elf: OpaquePointer, name: UInt32, type sectionType: Int32, bytes: UnsafeMutableRawBufferPointer,
        type: Elf_Type
    ) throws(ELFImageError) -> (scn: OpaquePointer, index: Int) {
        guard let scn = elf_newscn(elf) else { throw libelfFailure("elf_newscn") }
        guard let data = elf_newdata(scn) else { throw libelfFailure("elf_newdata") }
        data.pointee.d_buf = bytes.baseAddress
        data.pointee.d_size = bytes.count
        data.pointee.d_type = type
        data.pointee.d_align = type == ELF_T_SYM ? 8 : 1
        data.pointee.d_version = clibelf_ev_current
        var sh = GElf_Shdr()
        guard gelf_getshdr(scn, &sh) != nil else { throw libelfFailure("gelf_getshdr") }
        sh.sh_name = name
        sh.sh_type = UInt32(sectionType)
        sh.sh_addralign = UInt64(data.pointee.d_align)
        guard gelf_update_shdr(scn, &sh) != 0 else { throw libelfFailure("gelf_update_shdr") }
        return (scn, elf_ndxscn(scn))
    }

    /// Writes each payload's non-zero pages at its offset and sizes the file to the end of the last payload.
    private func writePayloads(fd: Int32, _ payloads: [Payload]) throws(ELFImageError) {
        let page = Int(Placement.page)
        var end: UInt64 = 0
        for p in payloads {
            var at = 0
            let size = Int(p.size)
            while at < size {
                let n = min(page, size - at)
                if !Placement.isZero(UnsafeRawBufferPointer(start: p.source + at, count: n)) {
                    var done = 0
                    while done < n {
                        let w = pwrite(fd, p.source + at + done, n - done, off_t(p.offset) + off_t(at + done))
                        if w < 0 && errno == EINTR { continue }
                        guard w > 0 else {
                            throw .cannotSave(file: path, operation: "pwrite", reason: ELFImageError.systemError(errno))
                        }
                        done += w
                    }
                }
                at += n
            }
            end = max(end, p.offset + p.size)
        }
        guard ftruncate(fd, off_t(end)) == 0 else {
            throw .cannotSave(file: path, operation: "ftruncate", reason: ELFImageError.systemError(errno))
        }
    }

    private func libelfFailure(_ operation: String) -> ELFImageError {
        .cannotSave(file: path, operation: operation, reason: ELFFile.lastError)
    }
}
