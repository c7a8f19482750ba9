import Foundation
import XCTest

/// Runs the built `s2emu` the way a user does, from the package root, and compares whole outputs with
/// the committed files in `Expected/`. `S2EMU_UPDATE_EXPECTED=1 swift test --filter CLITests` rewrites
/// them; every rewritten file must then be read and checked by hand before it is committed.
enum CLI {
    /// The package root (two levels above this file's folder).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let expectedFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Expected")

    static let scriptsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Scripts")

    /// The `s2emu` built next to the test runner (`.build/<configuration>/`).
    static var binary: String {
        let runner =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: runner).deletingLastPathComponent().appendingPathComponent("s2emu").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `s2emu args` with `stdin` piped in and `S2EMU_IMAGE` unset.
    static func run(_ args: [String], stdin: String = "") throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = packageRoot
        var env = ProcessInfo.processInfo.environment
        env["S2EMU_IMAGE"] = nil
        env["NO_COLOR"] = "1"
        p.environment = env
        let inPipe = Pipe()
        let outPipe = Pipe()
        let errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        inPipe.fileHandleForWriting.write(Data(stdin.utf8))
        try inPipe.fileHandleForWriting.close()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(
            status: p.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }

    /// Compares `actual` with `Expected/<name>`, or rewrites the file when asked to.
    static func compare(_ actual: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = expectedFolder.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["S2EMU_UPDATE_EXPECTED"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let first = Array(zip(e, a)).firstIndex { $0 != $1 } ?? min(e.count, a.count)
            XCTFail(
                "\(name) differs at line \(first + 1):\n  expected: \(first < e.count ? String(e[first]) : "<end>")\n  actual:   \(first < a.count ? String(a[first]) : "<end>")",
                file: file, line: line)
        }
    }
}
