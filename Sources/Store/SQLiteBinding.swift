import GRDB
import GRDBSQLite

/// Values bound to a prepared statement through SQLite's C API, for the statements every commit and every FHIR read
/// runs. GRDB's argument arrays (an existential and a copy per value, a dictionary of bindings per execution) had been
/// a fifth of the CPU of storing an AuditEvent.
struct SQLiteBinding {
    let statement: OpaquePointer

    func text(_ index: Int32, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(statement, index)
            return
        }
        text.withUTF8 { utf8 in
            // SQLITE_TRANSIENT: SQLite copies the bytes before this returns.
            _ = sqlite3_bind_text(
                statement, index, UnsafeRawPointer(utf8.baseAddress)?.assumingMemoryBound(to: CChar.self), Int32(utf8.count),
                unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
    }

    func int(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
    }

    func bool(_ index: Int32, _ value: Bool) { sqlite3_bind_int64(statement, index, value ? 1 : 0) }

    func blob(_ index: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            // A zero-length blob, not NULL, for an empty body (a deletion's).
            _ = sqlite3_bind_blob(
                statement, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count),
                unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
    }

    /// Steps the bound statement once and decodes the row it returns (nil when it returns none), then resets it and
    /// clears its values.
    func row<T>(_ decode: (OpaquePointer) -> T) throws(DatabaseError) -> T? {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return decode(statement)
        case SQLITE_DONE: return nil
        case let code:
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(statement))),
                sql: String(cString: sqlite3_sql(statement)))
        }
    }

    /// Runs a statement that returns no rows (an insert, an update, a delete), then resets it.
    func run() throws(DatabaseError) { _ = try row { _ in () } }
}

extension Statement {
    /// Binds with `bind`, then runs the statement (see `SQLiteBinding`).
    func run(_ bind: (SQLiteBinding) -> Void) throws(DatabaseError) {
        let binding = SQLiteBinding(statement: sqliteStatement)
        bind(binding)
        try binding.run()
    }
}
