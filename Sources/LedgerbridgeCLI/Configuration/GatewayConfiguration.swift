import Foundation
import GatewayAPI
import Ingest
import LedgerAnchors
import Store
import Yams

/// The gateway's one configuration file (YAML). Every key is optional: the defaults run on one machine with nothing
/// installed (SQLite store in `./data`, HTTP on 127.0.0.1:8080, MLLP on 127.0.0.1:2575). Environment variables
/// override the file (`LEDGERBRIDGE_STORE_POSTGRES`, `LEDGERBRIDGE_HTTP_PORT`, …; see Deploy/README.md).
struct GatewayConfiguration: Sendable, Decodable {
    struct StoreSection: Sendable, Decodable {
        /// The SQLite file (the embedded default).
        var sqlite: String? = nil
        /// A PostgreSQL URL; when set, it is the store.
        var postgres: String? = nil
        /// Apply migrations at `serve` start.
        var migrate = true
        /// Raw inbound bodies older than this many days are purged (outcomes and keys are kept). Nil: kept forever.
        var retentionDays: Int? = nil
        var poolSize: Int? = nil
        /// PostgreSQL: commits that may run at once.
        var concurrentCommits: Int? = nil

        init() {}

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sqlite = try c.decodeIfPresent(String.self, forKey: .sqlite)
            postgres = try c.decodeIfPresent(String.self, forKey: .postgres)
            migrate = try c.decodeIfPresent(Bool.self, forKey: .migrate) ?? true
            retentionDays = try c.decodeIfPresent(Int.self, forKey: .retentionDays)
            poolSize = try c.decodeIfPresent(Int.self, forKey: .poolSize)
            concurrentCommits = try c.decodeIfPresent(Int.self, forKey: .concurrentCommits)
        }

        enum CodingKeys: String, CodingKey { case sqlite, postgres, migrate, retentionDays, poolSize, concurrentCommits }
    }

    struct IngestSection: Sendable, Decodable {
        /// Messages waiting for the store before new ones are refused (503 / AE).
        var queueCapacity = 20_000
        /// The most messages written in one group commit.
        var maxGroupMessages = 1_000

        init() {}

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            queueCapacity = try c.decodeIfPresent(Int.self, forKey: .queueCapacity) ?? 20_000
            maxGroupMessages = try c.decodeIfPresent(Int.self, forKey: .maxGroupMessages) ?? 1_000
        }

        enum CodingKeys: String, CodingKey { case queueCapacity, maxGroupMessages }
    }

    var store = StoreSection()
    var http = HTTPConfiguration()
    var mllp = MLLPConfiguration()
    var ingest = IngestSection()
    var sources: [LegacySourceConfiguration] = []
    var logLevel = "info"
    /// The gateway's Ed25519 tree-head signing key (created on first use, mode 600).
    var ledgerKey: String? = nil
    /// Sealing tree heads and anchoring them.
    var ledger = LedgerConfiguration()
    /// The FHIR API's bearer tokens.
    var auth = AccessTokenConfiguration()
    /// The mapping folder (relative to the working directory), watched and reloaded while serving.
    var mappings = "Mappings"
    /// How often `serve` checks the mapping folder for edits (it also reloads on SIGHUP).
    var mappingsReloadSeconds = 2.0
    /// Linking one person's records across sources, and deciding conflicts.
    var reconciliation = ReconciliationSection()
    /// How often `serve` scans the legacy sources for rows changed behind its back (0: never).
    var integrityScanMinutes = 60.0

    struct ReconciliationSection: Sendable, Decodable {
        /// Identifier systems that identify a person across sources (empty: every identifier with a system or an assigner).
        var identifierSystems: [String] = []
        /// Senders (MSH-3^MSH-4 prefixes, feed clients, pollers) in order of trust.
        var precedence: [String] = []
        /// Pairs of Patient records that are not the same person ([Patient/a, Patient/b]).
        var unlinked: [[String]] = []

        init() {}

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            identifierSystems = try c.decodeIfPresent([String].self, forKey: .identifierSystems) ?? []
            precedence = try c.decodeIfPresent([String].self, forKey: .precedence) ?? []
            unlinked = try c.decodeIfPresent([[String]].self, forKey: .unlinked) ?? []
        }

        enum CodingKeys: String, CodingKey { case identifierSystems, precedence, unlinked }
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        store = try c.decodeIfPresent(StoreSection.self, forKey: .store) ?? StoreSection()
        http = try c.decodeIfPresent(HTTPConfiguration.self, forKey: .http) ?? HTTPConfiguration()
        mllp = try c.decodeIfPresent(MLLPConfiguration.self, forKey: .mllp) ?? MLLPConfiguration()
        ingest = try c.decodeIfPresent(IngestSection.self, forKey: .ingest) ?? IngestSection()
        sources = try c.decodeIfPresent([LegacySourceConfiguration].self, forKey: .sources) ?? []
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? "info"
        ledgerKey = try c.decodeIfPresent(String.self, forKey: .ledgerKey)
        ledger = try c.decodeIfPresent(LedgerConfiguration.self, forKey: .ledger) ?? LedgerConfiguration()
        auth = try c.decodeIfPresent(AccessTokenConfiguration.self, forKey: .auth) ?? AccessTokenConfiguration()
        mappings = try c.decodeIfPresent(String.self, forKey: .mappings) ?? "Mappings"
        mappingsReloadSeconds = try c.decodeIfPresent(Double.self, forKey: .mappingsReloadSeconds) ?? 2
        reconciliation = try c.decodeIfPresent(ReconciliationSection.self, forKey: .reconciliation) ?? ReconciliationSection()
        integrityScanMinutes = try c.decodeIfPresent(Double.self, forKey: .integrityScanMinutes) ?? 60
        let names = sources.map(\.name)
        if Set(names).count != names.count {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.sources], debugDescription: "source names must be unique"))
        }
    }

    enum CodingKeys: String, CodingKey {
        case store, http, mllp, ingest, sources, logLevel, ledgerKey, ledger, auth, mappings, mappingsReloadSeconds, reconciliation,
            integrityScanMinutes
    }

    /// The HS256 secret that signs and checks the FHIR API's tokens (created on first use, mode 600).
    var jwtSecretPath: String {
        auth.hs256SecretFile ?? (dataDirectory as NSString).appendingPathComponent("jwt-hs256.key")
    }

    /// The folder of the SQLite store, or ./data for PostgreSQL: the key and the local checkpoint file go there.
    var dataDirectory: String {
        let base = store.postgres == nil ? ((store.sqlite ?? "data/ledgerbridge.sqlite") as NSString).deletingLastPathComponent : "data"
        return base.isEmpty ? "." : base
    }

    /// `ledgerKey`, else `ledger-key.ed25519` beside the SQLite store (or in ./data for PostgreSQL).
    var ledgerKeyPath: String {
        ledgerKey ?? (dataDirectory as NSString).appendingPathComponent("ledger-key.ed25519")
    }

    /// Reads the file (when given, or `ledgerbridge.yaml` when it exists here), then applies the environment.
    static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        let file = path ?? (FileManager.default.fileExists(atPath: "ledgerbridge.yaml") ? "ledgerbridge.yaml" : nil)
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("\(file): cannot read the configuration file") }
            do {
                configuration = try YAMLDecoder().decode(GatewayConfiguration.self, from: data)
            } catch let error as YamlError {
                throw CLIError("\(file): \(error)")
            } catch let error as DecodingError {
                throw CLIError("\(file): \(describe(error))")
            }
        }
        try configuration.apply(environment)
        return configuration
    }

    mutating func apply(_ env: [String: String]) throws {
        func int(_ key: String) throws -> Int? {
            guard let v = env[key] else { return nil }
            guard let i = Int(v) else { throw CLIError("\(key) must be a number") }
            return i
        }
        if let v = env["LEDGERBRIDGE_STORE_POSTGRES"] { store.postgres = v }
        if let v = env["LEDGERBRIDGE_STORE_SQLITE"] {
            store.sqlite = v
            store.postgres = nil
        }
        if let v = env["LEDGERBRIDGE_MAPPINGS"] { mappings = v }
        if let v = env["LEDGERBRIDGE_HTTP_HOST"] { http.host = v }
        if let v = try int("LEDGERBRIDGE_HTTP_PORT") { http.port = v }
        if let v = env["LEDGERBRIDGE_ADMIN_KEY"] { http.adminKey = v }
        if let v = env["LEDGERBRIDGE_MLLP_HOST"] { mllp.host = v }
        if let v = try int("LEDGERBRIDGE_MLLP_PORT") { mllp.port = v }
        if let v = env["LEDGERBRIDGE_MLLP_ENABLED"] { mllp.enabled = v == "true" || v == "1" }
        if let v = env["LEDGERBRIDGE_LOG_LEVEL"] { logLevel = v }
    }

    var storeLocation: StoreLocation {
        get throws {
            if let url = store.postgres {
                var pg = try PostgresStoreConfiguration(url: url)
                if let size = store.poolSize { pg.maximumConnections = size }
                if let commits = store.concurrentCommits { pg.concurrentCommits = commits }
                return .postgres(pg)
            }
            return .sqlite(path: store.sqlite ?? "data/ledgerbridge.sqlite")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)).\(key.stringValue): required key is missing"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type) (\(context.debugDescription))"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type)"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
