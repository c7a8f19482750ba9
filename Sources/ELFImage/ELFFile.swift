import CLibELF

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An ELF file opened read-only through libelf (`elf_begin` on a file descriptor, or `elf_memory` on a
/// private copy of an in-memory image), with the file's bytes reachable for copying segments.
///
/// Owns the libelf handle and the descriptor or buffer; both are released when it goes away.
final class ELFFile {
    /// The name errors carry: the path, or the caller's name for an in-memory image.
    let name: String
    /// The path, when the image is a file (segments may then be mapped from it instead of copied).
    let path: String?
    /// Size of the whole file in bytes.
    let size: UInt64
    let elf: OpaquePointer
    private let fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer?

    /// libelf must be told which ELF version the caller speaks before any other call (`elf_version`);
    /// done once, thread-safely, by Swift's lazy global initialisation.
    static let libelfVersion: UInt32 = elf_version(clibelf_ev_current)

    /// Opens `path` (`elf_begin(ELF_C_READ_MMAP)`: libelf maps the file and reads only what is asked for).
    init(path: String) throws(ELFImageError) {
        _ = Self.libelfVersion
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(file: path, errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw .cannotOpen(file: path, errno: e)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            if (st.st_mode & S_IFMT) == S_IFDIR { throw .cannotOpen(file: path, errno: EISDIR) }
            throw .notRegularFile(file: path)
        }
        guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else {
            close(fd)
            throw .truncatedHeader(file: path, header: "ELF header", reason: Self.lastError)
        }
        self.name = path
        self.path = path
        self.size = UInt64(st.st_size)
        self.elf = elf
        self.fd = fd
        self.buffer = nil
    }

    /// Opens an in-memory image (`elf_memory` over a private copy of `bytes`, which libelf may modify).
    init(bytes: UnsafeRawBufferPointer, name: String) throws(ELFImageError) {
        _ = Self.libelfVersion
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        if let src = bytes.baseAddress, let dst = copy.baseAddress { dst.copyMemory(from: src, byteCount: bytes.count) }
        guard let base = copy.baseAddress,
            let elf = elf_memory(base.assumingMemoryBound(to: CChar.self), bytes.count)
        else {
            copy.deallocate()
            throw .truncatedHeader(file: name, header: "ELF header", reason: Self.lastError)
        }
        self.name = name
        self.path = nil
        self.size = UInt64(bytes.count)
        self.elf = elf
        self.fd = -1
        self.buffer = copy
    }

    deinit {
        elf_end(elf)
        if fd >= 0 { close(fd) }
        buffer?.deallocate()
    }

    /// libelf's message for its last error (`elf_errmsg(-1)`).
    static var lastError: String {
        guard let m = elf_errmsg(-1) else { return "unknown libelf error" }
        return String(cString: m)
    }

    /// Copies `count` file bytes from `offset` to `destination` (range already checked against `size`).
    /// - Throws: `readFailed` if the read fails or comes up short (the file shrank under us).
    func copy(offset: UInt64, count: Int, to destination: UnsafeMutableRawPointer) throws(ELFImageError) {
        if let buffer, let base = buffer.baseAddress {
            destination.copyMemory(from: base + Int(offset), byteCount: count)
            return
        }
        var done = 0
        while done < count {
            let n = pread(fd, destination + done, count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .readFailed(file: name, errno: n == 0 ? EIO : errno) }
            done += n
        }
    }
}
