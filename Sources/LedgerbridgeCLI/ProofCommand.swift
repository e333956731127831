import ArgumentParser
import Crypto
import FHIR
import Foundation
import Ledger
import LedgerAnchors
import Store

/// `ledgerbridge proof Type/id/_history/vid`: a proof bundle for a stored version, to check with `ledgerbridge verify`.
struct ProofCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proof",
        abstract: "Write the proof bundle of a stored record version (JSON), for `ledgerbridge verify`.",
        discussion: """
            The bundle holds the version's ledger entry, its inclusion path in the RFC 9162 tree over every entry in the \
            store, and a tree head signed with the gateway's key (created on first use beside the store, mode 600). \
            Until tree heads are anchored, the head is signed now, over the entries as they are now.
            """)

    @Option(name: .shortAndLong, help: "The configuration file (default: ./ledgerbridge.yaml when present).")
    var config: String?

    @Option(help: "Also write the stored record, as the store serves it now, to this file (JSON).")
    var recordOut: String?

    @Argument(help: "The version: Type/id/_history/vid.")
    var version: String

    func run() async throws {
        let parts = version.split(separator: "/").map(String.init)
        guard parts.count == 4, parts[2] == "_history", let versionId = Int(parts[3]) else {
            throw CLIError("\(version): expected Type/id/_history/vid")
        }
        let configuration = try GatewayConfiguration.load(path: config)
        let store = try await StoreFactory.open(try configuration.storeLocation)
        do {
            let key = try GatewayKey.loadOrCreate(at: configuration.ledgerKeyPath)
            let bundle = try await ProofBuilder(store: store, key: key).bundle(
                type: parts[0], id: parts[1], versionId: versionId, timestamp: UInt64(StoreTime.nowMillis()))
            if let recordOut, let stored = try await store.version(type: parts[0], id: parts[1], versionId: versionId) {
                try Data(FHIRJSON().write(try stored.resource())).write(to: URL(fileURLWithPath: recordOut))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(bundle), as: UTF8.self))
        } catch {
            try? await store.close()
            throw CLIError("\(error)")
        }
        try await store.close()
    }
}

/// `ledgerbridge ledger key`: the gateway's public key, for `verify --key`.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "The gateway's ledger: its signing key.", subcommands: [Key.self])

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the Ed25519 public key that signs tree heads (64 hex digits).")
        @Option(name: .shortAndLong, help: "The configuration file.") var config: String?

        func run() async throws {
            let configuration = try GatewayConfiguration.load(path: config)
            do {
                print(Hex.encode(Array(try GatewayKey.loadOrCreate(at: configuration.ledgerKeyPath).publicKey.rawRepresentation)))
            } catch {
                throw CLIError("\(error)")
            }
        }
    }
}
