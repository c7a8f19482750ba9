// swift-tools-version: 6.1
// s2emu benchmarks: a package of their own, so that building the main package never compiles the
// benchmark framework. Run with `cd Benchmarks && swift package benchmark`.
import PackageDescription

let mem = Target.Dependency.product(name: "Mem", package: "s2emu")
let pgtable = Target.Dependency.product(name: "Pgtable", package: "s2emu")
let hyp = Target.Dependency.product(name: "Hyp", package: "s2emu")
let elfImage = Target.Dependency.product(name: "ELFImage", package: "s2emu")

let package = Package(
    name: "s2emu-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // The main package under a fixed name, whatever its directory is called in a clone.
        .package(name: "s2emu", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "Fixtures", dependencies: [mem, pgtable]),
        .executableTarget(name: "Profile", dependencies: ["Fixtures", mem, pgtable, hyp]),
        .executableTarget(
            name: "PgtableBench",
            dependencies: [
                "Fixtures",
                mem,
                pgtable,
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PgtableBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "HypBench",
            dependencies: [
                mem,
                pgtable,
                hyp,
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HypBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ElfBench",
            dependencies: [
                mem,
                pgtable,
                elfImage,
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ElfBench",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
