// swift-tools-version:6.1
// Benchmark executables, kept out of the main package so that its build and tests stay lean.
// Each is driven by a script under Benchmarks/<area>/run.sh that also measures the named peer in the same run.
import PackageDescription

let package = Package(
    name: "ledgerbridge-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "ledgerbridge", path: "..")],
    targets: [
        .executableTarget(
            name: "LedgerBench",
            dependencies: [.product(name: "Ledger", package: "ledgerbridge")]
        )
    ],
    swiftLanguageModes: [.v6]
)
