import Foundation
import Ledger

/// The one store interface. `SQLiteStore` (GRDB) is the embedded default, `PostgresStore` (PostgresNIO) the
/// production one; `StoreConformance` in the tests runs the same checks on both.
///
/// Writes go through `commit`: every unit of the call lands in one transaction (inbound rows, record versions, search
/// keys, ledger entries, watermarks), or none does. Ingest answers senders only after it returns.
public protocol RecordStore: AnchorStore {
    /// Applies the migrations not yet applied; returns the names of those it applied.
    @discardableResult func migrate() async throws -> [String]

    /// Writes the units in one transaction and says what happened to each.
    func commit(_ units: [IngestUnit]) async throws -> [UnitResult]

    func currentVersion(type: String, id: String) async throws -> StoredVersion?
    func version(type: String, id: String, versionId: Int) async throws -> StoredVersion?
    /// Every version, newest first.
    func history(type: String, id: String) async throws -> [StoredVersion]

    func inbound(id: Int64) async throws -> StoredInbound?
    /// Inbound messages with an outcome, newest first.
    func inbound(outcome: InboundOutcome, limit: Int) async throws -> [StoredInbound]

    /// A poller's stored watermark.
    func watermark(source: String) async throws -> String?

    /// Ledger entries from a leaf index on, in order.
    func ledgerEntries(from: Int64, limit: Int) async throws -> [StoredLedgerEntry]

    /// Empties the raw bodies of inbound messages received before `cutoff` (ms); keeps their outcome and key, so
    /// duplicates are still recognised. Returns how many were purged.
    func purgeInboundBodies(receivedBefore cutoff: Int64) async throws -> Int

    func counts() async throws -> StoreCounts

    /// Ids of resources whose current version has the search key (for tests and, later, the API).
    func search(type: String, key: SearchKey) async throws -> [String]

    /// A FHIR search over current, not deleted versions: one page of ids in id order, and the total.
    func search(_ query: SearchQuery) async throws -> SearchPage

    /// Every version of every resource of a type, newest first, stored at or after `since` (type-level `_history`).
    func history(type: String, since: Int64?, limit: Int) async throws -> [StoredVersion]

    /// A sender's stored messages (accepted or duplicate), oldest first: their keys and bodies (the integrity scan
    /// compares a legacy table with what was taken from it).
    func inboundBodies(sender: String) async throws -> [(key: String?, body: [UInt8])]

    func close() async throws

    /// How many commits may run at once. SQLite has one writer; PostgreSQL overlaps commits (see `PostgresStore`).
    var maxConcurrentCommits: Int { get }
}

extension RecordStore {
    public var maxConcurrentCommits: Int { 1 }
}

/// Where the store is: the embedded SQLite file or a PostgreSQL server.
public enum StoreLocation: Sendable, Hashable {
    case sqlite(path: String)
    case postgres(PostgresStoreConfiguration)
}

/// A PostgreSQL store's connection settings.
public struct PostgresStoreConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `disable`, `prefer` or `require`.
    public var tls: String
    public var maximumConnections: Int
    /// Seconds one store operation may take (waiting for a connection included) before it fails as unavailable.
    public var operationTimeoutSeconds: Double = 5
    /// Commits that may run at once (each on its own connection).
    public var concurrentCommits = 2

    public init(
        host: String = "127.0.0.1", port: Int = 5432, username: String = "postgres", password: String? = nil,
        database: String = "ledgerbridge", tls: String = "prefer", maximumConnections: Int = 8
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.maximumConnections = maximumConnections
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=require`.
    public init(url: String) throws(StoreError) {
        guard let schemeEnd = url.range(of: "://"),
            ["postgres", "postgresql"].contains(url[..<schemeEnd.lowerBound])
        else { throw StoreError.invalidRecord("a PostgreSQL URL starts with postgres://") }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var userInfo: Substring? = nil
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        let hostPort: Substring
        var database = "postgres"
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            database = String(rest[rest.index(after: slash)...])
        } else {
            hostPort = rest
        }
        self.init(database: database.removingPercentEncodingIfPossible)
        if let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) {
            host = String(hostPort[..<colon])
            self.port = port
        } else if !hostPort.isEmpty {
            host = String(hostPort)
        }
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                username = String(userInfo[..<colon]).removingPercentEncodingIfPossible
                password = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncodingIfPossible
            } else {
                username = String(userInfo).removingPercentEncodingIfPossible
            }
        }
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            switch kv[0] {
            case "sslmode": tls = kv[1] == "require" || kv[1] == "verify-full" ? "require" : kv[1] == "disable" ? "disable" : "prefer"
            case "pool_max": maximumConnections = Int(kv[1]) ?? maximumConnections
            default: break
            }
        }
    }
}

extension String {
    fileprivate var removingPercentEncodingIfPossible: String { removingPercentEncoding ?? self }
}

/// Opens the store a configuration names.
public enum StoreFactory {
    public static func open(_ location: StoreLocation) async throws -> any RecordStore {
        switch location {
        case .sqlite(let path): try SQLiteStore(path: path)
        case .postgres(let configuration): try await PostgresStore(configuration: configuration)
        }
    }
}
