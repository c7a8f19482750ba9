// swift-tools-version: 6.1
// libFuzzer targets for s2emu, kept out of the main package (a fuzz executable has no `main` of its own,
// which would break a plain `swift build` / `swift test` there). Build and run: Fuzz/run.sh (docs/robustness.md).
import PackageDescription

let package = Package(
    name: "s2emu-fuzz",
    dependencies: [
        .package(name: "s2emu", path: "..")
    ],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzELFImage",
            dependencies: [
                .product(name: "ELFImage", package: "s2emu"),
                .product(name: "Mem", package: "s2emu"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzTranslate",
            dependencies: ["FuzzSupport", .product(name: "Mem", package: "s2emu"), .product(name: "Pgtable", package: "s2emu")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzStage2Ops",
            dependencies: ["FuzzSupport", .product(name: "Mem", package: "s2emu"), .product(name: "Pgtable", package: "s2emu")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzPKVM",
            dependencies: [
                "FuzzSupport", .product(name: "Mem", package: "s2emu"), .product(name: "Pgtable", package: "s2emu"),
                .product(name: "Hyp", package: "s2emu"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzCommands",
            dependencies: ["FuzzSupport", .product(name: "S2Cmd", package: "s2emu")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
