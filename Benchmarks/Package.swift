// swift-tools-version: 6.1
// s2emu benchmarks: a package of their own, so that building the main package never compiles the
// benchmark framework. Run with `cd Benchmarks && swift package benchmark`.
import PackageDescription

let package = Package(
    name: "s2emu-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // The main package, whatever its directory is called: its products are named directly below.
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "Fixtures", dependencies: ["Mem", "Pgtable"]),
        .executableTarget(name: "Profile", dependencies: ["Fixtures", "Mem", "Pgtable", "Hyp"]),
        .executableTarget(
            name: "PgtableBench",
            dependencies: [
                "Fixtures",
                "Mem",
                "Pgtable",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PgtableBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "HypBench",
            dependencies: [
                "Mem",
                "Pgtable",
                "Hyp",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HypBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ElfBench",
            dependencies: [
                "Mem",
                "Pgtable",
                "ELFImage",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ElfBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
