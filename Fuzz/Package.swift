// swift-tools-version: 6.1
// libFuzzer targets for s2emu, kept out of the main package (a fuzz executable has no `main` of its own,
// which would break a plain `swift build` / `swift test` there). Build and run: see docs/elf.md.
import PackageDescription

let package = Package(
    name: "s2emu-fuzz",
    dependencies: [
        .package(name: "s2emu", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "FuzzELFImage",
            dependencies: [
                .product(name: "ELFImage", package: "s2emu"),
                .product(name: "Mem", package: "s2emu"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    ]
)
