// swift-tools-version: 6.1
// s2emu: an AArch64 stage-2 page-table emulator, bit-exact with Linux pKVM.
import PackageDescription

let package = Package(
    name: "s2emu",
    products: [
        .library(name: "Mem", targets: ["Mem"]),
        .library(name: "Pgtable", targets: ["Pgtable"]),
        .library(name: "Hyp", targets: ["Hyp"]),
        .library(name: "ELFImage", targets: ["ELFImage"]),
        .library(name: "S2Cmd", targets: ["S2Cmd"]),
        .executable(name: "s2emu", targets: ["s2emu"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        .target(name: "Mem"),
        .target(name: "Pgtable", dependencies: ["Mem"]),
        .target(name: "Hyp", dependencies: ["Mem", "Pgtable"]),
        .systemLibrary(name: "CLibELF", pkgConfig: "libelf", providers: [.apt(["libelf-dev"])]),
        .target(name: "ELFImage", dependencies: ["CLibELF", "Mem"]),
        .systemLibrary(name: "CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .target(name: "S2Cmd", dependencies: ["Mem", "Pgtable", "Hyp", "ELFImage", "CEditLine"]),
        .executableTarget(
            name: "s2emu",
            dependencies: [
                "S2Cmd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "MemTests", dependencies: ["Mem"]),
        .testTarget(name: "S2CmdTests", dependencies: ["S2Cmd", "Mem", "Pgtable"]),
        .testTarget(name: "CLITests", dependencies: ["s2emu"], exclude: ["Expected", "Scripts"]),
        .testTarget(name: "PgtableTests", dependencies: ["Mem", "Pgtable"]),
        .testTarget(name: "HypTests", dependencies: ["Mem", "Pgtable", "Hyp"]),
        .testTarget(name: "ELFImageTests", dependencies: ["ELFImage", "Mem", "Pgtable"]),
        .testTarget(name: "TranslateTests", dependencies: ["Mem", "Pgtable", "ELFImage"]),
        .testTarget(name: "TutorialTests", dependencies: ["Hyp", "Pgtable", "s2emu"]),
        .testTarget(name: "RobustnessTests", dependencies: ["Mem", "Pgtable", "Hyp", "ELFImage", "s2emu"]),
    ]
)
