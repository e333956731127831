import GRDB
import GRDBSQLite
import Synchronization

/// Read-only connections for the point reads of a FHIR read (the current version, or one version, of one resource),
/// on the calling thread and on SQLite's C API with two statements prepared once per connection.
///
/// They sit outside GRDB's pool: a free list, and a new connection when every one is in use, so a caller never waits
/// for a connection and a task on Swift's cooperative pool that reads here cannot wait on work that itself needs that
/// pool (GRDB's pool, read synchronously from there, deadlocks when its readers are held by asynchronous reads). There
/// are at most as many connections as threads that read at once. GRDB's serial queue and row decoding had been half
/// of a read's store time; a read here is one `sqlite3_step` and copies of its columns.
final class SQLitePointReaders: Sendable {
    enum Lookup {
        case current
        case version(Int)
    }

    private let path: String
    private let free = Mutex<[PointConnection]>([])

    init(path: String) { self.path = path }

    func read(_ lookup: Lookup, type: String, id: String) throws(StoreError) -> StoredVersion? {
        let connection: PointConnection
        if let idle = free.withLock({ $0.popLast() }) { connection = idle } else { connection = try PointConnection(path: path) }
        // A connection whose statement failed is closed rather than kept: the next read opens a fresh one.
        let found = try connection.read(lookup, type: type, id: id)
        free.withLock { $0.append(connection) }
        return found
    }

    /// Closes the idle connections (those in use close when their owner lets go of them).
    func close() {
        free.withLock { $0.removeAll() }
    }
}

/// One read-only connection and its statements. Used by one thread at a time: it is out of the free list while in use.
private final class PointConnection: @unchecked Sendable {
    private var db: OpaquePointer?
    private var current: OpaquePointer?
    private var byVersion: OpaquePointer?

    init(path: String) throws(StoreError) {
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
            let why = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            db = nil
            throw StoreError.unavailable("cannot open \(path): \(why)")
        }
        sqlite3_busy_timeout(db, 10_000)
        current = try prepare(
            "SELECT \(SQLiteStore.versionColumns) FROM resource_versions WHERE resource_type = ?1 AND resource_id = ?2 ORDER BY version_id DESC LIMIT 1"
        )
        byVersion = try prepare(
            "SELECT \(SQLiteStore.versionColumns) FROM resource_versions WHERE resource_type = ?1 AND resource_id = ?2 AND version_id = ?3")
    }

    deinit {
        sqlite3_finalize(current)
        sqlite3_finalize(byVersion)
        sqlite3_close_v2(db)
    }

    private func prepare(_ sql: String) throws(StoreError) -> OpaquePointer? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK else {
            throw StoreError.unavailable("SQLite: \(String(cString: sqlite3_errmsg(db)))")
        }
        return statement
    }

    func read(_ lookup: SQLitePointReaders.Lookup, type: String, id: String) throws(StoreError) -> StoredVersion? {
        let prepared: OpaquePointer?
        switch lookup {
        case .current: prepared = current
        case .version: prepared = byVersion
        }
        guard let prepared else { throw StoreError.unavailable("SQLite: the point read's statement is not prepared") }
        let binding = SQLiteBinding(statement: prepared)
        if case .version(let v) = lookup { binding.int(3, Int64(v)) }
        binding.text(1, type)
        binding.text(2, id)
        do {
            return try binding.row { row($0) }
        } catch {
            throw StoreError.unavailable("SQLite read failed (\(error.resultCode.rawValue)): \(error.message ?? "")")
        }
    }

    private func row(_ s: OpaquePointer?) -> StoredVersion {
        func isNull(_ i: Int32) -> Bool { sqlite3_column_type(s, i) == SQLITE_NULL }
        func text(_ i: Int32) -> String {
            guard let p = sqlite3_column_text(s, i) else { return "" }
            return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, i))), as: UTF8.self)
        }
        // The columns of `SQLiteStore.versionColumns`, in its order.
        func int(_ i: Int32) -> Int64 { sqlite3_column_int64(s, i) }
        var body: [UInt8] = []
        if let p = sqlite3_column_blob(s, 10) {
            body = Array(UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, 10))))
        }
        return StoredVersion(
            resourceType: text(0), id: text(1), versionId: Int(int(2)), lastUpdated: int(3), isDelete: int(4) != 0, source: text(5),
            sourceReference: isNull(6) ? nil : text(6), mappingVersion: isNull(7) ? nil : text(7), inboundID: isNull(8) ? nil : int(8),
            recordHash: text(9), body: body, leafIndex: isNull(11) ? nil : int(11))
    }
}
