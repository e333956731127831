// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ledgerbridge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ledgerbridge", targets: ["LedgerbridgeCLI"]),
        .library(name: "HL7v2", targets: ["HL7v2"]),
        .library(name: "FHIR", targets: ["FHIR"]),
        .library(name: "Ledger", targets: ["Ledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Pure: HL7 v2 ER7 parsing, escaping, paths, batches, ACKs and MLLP framing. No I/O.
        .target(name: "HL7v2", swiftSettings: strictSettings),

        // libxml2, read directly (streaming reader) with entity expansion, DTD loading and network access off.
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),

        // Pure: the FHIR R4 element model from the generated type table, JSON and XML codecs, canonical form,
        // validation. No I/O.
        .target(
            name: "FHIR",
            dependencies: ["CLibXML2", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),

        // Pure: ledger entries, the RFC 9162 Merkle tree, inclusion and consistency proofs, signed tree heads.
        .target(name: "Ledger", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strictSettings),

        // The `ledgerbridge` executable: one file per subcommand.
        .executableTarget(
            name: "LedgerbridgeCLI",
            dependencies: [
                "HL7v2",
                "FHIR",
                "Ledger",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),

        // Helpers the test suites share: running the real binary and peers (and, later, throwaway servers).
        .target(name: "TestSupport", path: "Sources/TestSupport", swiftSettings: strictSettings),

        .testTarget(
            name: "HL7v2Tests",
            dependencies: [
                "HL7v2",
                "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FHIRTests",
            dependencies: ["FHIR", "TestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: ["Ledger", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Vectors")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LedgerbridgeCLITests",
            dependencies: ["LedgerbridgeCLI", "HL7v2", "FHIR", "Ledger", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
