import Foundation
import GRDB
import GRDBSQLite
import Ledger
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The embedded default store: one SQLite file (WAL, `synchronous=FULL`, so a commit is on disk before it returns).
public final class SQLiteStore: RecordStore {
    let pool: DatabasePool
    let pointReaders: SQLitePointReaders

    public init(path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The database holds patient data: owner-only. SQLite gives its -wal and -shm files the database file's
        // permissions, so the file is created 0600 before SQLite opens it, and existing companions are tightened.
        if !FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 { Glibc.close(fd) }
        }
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            chmod(file, 0o600)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            pointReaders = SQLitePointReaders(path: path)
        } catch {
            throw StoreError.unavailable("cannot open \(path): \(error)")
        }
    }

    public func migrate() async throws -> [String] {
        try await pool.write { db in
            try db.execute(
                sql:
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"))
            var names: [String] = []
            for m in Schema.migrations where !applied.contains(m.version) {
                for statement in m.sqlite { try db.execute(sql: statement) }
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    arguments: [m.version, m.name, StoreTime.nowMillis()])
                names.append(m.name)
            }
            return names
        }
    }

    public func commit(_ units: [IngestUnit]) async throws -> [UnitResult] {
        if units.isEmpty { return [] }
        do {
            return try await pool.write { db in try Self.commit(units, db) }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError
            where [.SQLITE_CONSTRAINT, .SQLITE_MISMATCH, .SQLITE_TOOBIG, .SQLITE_RANGE].contains(error.resultCode)
        {
            throw StoreError.invalidRecord("SQLite refused the data: \(error.resultCode)")
        } catch {
            throw StoreError.unavailable("\(error)")
        }
    }

    private static func commit(_ units: [IngestUnit], _ db: Database) throws -> [UnitResult] {
        var state = CommitPlan.State(
            nextLeaf: try Int64.fetchOne(db, sql: "SELECT next_leaf FROM ledger_state WHERE singleton = 1") ?? 0,
            inboundIDs: [], now: StoreTime.nowMillis())
        let firstID = (try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM inbound_messages") ?? 0) + 1
        state.inboundIDs = (0..<Int64(units.count)).map { firstID + $0 }
        let lookup = try db.cachedStatement(
            sql: """
                SELECT id, outcome, reason FROM inbound_messages WHERE sender = ? AND message_key = ? \
                AND outcome IN ('accepted', 'dead_letter')
                """)
        for identity in CommitPlan.identities(units) {
            if let row = try Row.fetchOne(lookup, arguments: [identity.sender, identity.key]) {
                state.existing[identity] = (row[0], InboundOutcome(rawValue: row[1]) ?? .accepted, row[2])
            }
        }
        let current = try db.cachedStatement(
            sql: "SELECT version_id, record_hash, is_delete FROM resources WHERE resource_type = ? AND resource_id = ?")
        let currentRow = SQLiteBinding(statement: current.sqliteStatement)
        for key in CommitPlan.resourceKeys(units) {
            currentRow.text(1, key.type)
            currentRow.text(2, key.id)
            if let row = try currentRow.row({ s in
                (Int(sqlite3_column_int64(s, 0)), String(cString: sqlite3_column_text(s, 1)), sqlite3_column_int64(s, 2) != 0)
            }) {
                state.current[key] = row
            }
        }
        let plan = try CommitPlan(units: units, state: state)

        let insertInbound = try db.cachedStatement(
            sql: """
                INSERT INTO inbound_messages (id, channel, sender, message_key, content_type, message_type, received_at, \
                outcome, reason, original_id, body, coverage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for row in plan.inbound {
            let m = row.message
            try insertInbound.execute(arguments: [
                row.id, m.channel, m.sender, m.key, m.contentType, m.messageType, m.receivedAt, row.outcome.rawValue,
                row.reason, row.originalID, Data(m.body), m.coverage,
            ])
        }
        let replay = try db.cachedStatement(
            sql: "UPDATE inbound_messages SET outcome = ?, reason = ?, replayed_at = ? WHERE id = ?")
        for r in plan.replays {
            try replay.execute(arguments: [r.outcome.rawValue, r.reason, r.replayedAt, r.id])
        }
        let insertVersion = try db.cachedStatement(
            sql: """
                INSERT INTO resource_versions (resource_type, resource_id, version_id, last_updated, is_delete, source, \
                source_reference, mapping_version, inbound_id, record_hash, body, leaf_index) \
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for v in plan.versions {
            try insertVersion.run { b in
                b.text(1, v.write.resourceType)
                b.text(2, v.write.id)
                b.int(3, Int64(v.versionId))
                b.int(4, v.lastUpdated)
                b.bool(5, v.write.isDelete)
                b.text(6, v.write.source)
                b.text(7, v.write.sourceReference)
                b.text(8, v.write.mappingVersion)
                b.int(9, v.inboundID)
                b.text(10, v.recordHash)
                b.blob(11, v.body)
                b.int(12, v.leafIndex)
            }
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO resources (resource_type, resource_id, version_id, last_updated, is_delete, record_hash) \
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (resource_type, resource_id) DO UPDATE SET \
                version_id = excluded.version_id, last_updated = excluded.last_updated, is_delete = excluded.is_delete, \
                record_hash = excluded.record_hash
                """)
        let deleteKeys = try db.cachedStatement(sql: "DELETE FROM search_keys WHERE resource_type = ? AND resource_id = ?")
        let insertKey = try db.cachedStatement(
            sql: "INSERT INTO search_keys (resource_type, resource_id, parameter, system, value) VALUES (?, ?, ?, ?, ?)")
        for v in plan.currentRows {
            let (type, id) = (v.write.resourceType, v.write.id)
            try upsert.run { b in
                b.text(1, type)
                b.text(2, id)
                b.int(3, Int64(v.versionId))
                b.int(4, v.lastUpdated)
                b.bool(5, v.write.isDelete)
                b.text(6, v.recordHash)
            }
            // A first version has no keys to replace (most writes of a load, and every AuditEvent).
            if v.versionId > 1 {
                try deleteKeys.run { b in
                    b.text(1, type)
                    b.text(2, id)
                }
            }
            for k in v.searchKeys {
                try insertKey.run { b in
                    b.text(1, type)
                    b.text(2, id)
                    b.text(3, k.parameter)
                    b.text(4, k.system)
                    b.text(5, k.value)
                }
            }
        }
        if plan.nextLeaf != state.nextLeaf {
            try db.execute(sql: "UPDATE ledger_state SET next_leaf = ? WHERE singleton = 1", arguments: [plan.nextLeaf])
        }
        for (source, value) in plan.watermarks {
            try db.execute(
                sql: """
                    INSERT INTO source_watermarks (source, value, updated_at) VALUES (?, ?, ?) \
                    ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                    """, arguments: [source, value, state.now])
        }
        return plan.results
    }

    static let versionColumns = """
        resource_type, resource_id, version_id, last_updated, is_delete, source, source_reference, mapping_version, \
        inbound_id, record_hash, body, leaf_index
        """

    private static func version(_ row: Row) -> StoredVersion {
        StoredVersion(
            resourceType: row[0], id: row[1], versionId: row[2], lastUpdated: row[3], isDelete: row[4], source: row[5],
            sourceReference: row[6], mappingVersion: row[7], inboundID: row[8], recordHash: row[9],
            body: [UInt8]((row[10] as Data?) ?? Data()), leafIndex: row[11])
    }

    // Point reads (one indexed SELECT) run on the calling thread, on connections of their own (SQLitePointReaders):
    // the lookup takes microseconds, less than the two thread hops of the pool's asynchronous read.

    public func currentVersion(type: String, id: String) async throws -> StoredVersion? {
        try pointReaders.read(.current, type: type, id: id)
    }

    public func version(type: String, id: String, versionId: Int) async throws -> StoredVersion? {
        try pointReaders.read(.version(versionId), type: type, id: id)
    }

    public func history(type: String, id: String) async throws -> [StoredVersion] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT \(Self.versionColumns) FROM resource_versions WHERE resource_type = ? AND resource_id = ? \
                        ORDER BY version_id DESC
                        """), arguments: [type, id]
            ).map(Self.version)
        }
    }

    public func history(type: String, since: Int64?, limit: Int) async throws -> [StoredVersion] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT \(Self.versionColumns) FROM resource_versions WHERE resource_type = ? AND last_updated >= ? \
                        ORDER BY last_updated DESC, resource_id, version_id DESC LIMIT ?
                        """), arguments: [type, since ?? Int64.min, limit]
            ).map(Self.version)
        }
    }

    public func inboundBodies(sender: String) async throws -> [(key: String?, body: [UInt8])] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(
                    sql: "SELECT message_key, body FROM inbound_messages WHERE sender = ? AND outcome IN ('accepted', 'duplicate') ORDER BY id"),
                arguments: [sender]
            ).map { (key: $0[0], body: [UInt8](($0[1] as Data?) ?? Data())) }
        }
    }

    static let inboundColumns =
        "id, channel, sender, message_key, content_type, message_type, received_at, outcome, reason, body, replayed_at, coverage"

    private static func inbound(_ row: Row) -> StoredInbound {
        var stored = StoredInbound(
            id: row[0], channel: row[1], sender: row[2], key: row[3], contentType: row[4], messageType: row[5],
            receivedAt: row[6], outcome: InboundOutcome(rawValue: row[7]) ?? .rejected, reason: row[8],
            body: [UInt8]((row[9] as Data?) ?? Data()), replayedAt: row[10])
        stored.coverage = row[11]
        return stored
    }

    public func inbound(id: Int64) async throws -> StoredInbound? {
        try await pool.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.inboundColumns) FROM inbound_messages WHERE id = ?"), arguments: [id])
                .map(Self.inbound)
        }
    }

    public func inbound(outcome: InboundOutcome, limit: Int) async throws -> [StoredInbound] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT \(Self.inboundColumns) FROM inbound_messages WHERE outcome = ? ORDER BY id DESC LIMIT ?"),
                arguments: [outcome.rawValue, limit]
            ).map(Self.inbound)
        }
    }

    public func watermark(source: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM source_watermarks WHERE source = ?", arguments: [source])
        }
    }

    public func ledgerEntries(from: Int64, limit: Int) async throws -> [StoredLedgerEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT leaf_index, resource_type, resource_id, version_id, record_hash, last_updated FROM resource_versions \
                        WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?
                        """), arguments: [from, limit]
            ).map { row in
                try StoredLedgerEntry(leafIndex: row[0], type: row[1], id: row[2], versionId: row[3], recordHash: row[4], storedAt: row[5])
            }
        }
    }

    public func purgeInboundBodies(receivedBefore cutoff: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE inbound_messages SET body = X'', body_purged = 1 WHERE received_at < ? AND body_purged = 0",
                arguments: [cutoff])
            return db.changesCount
        }
    }

    public func counts() async throws -> StoreCounts {
        try await pool.read { db in
            var inbound: [String: Int] = [:]
            for row in try Row.fetchAll(try db.cachedStatement(sql: "SELECT outcome, COUNT(*) FROM inbound_messages GROUP BY outcome")) {
                inbound[row[0]] = row[1]
            }
            return StoreCounts(
                inbound: inbound, resources: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM resources") ?? 0,
                versions: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM resource_versions") ?? 0,
                ledgerEntries: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM resource_versions") ?? 0)
        }
    }

    public func search(type: String, key: SearchKey) async throws -> [String] {
        let parameters = SearchKeys.storedParameters(key.parameter)
        let placeholders = parameters.map { _ in "?" }.joined(separator: ", ")
        return try await pool.read { db in
            if let system = key.system {
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT DISTINCT resource_id FROM search_keys WHERE resource_type = ? AND parameter IN (\(placeholders)) \
                        AND value = ? AND system = ? ORDER BY resource_id
                        """, arguments: StatementArguments([type] + parameters + [key.value, system]))
            } else {
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT DISTINCT resource_id FROM search_keys WHERE resource_type = ? AND parameter IN (\(placeholders)) \
                        AND value = ? ORDER BY resource_id
                        """, arguments: StatementArguments([type] + parameters + [key.value]))
            }
        }
    }

    public func search(_ query: SearchQuery) async throws -> SearchPage {
        let (condition, arguments) = query.whereClause(falseValue: "0")
        return try await pool.read { db in
            let values: [(any DatabaseValueConvertible)?] = arguments.map {
                switch $0 {
                case .text(let t): t
                case .integer(let i): i
                }
            }
            let total =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM resources r WHERE \(condition)", arguments: StatementArguments(values)) ?? 0
            let ids = try String.fetchAll(
                db, sql: "SELECT r.resource_id FROM resources r WHERE \(condition) ORDER BY r.resource_id LIMIT ? OFFSET ?",
                arguments: StatementArguments(values + [query.count, query.offset]))
            return SearchPage(ids: ids, total: total)
        }
    }

    public func close() async throws {
        pointReaders.close()
        try pool.close()
    }
}

extension SQLiteStore {
    /// Runs SQL outside the store's logic: tests use it to tamper with rows and to break commits on purpose.
    func rawExecute(_ sql: String) async throws {
        try await pool.write { db in try db.execute(sql: sql) }
    }
}
