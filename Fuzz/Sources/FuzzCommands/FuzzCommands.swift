import FuzzSupport
import S2Cmd

/// Commands that touch files (`load`, `save`, `run` a script): left out so the fuzzer neither writes
/// nor reads the file system. The ELF loader has its own target (FuzzELFImage).
let fileCommands: Set<String> = ["load", "save", "run"]

/// libFuzzer entry point: the command language. The first byte chooses between an empty session and the
/// demo machine (1 GiB of RAM, a 4K/40-bit stage 2 with a block, a page and a device page); the rest is
/// lines of text, each lexed, parsed and executed (`Session.execute(line:)`), its output rendered as text
/// and as JSON. Every line must give output or a typed `S2CmdError` with a message; a crash or hang is a
/// finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommands(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = ByteReader(data, size)
    let setup = r.u8()
    let session = Session()
    session.emit = { _ in }
    session.emitError = { _ in }
    if setup & 1 != 0 {
        do { _ = try session.execute(line: "demo") } catch { fatalError("demo: \(error)") }
    }
    let rest = r.rest()
    let text = String(decoding: rest, as: UTF8.self)
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(24).enumerated() {
        let line = String(line)
        if let words = try? Lexer.words(line), words.contains(where: { fileCommands.contains($0.text) }) { continue }
        do {
            if let out = try session.execute(line: line, number: number + 1) {
                _ = Session.render(out, json: false)
                _ = Session.render(out, json: true)
            }
        } catch {
            check(!error.description.isEmpty, "empty message for line \(number + 1)")
        }
    }
    return 0
}
