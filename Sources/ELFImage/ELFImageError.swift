import Mem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why an ELF test image could not be loaded or saved. Every case names the file; segment numbers are
/// program header indices (as `readelf -l` counts them).
///
/// A load that throws one of these has left memory exactly as it was; a save that throws has left any
/// previous file at the path untouched.
public enum ELFImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened or read (`errno`; a directory is `EISDIR`).
    case cannotOpen(file: String, errno: Int32)
    /// The path names something other than a regular file or a directory (a device, a pipe, a socket).
    case notRegularFile(file: String)
    /// The file is not an ELF file (no `\x7fELF` identification, or too short for one).
    case notELF(file: String)
    /// `EI_CLASS` is not `ELFCLASS64`.
    case wrongClass(file: String, elfClass: UInt8)
    /// `EI_DATA` is not `ELFDATA2LSB` (little-endian).
    case wrongEndianness(file: String, encoding: UInt8)
    /// `e_machine` is not `EM_AARCH64` (183).
    case wrongMachine(file: String, machine: UInt16)
    /// `e_type` is neither `ET_EXEC` nor `ET_CORE`.
    case wrongType(file: String, type: UInt16)
    /// A header (`"ELF header"`, `"program header 2"`, `"section header 5"`, ...) lies beyond the end of the
    /// file or is malformed; `reason` is libelf's.
    case truncatedHeader(file: String, header: String, reason: String)
    /// The file has no `PT_LOAD` segment, so there is nothing to load.
    case noLoadSegments(file: String)
    /// A segment's file bytes `[offset, offset+size)` run past the end of the file (`fileSize` bytes).
    case segmentPastEndOfFile(file: String, segment: Int, offset: UInt64, size: UInt64, fileSize: UInt64)
    /// A segment has `p_filesz > p_memsz`.
    case fileSizeExceedsMemorySize(file: String, segment: Int, fileSize: UInt64, memorySize: UInt64)
    /// A segment's `p_paddr + p_memsz` (or `p_vaddr + p_memsz`) wraps around 2^64.
    case addressOverflow(file: String, segment: Int, address: UInt64, size: UInt64)
    /// A segment reaches beyond the 52-bit physical address space (the largest AArch64 has).
    case addressBeyond52Bits(file: String, segment: Int, address: UInt64, size: UInt64)
    /// Two segments' physical ranges `[p_paddr, p_paddr+p_memsz)` overlap: segment `segment` at
    /// `address`+`size` and segment `other` at `otherAddress`+`otherSize`.
    case overlappingSegments(
        file: String, segment: Int, address: UInt64, size: UInt64, other: Int, otherAddress: UInt64, otherSize: UInt64)
    /// The symbol table in section `section` cannot be read; `reason` says why.
    case badSymbolTable(file: String, section: Int, reason: String)
    /// A register symbol is defined more than once.
    case duplicateSymbol(file: String, symbol: String)
    /// A register symbol's `size` bytes at `address` do not lie inside one loaded segment.
    case symbolOutsideLoadedMemory(file: String, symbol: String, address: UInt64, size: UInt64)
    /// One of `probe_ipas` / `probe_count` is defined without the other.
    case incompleteProbeList(file: String, missing: String)
    /// `probe_count` says `count` probes, more than the loader accepts (`limit`).
    case tooManyProbes(file: String, count: UInt64, limit: UInt64)
    /// Loading without creating regions, but segment `segment` needs memory at `address` that no region backs.
    case notBacked(file: String, segment: Int, address: PhysAddr)
    /// Placing the image in memory failed (the host refused a mapping); everything added was removed again.
    case memory(file: String, MemError)
    /// Reading the file failed after validation (`errno`); everything placed was rolled back.
    case readFailed(file: String, errno: Int32)
    /// Saving failed at `operation` (libelf's or the system's `reason`); no file at the path was changed.
    case cannotSave(file: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let f, let e):
            return "\(f): cannot open: \(Self.systemError(e))"
        case .notRegularFile(let f):
            return "\(f): not a regular file"
        case .notELF(let f):
            return "\(f): not an ELF file"
        case .wrongClass(let f, let c):
            return "\(f): ELF class \(c) is not ELFCLASS64 (2)"
        case .wrongEndianness(let f, let d):
            return "\(f): data encoding \(d) is not little-endian (ELFDATA2LSB, 1)"
        case .wrongMachine(let f, let m):
            return "\(f): machine \(m) is not EM_AARCH64 (183)"
        case .wrongType(let f, let t):
            return "\(f): ELF type \(t) is neither ET_EXEC (2) nor ET_CORE (4)"
        case .truncatedHeader(let f, let h, let r):
            return "\(f): \(h) is truncated or malformed: \(r)"
        case .noLoadSegments(let f):
            return "\(f): no PT_LOAD segment"
        case .segmentPastEndOfFile(let f, let s, let o, let n, let size):
            return
                "\(f): segment \(s): file bytes \(hex(o))+\(hex(n)) run past the end of the file (\(hex(size)) bytes)"
        case .fileSizeExceedsMemorySize(let f, let s, let fs, let ms):
            return "\(f): segment \(s): p_filesz \(hex(fs)) > p_memsz \(hex(ms))"
        case .addressOverflow(let f, let s, let a, let n):
            return "\(f): segment \(s): address \(hex(a)) + size \(hex(n)) overflows 64 bits"
        case .addressBeyond52Bits(let f, let s, let a, let n):
            return "\(f): segment \(s): \(hex(a))+\(hex(n)) reaches beyond the 52-bit physical address space"
        case .overlappingSegments(let f, let s, let a, let n, let o, let oa, let on):
            return
                "\(f): segment \(s) (\(hex(a))+\(hex(n))) overlaps segment \(o) (\(hex(oa))+\(hex(on))) in physical memory"
        case .badSymbolTable(let f, let s, let r):
            return "\(f): symbol table in section \(s): \(r)"
        case .duplicateSymbol(let f, let n):
            return "\(f): symbol \(n) is defined more than once"
        case .symbolOutsideLoadedMemory(let f, let n, let a, let size):
            return "\(f): symbol \(n): \(hex(size)) bytes at \(hex(a)) are not inside one loaded segment"
        case .incompleteProbeList(let f, let m):
            return "\(f): probe list without \(m)"
        case .tooManyProbes(let f, let n, let l):
            return "\(f): probe_count \(n) exceeds the limit of \(l) probes"
        case .notBacked(let f, let s, let a):
            return "\(f): segment \(s): no memory region backs \(a)"
        case .memory(let f, let e):
            return "\(f): placing the image failed: \(e)"
        case .readFailed(let f, let e):
            return "\(f): reading the file failed: \(Self.systemError(e))"
        case .cannotSave(let f, let op, let r):
            return "\(f): cannot save: \(op): \(r)"
        }
    }
}

extension ELFImageError {
    /// A system error as messages show it: `strerror(e)` and the number, e.g. `No such file or directory
    /// (errno 2)`.
    public static func systemError(_ e: Int32) -> String { "\(String(cString: strerror(e))) (errno \(e))" }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
