import Foundation
import Ledger
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The production store: PostgreSQL through a PostgresNIO connection pool (TLS per configuration).
///
/// A commit is a handful of round trips whatever its size: lookups and inserts go as arrays through `unnest`, in
/// statements prepared once per connection, so group commits of hundreds of messages cost about as much as one.
public final class PostgresStore: RecordStore {
    let client: PostgresClient
    let logger: Logger
    /// Seconds one operation (a commit, a read) may take, waiting for a connection included.
    let operationTimeout: Double
    let concurrentCommits: Int
    private let runner: Task<Void, Never>

    public init(configuration c: PostgresStoreConfiguration, logger: Logger = Logger(label: "ledgerbridge.store")) async throws {
        var configuration = c.clientConfiguration
        // The commit's statements are prepared once per connection (``PostgresCommitStatements``), which saves their
        // parsing, but each is still planned for its own arrays and the tables as they are now: a generic plan made
        // while `search_keys` was small kept a sequential scan as the table grew, six times PostgreSQL's CPU per
        // message in the ingest benchmark. (PostgreSQL 12 or later; the legacy sources' connections do not set it.)
        configuration.options.additionalStartupParameters.append(("plan_cache_mode", "force_custom_plan"))
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.operationTimeout = c.operationTimeoutSeconds
        self.concurrentCommits = max(1, min(c.concurrentCommits, c.maximumConnections - 1))
        runner = Task { await client.run() }
    }

    /// Commits that may run at once (the commit queue's concurrency).
    public var maxConcurrentCommits: Int { concurrentCommits }

    public func close() async throws {
        runner.cancel()
        await runner.value
    }

    /// Runs one store operation with the configured deadline, and turns every failure into `StoreError`.
    ///
    /// While PostgreSQL is down, PostgresNIO's pool keeps a request waiting for a connection (and retries connecting);
    /// the deadline makes the operation fail fast instead, so feeds answer 503 / AE at once, and a sender's retry
    /// finds the pool reconnected once the server is back.
    func wrap<T: Sendable>(timeout: Double? = nil, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let seconds = timeout ?? operationTimeout
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: .seconds(seconds))
                    throw StoreError.unavailable("PostgreSQL did not answer within \(seconds) s")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as StoreError {
            throw error
        } catch let error as PSQLError {
            throw Self.classify(error)
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? StoreError { throw inner }
            if let inner = (error.closureError ?? error.beginError ?? error.commitError) as? PSQLError { throw Self.classify(inner) }
            throw StoreError.unavailable("\(error)")
        } catch {
            throw StoreError.unavailable("\(error)")
        }
    }

    /// Connection trouble, shutdowns and resource exhaustion make the store unavailable (try again later); a server
    /// refusing the data itself (SQLSTATE classes 22 and 23) is about the records, not the store.
    static func classify(_ error: PSQLError) -> StoreError {
        guard let state = error.serverInfo?[.sqlState] else { return .unavailable("\(error.code)") }
        let message = error.serverInfo?[.message] ?? state
        // Two commits creating the same record or message row meet on a unique index (23505); serialization failures
        // and deadlocks (40001, 40P01) are the same race: the units are committed again, alone.
        if state == "23505" || state == "40001" || state == "40P01" { return .conflict("\(message) (\(state))") }
        if state.hasPrefix("22") || state.hasPrefix("23") { return .invalidRecord("PostgreSQL refused the data (\(state)): \(message)") }
        return .unavailable("\(message) (\(state))")
    }

    public func migrate() async throws -> [String] {
        try await wrap(timeout: 600) { [self] in
            try await client.withTransaction(logger: logger) { conn in
                // One migrator at a time across every gateway sharing the database.
                try await conn.query("SELECT pg_advisory_xact_lock(7283645)", logger: logger)
                try await conn.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                    logger: logger)
                var applied = Set<Int>()
                for try await v in try await conn.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                    applied.insert(v)
                }
                var names: [String] = []
                for m in Schema.migrations where !applied.contains(m.version) {
                    for statement in m.postgres {
                        try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await conn.query(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(m.version), \(m.name), \(StoreTime.nowMillis()))",
                        logger: logger)
                    names.append(m.name)
                }
                return names
            }
        }
    }

    public func commit(_ units: [IngestUnit]) async throws -> [UnitResult] {
        if units.isEmpty { return [] }
        let logger = logger
        return try await wrap { [self] in
            try await client.withTransaction(logger: logger) { conn in try await Self.commit(units, conn, logger) }
        }
    }

    private static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    /// One commit in three statements besides BEGIN and COMMIT: the lookups, every row write but the versions, and
    /// the versions with their ledger leaves (``PostgresCommitStatements``, prepared once per connection). Each
    /// statement costs a round trip, and a commit of a dozen statements spent more on that than on its rows.
    ///
    /// Several commits run at once; only the last statement, which gives the new versions their ledger leaves, takes
    /// the ledger row lock (by updating it), so leaves stay contiguous across commits and gateways. The plan numbers
    /// leaves from 0 and they are offset under the lock. Two commits touching the same resource or message key meet
    /// on a unique index: the later one fails as a conflict, and the commit queue commits its callers again one by one.
    private static func commit(_ units: [IngestUnit], _ conn: PostgresConnection, _ logger: Logger) async throws -> [UnitResult] {
        var state = CommitPlan.State(nextLeaf: 0, inboundIDs: [], now: StoreTime.nowMillis())

        // 1. Inbound ids, messages already stored under the same sender and key, and the current versions.
        let identities = Array(CommitPlan.identities(units))
        let resourceKeys = Array(CommitPlan.resourceKeys(units))
        let lookups = PostgresCommitStatements.Lookups(
            count: units.count, senders: identities.map(\.sender), messageKeys: identities.map(\.key),
            types: resourceKeys.map(\.type), ids: resourceKeys.map(\.id))
        for try await (kind, number, a, b, c, d, e) in try await conn.execute(lookups, logger: logger) {
            switch kind {
            case "i":
                state.inboundIDs.append(number)
            case "m":
                state.existing[CommitPlan.InboundIdentity(sender: a ?? "", key: b ?? "")] =
                    (number, InboundOutcome(rawValue: c ?? "") ?? .accepted, d)
            default:
                state.current[CommitPlan.ResourceKey(type: a ?? "", id: b ?? "")] = (Int(number), c ?? "", e ?? false)
            }
        }
        state.inboundIDs.sort()
        let plan = try CommitPlan(units: units, state: state)

        // 2. Inbound messages, current versions, search keys and watermarks, in one statement. Rows are locked in
        //    (type, id) order.
        var writes = PostgresCommitStatements.Writes()
        for row in plan.inbound {
            writes.ids.append(row.id)
            writes.channels.append(row.message.channel)
            writes.senders.append(row.message.sender)
            writes.keys.append(row.message.key ?? "")
            writes.contentTypes.append(row.message.contentType)
            writes.messageTypes.append(row.message.messageType ?? "")
            writes.received.append(row.message.receivedAt)
            writes.outcomes.append(row.outcome.rawValue)
            writes.reasons.append(row.reason ?? "")
            writes.originals.append(row.originalID ?? -1)
            writes.bodies.append(buffer(row.message.body))
            writes.coverage.append(row.message.coverage ?? "")
        }
        let current = plan.currentRows.sorted { ($0.write.resourceType, $0.write.id) < ($1.write.resourceType, $1.write.id) }
        for row in current {
            writes.currentTypes.append(row.write.resourceType)
            writes.currentIDs.append(row.write.id)
            writes.currentVersions.append(Int64(row.versionId))
            writes.currentUpdated.append(row.lastUpdated)
            writes.currentDeletes.append(row.write.isDelete)
            writes.currentHashes.append(row.recordHash)
            for key in row.searchKeys {
                writes.keyTypes.append(row.write.resourceType)
                writes.keyIDs.append(row.write.id)
                writes.keyParameters.append(key.parameter)
                writes.keySystems.append(key.system ?? "")
                writes.keyValues.append(key.value)
            }
        }
        for (source, value) in plan.watermarks.sorted(by: { $0.key < $1.key }) {
            writes.watermarkSources.append(source)
            writes.watermarkValues.append(value)
        }
        writes.now = state.now
        for try await _ in try await conn.execute(writes, logger: logger) {}
        for r in plan.replays {
            try await conn.query(
                "UPDATE inbound_messages SET outcome = \(r.outcome.rawValue), reason = \(r.reason), replayed_at = \(r.replayedAt) WHERE id = \(r.id)",
                logger: logger)
        }

        // 3. The versions, on the leaves after the ledger's current end: updating the ledger row locks it until COMMIT.
        var firstLeaf: Int64 = 0
        if !plan.versions.isEmpty {
            let v = plan.versions
            let versions = PostgresCommitStatements.Versions(
                count: plan.nextLeaf, types: v.map(\.write.resourceType), ids: v.map(\.write.id), versions: v.map { Int64($0.versionId) },
                updated: v.map(\.lastUpdated), deletes: v.map(\.write.isDelete), sources: v.map(\.write.source),
                references: v.map { $0.write.sourceReference ?? "" }, mappings: v.map { $0.write.mappingVersion ?? "" },
                inbound: v.map(\.inboundID), hashes: v.map(\.recordHash), bodies: v.map { buffer($0.body) }, leaves: v.map(\.leafIndex))
            for try await first in try await conn.execute(versions, logger: logger) {
                firstLeaf = first
            }
        }
        return plan.results(offsettingLeavesBy: firstLeaf)
    }

    private static let versionColumns = """
        resource_type, resource_id, version_id, last_updated, is_delete, source, COALESCE(source_reference, ''), \
        COALESCE(mapping_version, ''), COALESCE(inbound_id, -1), record_hash, body, leaf_index
        """

    private func versions(_ query: PostgresQuery) async throws -> [StoredVersion] {
        try await wrap { [self] in
            var out: [StoredVersion] = []
            let rows = try await client.query(query, logger: logger)
            for try await row in rows {
                let (t, i, v, lu, del, src, ref, map, inb, h, b, leaf) = try row.decode(
                    (String, String, Int, Int64, Bool, String, String, String, Int64, String, ByteBuffer, Int64).self)
                out.append(
                    StoredVersion(
                        resourceType: t, id: i, versionId: v, lastUpdated: lu, isDelete: del, source: src,
                        sourceReference: ref.isEmpty ? nil : ref, mappingVersion: map.isEmpty ? nil : map,
                        inboundID: inb < 0 ? nil : inb, recordHash: h, body: Array(buffer: b), leafIndex: leaf))
            }
            return out
        }
    }

    public func currentVersion(type: String, id: String) async throws -> StoredVersion? {
        try await versions(
            "SELECT \(unescaped: Self.versionColumns) FROM resource_versions WHERE resource_type = \(type) AND resource_id = \(id) ORDER BY version_id DESC LIMIT 1"
        ).first
    }

    public func version(type: String, id: String, versionId: Int) async throws -> StoredVersion? {
        try await versions(
            "SELECT \(unescaped: Self.versionColumns) FROM resource_versions WHERE resource_type = \(type) AND resource_id = \(id) AND version_id = \(versionId)"
        ).first
    }

    public func history(type: String, id: String) async throws -> [StoredVersion] {
        try await versions(
            "SELECT \(unescaped: Self.versionColumns) FROM resource_versions WHERE resource_type = \(type) AND resource_id = \(id) ORDER BY version_id DESC"
        )
    }

    public func history(type: String, since: Int64?, limit: Int) async throws -> [StoredVersion] {
        try await versions(
            """
            SELECT \(unescaped: Self.versionColumns) FROM resource_versions WHERE resource_type = \(type) \
            AND last_updated >= \(since ?? Int64.min) ORDER BY last_updated DESC, resource_id, version_id DESC LIMIT \(limit)
            """
        )
    }

    public func inboundBodies(sender: String) async throws -> [(key: String?, body: [UInt8])] {
        try await wrap { [self] in
            var out: [(key: String?, body: [UInt8])] = []
            for try await (key, body) in try await client.query(
                "SELECT COALESCE(message_key, ''), body FROM inbound_messages WHERE sender = \(sender) AND outcome IN ('accepted', 'duplicate') ORDER BY id",
                logger: logger
            ).decode((String, ByteBuffer).self) {
                out.append((key.isEmpty ? nil : key, Array(buffer: body)))
            }
            return out
        }
    }

    private static let inboundColumns = """
        id, channel, sender, COALESCE(message_key, ''), content_type, COALESCE(message_type, ''), received_at, outcome, \
        COALESCE(reason, ''), body, COALESCE(replayed_at, -1), COALESCE(coverage, '')
        """

    private func inbound(_ query: PostgresQuery) async throws -> [StoredInbound] {
        try await wrap { [self] in
            var out: [StoredInbound] = []
            for try await (id, ch, sender, key, ct, mt, rat, outcome, reason, body, replayed, coverage) in try await client.query(
                query, logger: logger
            ).decode((Int64, String, String, String, String, String, Int64, String, String, ByteBuffer, Int64, String).self) {
                var stored = StoredInbound(
                    id: id, channel: ch, sender: sender, key: key.isEmpty ? nil : key, contentType: ct,
                    messageType: mt.isEmpty ? nil : mt, receivedAt: rat, outcome: InboundOutcome(rawValue: outcome) ?? .rejected,
                    reason: reason.isEmpty ? nil : reason, body: Array(buffer: body), replayedAt: replayed < 0 ? nil : replayed)
                stored.coverage = coverage.isEmpty ? nil : coverage
                out.append(stored)
            }
            return out
        }
    }

    public func inbound(id: Int64) async throws -> StoredInbound? {
        try await inbound("SELECT \(unescaped: Self.inboundColumns) FROM inbound_messages WHERE id = \(id)").first
    }

    public func inbound(outcome: InboundOutcome, limit: Int) async throws -> [StoredInbound] {
        try await inbound(
            "SELECT \(unescaped: Self.inboundColumns) FROM inbound_messages WHERE outcome = \(outcome.rawValue) ORDER BY id DESC LIMIT \(limit)"
        )
    }

    public func watermark(source: String) async throws -> String? {
        try await wrap { [self] in
            for try await v in try await client.query("SELECT value FROM source_watermarks WHERE source = \(source)", logger: logger)
                .decode(String.self)
            {
                return v
            }
            return nil
        }
    }

    public func ledgerEntries(from: Int64, limit: Int) async throws -> [StoredLedgerEntry] {
        try await wrap { [self] in
            var out: [StoredLedgerEntry] = []
            for try await (leaf, type, id, version, hash, storedAt) in try await client.query(
                """
                SELECT leaf_index, resource_type, resource_id, version_id, record_hash, last_updated FROM resource_versions \
                WHERE leaf_index >= \(from) ORDER BY leaf_index LIMIT \(limit)
                """, logger: logger
            ).decode((Int64, String, String, Int, String, Int64).self) {
                out.append(try StoredLedgerEntry(leafIndex: leaf, type: type, id: id, versionId: version, recordHash: hash, storedAt: storedAt))
            }
            return out
        }
    }

    public func purgeInboundBodies(receivedBefore cutoff: Int64) async throws -> Int {
        try await wrap { [self] in
            var n = 0
            for try await c in try await client.query(
                """
                WITH p AS (UPDATE inbound_messages SET body = ''::bytea, body_purged = true \
                WHERE received_at < \(cutoff) AND NOT body_purged RETURNING 1) SELECT COUNT(*) FROM p
                """, logger: logger
            ).decode(Int.self) {
                n = c
            }
            return n
        }
    }

    private func count(_ query: PostgresQuery) async throws -> Int {
        for try await c in try await client.query(query, logger: logger).decode(Int.self) { return c }
        return 0
    }

    public func counts() async throws -> StoreCounts {
        try await wrap { [self] in
            var inbound: [String: Int] = [:]
            for try await (o, c) in try await client.query(
                "SELECT outcome, COUNT(*)::bigint FROM inbound_messages GROUP BY outcome", logger: logger
            ).decode((String, Int).self) {
                inbound[o] = c
            }
            return StoreCounts(
                inbound: inbound, resources: try await count("SELECT COUNT(*) FROM resources"),
                versions: try await count("SELECT COUNT(*) FROM resource_versions"),
                ledgerEntries: try await count("SELECT COUNT(*) FROM resource_versions"))
        }
    }

    public func search(type: String, key: SearchKey) async throws -> [String] {
        let parameters = SearchKeys.storedParameters(key.parameter)
        return try await wrap { [self] in
            var out: [String] = []
            let query: PostgresQuery =
                if let system = key.system {
                    """
                    SELECT DISTINCT resource_id FROM search_keys WHERE resource_type = \(type) AND parameter = ANY(\(parameters)::text[]) \
                    AND value = \(key.value) AND system = \(system) ORDER BY resource_id
                    """
                } else {
                    """
                    SELECT DISTINCT resource_id FROM search_keys WHERE resource_type = \(type) AND parameter = ANY(\(parameters)::text[]) \
                    AND value = \(key.value) ORDER BY resource_id
                    """
                }
            for try await id in try await client.query(query, logger: logger).decode(String.self) { out.append(id) }
            return out
        }
    }
}

extension PostgresStore {
    public func search(_ query: SearchQuery) async throws -> SearchPage {
        let (condition, arguments) = query.whereClause(falseValue: "false")
        let countSQL = Self.numbered("SELECT COUNT(*)::bigint FROM resources r WHERE \(condition)")
        let pageSQL =
            Self.numbered("SELECT r.resource_id FROM resources r WHERE \(condition) ORDER BY r.resource_id")
            + " LIMIT \(max(0, query.count)) OFFSET \(max(0, query.offset))"
        return try await wrap { [self] in
            var total = 0
            for try await n in try await client.query(PostgresQuery(unsafeSQL: countSQL, binds: Self.bindings(arguments)), logger: logger)
                .decode(Int.self)
            {
                total = n
            }
            var ids: [String] = []
            for try await id in try await client.query(PostgresQuery(unsafeSQL: pageSQL, binds: Self.bindings(arguments)), logger: logger)
                .decode(String.self)
            {
                ids.append(id)
            }
            return SearchPage(ids: ids, total: total)
        }
    }

    /// `?` placeholders (outside quotes) as $1, $2, … in order.
    static func numbered(_ sql: String) -> String {
        var out = ""
        var n = 0
        var inQuote = false
        for c in sql {
            if c == "'" { inQuote.toggle() }
            if c == "?" && !inQuote {
                n += 1
                out += "$\(n)"
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func bindings(_ arguments: [SearchArgument]) -> PostgresBindings {
        var binds = PostgresBindings()
        for a in arguments {
            switch a {
            case .text(let t): binds.append(t)
            case .integer(let i): binds.append(i)
            }
        }
        return binds
    }
}

extension PostgresStoreConfiguration {
    /// The PostgresNIO client settings: TLS by `tls`, the pool size, a 5 s connect timeout. The store and the legacy
    /// source pollers connect this one way.
    public var clientConfiguration: PostgresClient.Configuration {
        let mode: PostgresClient.Configuration.TLS =
            switch tls {
            case "disable": .disable
            case "require": .require(.makeClientConfiguration())
            default: .prefer(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: mode)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

extension PostgresStore {
    /// Runs SQL outside the store's logic: tests use it to tamper with rows and to break commits on purpose.
    func rawExecute(_ sql: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }
}
