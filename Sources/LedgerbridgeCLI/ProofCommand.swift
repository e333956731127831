import ArgumentParser
import Crypto
import FHIR
import Foundation
import Ingest
import Ledger
import LedgerAnchors
import Logging
import Store

/// `ledgerbridge proof Type/id/_history/vid`: a proof bundle for a stored version, to check with `ledgerbridge verify`.
struct ProofCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proof",
        abstract: "Write the proof bundle of a stored record version (JSON), for `ledgerbridge verify`.",
        discussion: """
            The bundle holds the version's ledger entry, its inclusion path in the RFC 9162 tree, the first sealed tree \
            head that covers it (signed with the gateway's key) and that head's anchor receipts. A version logged after \
            the newest sealed head has no bundle yet: `ledgerbridge anchor --now` seals one at once.
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
            let bundle = try await ProofBuilder(store: store, publicKey: key.publicKey, tree: StoreTree(store: store)).bundle(
                type: parts[0], id: parts[1], versionId: versionId)
            if let recordOut, let stored = try await store.version(type: parts[0], id: parts[1], versionId: versionId) {
                try Data(FHIRJSON().write(try stored.resource())).write(to: URL(fileURLWithPath: recordOut))
            }
            print(String(decoding: try JSONOutput.pretty(bundle), as: UTF8.self))
        } catch {
            try? await store.close()
            throw CLIError("\(error)")
        }
        try await store.close()
    }
}

enum JSONOutput {
    static func pretty(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

/// `ledgerbridge anchor --now`: seal a tree head over every waiting entry and anchor it on every backend.
struct AnchorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anchor",
        abstract: "Force an anchor round: seal a tree head now and send every waiting head to every backend.",
        discussion: """
            Safe beside a running gateway: outbox rows are leased, so the two never send the same head. Exit status 1 \
            when a backend is still not anchored when --timeout runs out (it keeps being retried by `serve`).
            """)

    @Option(name: .shortAndLong, help: "The configuration file (default: ./ledgerbridge.yaml when present).")
    var config: String?

    @Flag(help: "Required: anchor now (the gateway otherwise anchors every ledger.batchSeconds).")
    var now = false

    @Option(help: "Seconds to keep retrying and waiting for confirmations.")
    var timeout: Double = 60

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        guard now else { throw CLIError("say --now to anchor now (serve anchors by itself every ledger.batchSeconds)") }
        let configuration = try GatewayConfiguration.load(path: config)
        let logger = LogSetup.bootstrap(level: configuration.logLevel == "info" ? "warning" : configuration.logLevel)
        let gateway = try await IngestPipeline.open(configuration, logger: logger)
        do {
            let anchoring = try gateway.anchorService(configuration, logger: logger)
            let (head, rows) = try await anchoring.anchorNow(timeout: timeout)
            let summary = try await gateway.store.anchorSummary()
            try await gateway.store.close()
            if json {
                struct Out: Encodable {
                    var treeHead: StoredTreeHead?
                    var backends: [AnchorBackendSummary]
                }
                print(String(decoding: try JSONOutput.pretty(Out(treeHead: head, backends: summary)), as: UTF8.self))
            } else {
                if let head {
                    print("tree head \(head.treeSize) root \(head.root)")
                } else {
                    print("no ledger entries yet: nothing to anchor")
                }
                for row in rows { print("  \(row.backend): \(row.state.rawValue)\(row.lastError.map { " (\($0))" } ?? "")") }
                for s in summary where s.pending + s.submitted > 0 {
                    print("  \(s.backend): \(s.pending + s.submitted) head(s) still waiting; last error: \(s.lastError ?? "none")")
                }
            }
            if summary.contains(where: { $0.pending + $0.submitted > 0 }) { throw ExitCode(1) }
        } catch let error as ExitCode {
            throw error
        } catch {
            try? await gateway.store.close()
            throw CLIError("\(error)")
        }
    }
}

/// `ledgerbridge ledger key|status`.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "The gateway's ledger: its signing key, sealed and anchored tree heads.",
        subcommands: [Key.self, Status.self])

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

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the entries, the newest sealed tree head, and each backend's pending and anchored heads.")
        @Option(name: .shortAndLong, help: "The configuration file.") var config: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let configuration = try GatewayConfiguration.load(path: config)
            let store = try await StoreFactory.open(try configuration.storeLocation)
            do {
                let entries = try await store.ledgerSize()
                let head = try await store.latestTreeHead()
                let summary = try await store.anchorSummary()
                try await store.close()
                if json {
                    struct Out: Encodable {
                        var entries: Int64
                        var latestTreeHead: StoredTreeHead?
                        var backends: [AnchorBackendSummary]
                    }
                    print(String(decoding: try JSONOutput.pretty(Out(entries: entries, latestTreeHead: head, backends: summary)), as: UTF8.self))
                    return
                }
                print("entries: \(entries)")
                if let head {
                    print("latest tree head: size \(head.treeSize), root \(head.root), signed \(StoreTime.instant(head.timestamp))")
                    print("entries waiting for a head: \(entries - head.treeSize)")
                } else {
                    print("latest tree head: none sealed yet")
                }
                for s in summary {
                    var line = "\(s.backend): \(s.anchored) anchored, \(s.pending) pending, \(s.submitted) submitted"
                    if let last = s.lastAnchoredTreeSize { line += "; last anchored head \(last)" }
                    if let waiting = s.oldestWaitingTreeSize { line += "; oldest waiting head \(waiting)" }
                    if let error = s.lastError { line += "; last error: \(error)" }
                    if let next = s.nextAttemptAt, s.pending + s.submitted > 0 { line += "; next attempt \(StoreTime.instant(next))" }
                    print(line)
                }
            } catch {
                try? await store.close()
                throw CLIError("\(error)")
            }
        }
    }
}
