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

    /// Runs the bound statement to its end (a statement that returns no rows), then resets it and clears its values.
    func run(_ db: Database) throws {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else { throw failure(code, db) }
    }

    private func failure(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
            sql: String(cString: sqlite3_sql(statement)))
    }

    /// Runs the bound statement for its first row, decoded by `decode` (nil when it returns none), then resets it.
    func row<T>(_ db: Database, _ decode: (OpaquePointer) -> T) throws -> T? {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return decode(statement)
        case SQLITE_DONE: return nil
        case let code: throw failure(code, db)
        }
    }
}

extension Statement {
    /// Binds with `bind`, then runs the statement (see `SQLiteBinding`).
    func run(_ db: Database, _ bind: (SQLiteBinding) -> Void) throws {
        let binding = SQLiteBinding(statement: sqliteStatement)
        bind(binding)
        try binding.run(db)
    }
}
