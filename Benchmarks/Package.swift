// swift-tools-version: 6.1
// s2emu benchmarks: a package of their own, so that building the main package never compiles the
// benchmark framework. Run with `cd Benchmarks && swift package benchmark`.
import PackageDescription

let package = Package(
    name: "s2emu-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(
            name: "Fixtures",
            dependencies: [.product(name: "Mem", package: "main"), .product(name: "Pgtable", package: "main")]
        ),
        .executableTarget(
            name: "Profile",
            dependencies: [
                "Fixtures", .product(name: "Mem", package: "main"), .product(name: "Pgtable", package: "main"),
                .product(name: "Hyp", package: "main"),
            ]
        ),
        .executableTarget(
            name: "PgtableBench",
            dependencies: [
                "Fixtures",
                .product(name: "Mem", package: "main"),
                .product(name: "Pgtable", package: "main"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PgtableBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "HypBench",
            dependencies: [
                .product(name: "Mem", package: "main"),
                .product(name: "Pgtable", package: "main"),
                .product(name: "Hyp", package: "main"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HypBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ElfBench",
            dependencies: [
                .product(name: "Mem", package: "main"),
                .product(name: "Pgtable", package: "main"),
                .product(name: "ELFImage", package: "main"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ElfBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
