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
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
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

        // Pure: turns parsed messages and documents into FHIR resources with stable ids and provenance.
        .target(
            name: "Mapping",
            dependencies: ["HL7v2", "FHIR", .product(name: "Crypto", package: "swift-crypto"), .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),

        // The record store: one `RecordStore` protocol, SQLite (GRDB, the embedded default) and PostgreSQL
        // (PostgresNIO), versioned migrations, inbound messages, dead letters, watermarks, ledger entries.
        .target(
            name: "Store",
            dependencies: [
                "FHIR",
                "Ledger",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API itself, for the point reads a FHIR read makes (SQLitePointReaders.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),

        // Ledger I/O: the gateway's signing key, sealed tree heads, the anchor worker and its backends (local
        // checkpoint file, Ethereum JSON-RPC, RFC 3161 TSA over libcurl), proof bundles and integrity status.
        .target(
            name: "LedgerAnchors",
            dependencies: [
                "Ledger",
                "Store",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // Ways in: the ingest pipeline, the MLLP listener, legacy PostgreSQL pollers, file import.
        .target(
            name: "Ingest",
            dependencies: [
                "HL7v2",
                "FHIR",
                "Mapping",
                "Store",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // The HTTP application (Hummingbird): feeds, and later the FHIR REST API, proofs and admin endpoints.
        .target(
            name: "GatewayAPI",
            dependencies: [
                "HL7v2",
                "FHIR",
                "Ledger",
                "Store",
                "Ingest",
                "Mapping",
                "LedgerAnchors",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // The `ledgerbridge` executable: one file per subcommand.
        .executableTarget(
            name: "LedgerbridgeCLI",
            dependencies: [
                "HL7v2",
                "FHIR",
                "Ledger",
                "Mapping",
                "Store",
                "Ingest",
                "GatewayAPI",
                "LedgerAnchors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // Helpers the test suites share: running the real binary and peers (and, later, throwaway servers).
        .target(name: "TestSupport", path: "Sources/TestSupport", swiftSettings: strictSettings),

        .testTarget(
            name: "MappingTests",
            dependencies: ["Mapping", "HL7v2", "FHIR", "Ingest", "TestSupport"],
            swiftSettings: strictSettings
        ),
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
            name: "StoreTests",
            dependencies: ["Store", "FHIR", "Ledger", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "Store", "GatewayAPI", "HL7v2", "FHIR", "Mapping", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LedgerAnchorsTests",
            dependencies: [
                "LedgerAnchors", "Ledger", "Store", "Ingest", "GatewayAPI", "Mapping", "HL7v2", "FHIR", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LedgerbridgeCLITests",
            dependencies: [
                "LedgerbridgeCLI", "HL7v2", "FHIR", "Ledger", "Store", "Ingest", "GatewayAPI", "LedgerAnchors", "Mapping", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
