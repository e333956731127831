import GRDB

extension SQLiteStore {
    static let headColumns = "tree_size, root, signed_at, signature, key_id"
    static let anchorColumns = "tree_size, backend, state, attempts, next_attempt_at, last_error, receipt, anchored_at"

    private static func head(_ row: Row) -> StoredTreeHead {
        StoredTreeHead(treeSize: row[0], root: row[1], timestamp: row[2], signature: row[3], keyID: row[4])
    }

    private static func anchor(_ row: Row) -> AnchorRecord {
        AnchorRecord(
            treeSize: row[0], backend: row[1], state: AnchorState(rawValue: row[2]) ?? .pending, attempts: row[3], nextAttemptAt: row[4],
            lastError: row[5], receipt: row[6], anchoredAt: row[7])
    }

    public func ledgerSize() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT next_leaf FROM ledger_state WHERE singleton = 1") ?? 0 }
    }

    public func recordTreeHead(_ head: StoredTreeHead, backends: [String], now: Int64) async throws -> Bool {
        try await storeOperation {
            try await pool.write { db in
                if try Int.fetchOne(db, sql: "SELECT 1 FROM tree_heads WHERE tree_size = ?", arguments: [head.treeSize]) != nil { return false }
                let size = try Int64.fetchOne(db, sql: "SELECT next_leaf FROM ledger_state WHERE singleton = 1") ?? 0
                let latest = try Int64.fetchOne(db, sql: "SELECT MAX(tree_size) FROM tree_heads")
                try Self.checkNewHead(head, ledgerSize: size, latest: latest)
                try db.execute(
                    sql: "INSERT INTO tree_heads (\(Self.headColumns)) VALUES (?, ?, ?, ?, ?)",
                    arguments: [head.treeSize, head.root, head.timestamp, head.signature, head.keyID])
                for backend in backends {
                    try db.execute(
                        sql: "INSERT INTO anchor_outbox (tree_size, backend, state, attempts, next_attempt_at) VALUES (?, ?, 'pending', 0, ?)",
                        arguments: [head.treeSize, backend, now])
                }
                return true
            }
        }
    }

    public func latestTreeHead() async throws -> StoredTreeHead? {
        try await pool.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.headColumns) FROM tree_heads ORDER BY tree_size DESC LIMIT 1")).map(Self.head)
        }
    }

    public func treeHead(coveringLeaf leaf: Int64) async throws -> StoredTreeHead? {
        try await pool.read { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(Self.headColumns) FROM tree_heads WHERE tree_size > ? ORDER BY tree_size LIMIT 1"),
                arguments: [leaf]
            ).map(Self.head)
        }
    }

    public func treeHead(size: Int64) async throws -> StoredTreeHead? {
        try await pool.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.headColumns) FROM tree_heads WHERE tree_size = ?"), arguments: [size]).map(
                Self.head)
        }
    }

    public func treeHeads(before: Int64?, limit: Int) async throws -> [StoredTreeHead] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT \(Self.headColumns) FROM tree_heads WHERE tree_size < ? ORDER BY tree_size DESC LIMIT ?"),
                arguments: [before ?? Int64.max, limit]
            ).map(Self.head)
        }
    }

    public func anchors(treeSize: Int64) async throws -> [AnchorRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT \(Self.anchorColumns) FROM anchor_outbox WHERE tree_size = ? ORDER BY backend"),
                arguments: [treeSize]
            ).map(Self.anchor)
        }
    }

    public func claimDueAnchors(dueBy: Int64, now: Int64, leaseUntil: Int64, limit: Int) async throws -> [AnchorRecord] {
        try await storeOperation {
            try await pool.write { db in
                let rows = try Row.fetchAll(
                    try db.cachedStatement(
                        sql: """
                            SELECT \(Self.anchorColumns) FROM anchor_outbox o WHERE state <> 'anchored' AND next_attempt_at <= ? \
                            AND (lease_until IS NULL OR lease_until < ?) AND NOT EXISTS (SELECT 1 FROM anchor_outbox e WHERE e.backend = o.backend AND e.tree_size < o.tree_size \
                            AND e.state = 'pending' AND (e.next_attempt_at > ? OR e.lease_until >= ?)) \
                            ORDER BY tree_size, backend LIMIT ?
                            """), arguments: [dueBy, now, dueBy, now, limit]
                ).map(Self.anchor)
                for r in rows {
                    try db.execute(
                        sql: "UPDATE anchor_outbox SET lease_until = ? WHERE tree_size = ? AND backend = ?",
                        arguments: [leaseUntil, r.treeSize, r.backend])
                }
                return rows
            }
        }
    }

    public func updateAnchor(_ r: AnchorRecord) async throws {
        try await storeOperation {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE anchor_outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, receipt = ?, \
                        anchored_at = ?, lease_until = NULL WHERE tree_size = ? AND backend = ?
                        """,
                    arguments: [r.state.rawValue, r.attempts, r.nextAttemptAt, r.lastError, r.receipt, r.anchoredAt, r.treeSize, r.backend])
            }
        }
    }

    public func anchorSummary() async throws -> [AnchorBackendSummary] {
        try await pool.read { db in
            var out: [String: AnchorBackendSummary] = [:]
            for row in try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT backend, state, COUNT(*), MAX(CASE WHEN state = 'anchored' THEN tree_size END) FROM anchor_outbox \
                        GROUP BY backend, state
                        """))
            {
                let backend: String = row[0]
                var s = out[backend] ?? AnchorBackendSummary(backend: backend)
                let n: Int = row[2]
                switch AnchorState(rawValue: row[1]) {
                case .pending: s.pending = n
                case .submitted: s.submitted = n
                case .anchored:
                    s.anchored = n
                    s.lastAnchoredTreeSize = row[3]
                case nil: break
                }
                out[backend] = s
            }
            for backend in out.keys {
                if let row = try Row.fetchOne(
                    try db.cachedStatement(
                        sql: """
                            SELECT tree_size, last_error, next_attempt_at FROM anchor_outbox WHERE backend = ? AND state <> 'anchored' \
                            ORDER BY tree_size LIMIT 1
                            """), arguments: [backend])
                {
                    out[backend]?.oldestWaitingTreeSize = row[0]
                    out[backend]?.lastError = row[1]
                    out[backend]?.nextAttemptAt = row[2]
                }
            }
            return out.values.sorted { $0.backend < $1.backend }
        }
    }

    /// Store errors pass through; SQLite's own become `unavailable`.
    private func storeOperation<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.unavailable("\(error)")
        }
    }
}
