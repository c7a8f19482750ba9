#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How `s2emu` finds the machine it opens: `--image PATH`, else `$S2EMU_IMAGE`, else the bundled default
/// image `Fixtures/images/default.elf` (looked for above the executable, then above the current directory),
/// else the built-in demo machine (`demo`).
public enum DefaultMachine {
    /// The bundled image, relative to the package root.
    public static let bundledImage = "Fixtures/images/default.elf"
    /// The environment variable naming an image.
    public static let environmentVariable = "S2EMU_IMAGE"

    /// The image to open when none is given, or nil if there is none.
    public static func locate() -> String? {
        if let env = getenv(environmentVariable) { return String(cString: env) }
        var starts: [String] = []
        if let exe = executablePath() { starts.append(exe) }
        if let cwd = currentDirectory() { starts.append(cwd + "/.") }
        for start in starts {
            var dir = start
            while let slash = dir.lastIndex(of: "/"), slash != dir.startIndex {
                dir = String(dir[..<slash])
                let candidate = dir + "/" + bundledImage
                if access(candidate, R_OK) == 0 { return candidate }
            }
        }
        return nil
    }

    /// A session on `image`, or on what `locate` finds, or on the demo machine when there is no image.
    /// `host`: the image's stage 2 is pKVM's host stage 2 (`load --host`: marker `Host IPA`, the host's
    /// `KVM_PGTABLE_S2_NOFWB | KVM_PGTABLE_S2_IDMAP`). The bundled image is always opened that way, because
    /// that is what it holds (`Fixtures/images/default.S`); an image file does not record whose stage 2 it
    /// is (VMID 0 does not tell: the demo machine and saved sessions use it too).
    /// - Throws: the `load` error if the image cannot be loaded.
    public static func open(image: String?, style: Style, host: Bool = false) throws(S2CmdError) -> Session {
        let session = Session(style: style)
        let bundled = image == nil && getenv(environmentVariable) == nil
        if let path = image ?? locate() {
            let flags: Set<String> = host || bundled ? ["host"] : []
            _ = try session.execute(Invocation("load", arguments: [path], flags: flags))
        } else {
            _ = try session.execute(Invocation("demo"))
        }
        return session
    }

    static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func currentDirectory() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
