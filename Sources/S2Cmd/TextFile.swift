#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension String {
    /// Writes the string to the host file at `path`, replacing it.
    /// - Throws: `S2CmdError.file` if the file cannot be written.
    func write(to path: String) throws(S2CmdError) {
        guard let f = fopen(path, "w") else { throw .file(path: path, reason: String(cString: strerror(errno))) }
        defer { fclose(f) }
        var text = self
        let ok = text.withUTF8 { buf in fwrite(buf.baseAddress, 1, buf.count, f) == buf.count }
        if !ok { throw .file(path: path, reason: "short write") }
    }
}
