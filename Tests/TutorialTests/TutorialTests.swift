import Foundation
import Hyp
import Pgtable
import XCTest

/// Runs every command of `docs/tutorial.md` as a reader would (from the package root, with the built
/// `s2emu` first on `PATH`) and compares what it prints with the text under it in the tutorial, so the
/// tutorial cannot rot. The expected outputs in the tutorial were written from the kernel facts the text
/// explains and checked by hand; a mismatch means the tool or the tutorial changed.
final class TutorialTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var tutorial: TutorialText {
        get throws {
            let url = packageRoot.appendingPathComponent("docs/tutorial.md")
            return TutorialText(try String(contentsOf: url, encoding: .utf8))
        }
    }

    /// The folder holding the `s2emu` built next to the test runner (`.build/<configuration>/`).
    static var binFolder: String {
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: runner).deletingLastPathComponent().path
    }

    /// The million-step equivalence run is the only slow command (about 100 s of CPU in a debug build);
    /// it has its own test so that its time shows separately.
    static func isLong(_ s: TutorialText.Step) -> Bool { s.command.contains("--steps 1000000") }

    /// Runs `command` with `/bin/sh -c` from the package root; returns the exit status and standard
    /// output followed by standard error (the tutorial's commands write to one of them only).
    static func shell(_ command: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.currentDirectoryURL = packageRoot
        var env = ProcessInfo.processInfo.environment
        env["S2EMU_IMAGE"] = nil
        env["NO_COLOR"] = "1"
        env["PATH"] = binFolder + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        let outPipe = Pipe()
        let errPipe = Pipe()
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        // Read standard error on another thread so that neither pipe can fill up and block the child.
        nonisolated(unsafe) var err = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            err = errPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        var text = String(decoding: out, as: UTF8.self) + String(decoding: err, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return (p.terminationStatus, text)
    }

    /// Runs `steps` and compares each output with the tutorial's text. A step whose text contains
    /// `error:` must fail (non-zero status); every other step must succeed.
    func check(_ steps: [TutorialText.Step]) throws {
        for s in steps {
            let (status, actual) = try Self.shell(s.command)
            let wantsFailure = s.output.contains("error: ")
            XCTAssertEqual(
                status != 0, wantsFailure,
                "docs/tutorial.md:\(s.line): '\(s.command)' exited with status \(status)\n\(actual)")
            if actual != s.output {
                let e = s.output.split(separator: "\n", omittingEmptySubsequences: false)
                let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
                let first = Array(zip(e, a)).firstIndex { $0 != $1 } ?? min(e.count, a.count)
                XCTFail(
                    "docs/tutorial.md:\(s.line): '\(s.command)': output line \(first + 1) differs\n"
                        + "  tutorial: \(first < e.count ? String(e[first]) : "<end>")\n"
                        + "  actual:   \(first < a.count ? String(a[first]) : "<end>")")
            }
        }
    }

    /// The SVG pictures the tutorial shows are the ones its commands write: the committed files must
    /// come out unchanged.
    static let pictures = ["examples/ownership-pte.svg", "examples/ownership-vmemmap.svg"]

    func testTutorialCommands() throws {
        let t = try Self.tutorial
        let steps = t.steps.filter { !Self.isLong($0) }
        // The reader's path: the default image, the pte machine, the migration, the pictures, the
        // planted bug, the PTE bits per layout and MMIO. Guards against a tutorial the parser no
        // longer reads.
        XCTAssertGreaterThanOrEqual(steps.count, 12)
        for needed in ["s2emu dump --wide", "s2emu run examples/pte.s2", "s2emu run examples/migrate.s2",
                       "s2emu run examples/pictures.s2", "s2emu equiv --steps 1000 --layout planted-borrowed-bug",
                       "s2emu run examples/states.s2", "s2emu run examples/mkstate.s2", "s2emu run examples/mmio.s2",
                       "s2emu migrate --ram 0x4000_0000:8M examples/transitions.s2"] {
            XCTAssertTrue(steps.contains { $0.command == needed }, "the tutorial no longer runs '\(needed)'")
        }
        let committed = try Self.pictures.map {
            try Data(contentsOf: Self.packageRoot.appendingPathComponent($0))
        }
        try check(steps)
        for (path, before) in zip(Self.pictures, committed) {
            let url = Self.packageRoot.appendingPathComponent(path)
            let after = try Data(contentsOf: url)
            if after != before {
                try before.write(to: url)
                XCTFail("\(path): the tutorial's commands drew a different picture than the committed one")
            }
        }
    }

    /// The tutorial's "a million random steps" command, run as printed.
    func testMillionStepEquivalence() throws {
        let steps = try Self.tutorial.steps.filter(Self.isLong)
        XCTAssertEqual(steps.map(\.command), ["s2emu equiv --steps 1000000"])
        try check(steps)
    }

    /// The tutorial's table of `pkvm_mkstate` results per layout (values written by hand from v6.13
    /// `mem_protect.h` and v6.14 `memory.h`) against the model's `PageStateLayout`.
    func testMkstateTable() throws {
        let rows = try Self.tutorial.mkstateRows
        XCTAssertEqual(rows.map(\.state), PageState.allCases.map(\.description))
        let rwx: Prot = [.r, .w, .x]  // PKVM_HOST_MEM_PROT
        func hex(_ v: UInt64) -> String {
            let digits = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
        }
        for row in rows {
            guard let state = PageState.allCases.first(where: { $0.description == row.state }), row.cells.count == 4 else {
                XCTFail("docs/tutorial.md:\(row.line): not a state with four cells")
                continue
            }
            var model: [String] = []
            for layout in [PageStateLayout.v613, .v614] {
                model.append(hex(layout.value(of: state)))
                do {
                    let prot = try layout.mkstate(rwx, state)
                    XCTAssertEqual(layout.state(ofValue: layout.getstate(prot)), state, "getstate(mkstate(\(state)))")
                    model.append(hex(prot.rawValue))
                } catch {
                    model.append("error: \(error)")
                }
            }
            XCTAssertEqual(row.cells, model, "docs/tutorial.md:\(row.line)")
        }
    }
}
