import PostgresNIO

extension PostgresStore {
    private static let headColumns = "tree_size, root, signed_at, signature, key_id"
    private static let anchorColumns = "tree_size, backend, state, attempts, next_attempt_at, last_error, receipt, anchored_at"

    private func heads(_ query: PostgresQuery) async throws -> [StoredTreeHead] {
        try await wrap { [self] in
            var out: [StoredTreeHead] = []
            for try await (size, root, at, sig, key) in try await client.query(query, logger: logger).decode(
                (Int64, String, Int64, String, String).self)
            {
                out.append(StoredTreeHead(treeSize: size, root: root, timestamp: at, signature: sig, keyID: key))
            }
            return out
        }
    }

    private static func anchorRows(_ rows: PostgresRowSequence) async throws -> [AnchorRecord] {
        var out: [AnchorRecord] = []
        for try await (size, backend, state, attempts, next, error, receipt, at) in rows.decode(
            (Int64, String, String, Int, Int64, String?, String?, Int64?).self)
        {
            out.append(
                AnchorRecord(
                    treeSize: size, backend: backend, state: AnchorState(rawValue: state) ?? .pending, attempts: attempts, nextAttemptAt: next,
                    lastError: error, receipt: receipt, anchoredAt: at))
        }
        return out
    }

    public func ledgerSize() async throws -> Int64 {
        try await wrap { [self] in
            for try await n in try await client.query("SELECT next_leaf FROM ledger_state WHERE singleton = 1", logger: logger).decode(Int64.self) {
                return n
            }
            return 0
        }
    }

    public func recordTreeHead(_ head: StoredTreeHead, backends: [String], now: Int64) async throws -> Bool {
        let logger = logger
        return try await wrap { [self] in
            try await client.withTransaction(logger: logger) { conn in
                // One sealer at a time across gateways; entries committed meanwhile wait for the next head.
                try await conn.query("SELECT pg_advisory_xact_lock(7283646)", logger: logger)
                for try await _ in try await conn.query("SELECT 1 FROM tree_heads WHERE tree_size = \(head.treeSize)", logger: logger) {
                    return false
                }
                var size: Int64 = 0
                var latest: Int64? = nil
                for try await (n, l) in try await conn.query(
                    "SELECT next_leaf, (SELECT MAX(tree_size) FROM tree_heads) FROM ledger_state WHERE singleton = 1", logger: logger
                ).decode((Int64, Int64?).self) {
                    size = n
                    latest = l
                }
                try Self.checkNewHead(head, ledgerSize: size, latest: latest)
                try await conn.query(
                    """
                    INSERT INTO tree_heads (tree_size, root, signed_at, signature, key_id) \
                    VALUES (\(head.treeSize), \(head.root), \(head.timestamp), \(head.signature), \(head.keyID))
                    """, logger: logger)
                try await conn.query(
                    """
                    INSERT INTO anchor_outbox (tree_size, backend, state, attempts, next_attempt_at) \
                    SELECT \(head.treeSize), b, 'pending', 0, \(now) FROM unnest(\(backends)::text[]) AS b
                    """, logger: logger)
                return true
            }
        }
    }

    public func latestTreeHead() async throws -> StoredTreeHead? {
        try await heads("SELECT \(unescaped: Self.headColumns) FROM tree_heads ORDER BY tree_size DESC LIMIT 1").first
    }

    public func treeHead(coveringLeaf leaf: Int64) async throws -> StoredTreeHead? {
        try await heads("SELECT \(unescaped: Self.headColumns) FROM tree_heads WHERE tree_size > \(leaf) ORDER BY tree_size LIMIT 1").first
    }

    public func treeHead(size: Int64) async throws -> StoredTreeHead? {
        try await heads("SELECT \(unescaped: Self.headColumns) FROM tree_heads WHERE tree_size = \(size)").first
    }

    public func treeHeads(before: Int64?, limit: Int) async throws -> [StoredTreeHead] {
        try await heads(
            "SELECT \(unescaped: Self.headColumns) FROM tree_heads WHERE tree_size < \(before ?? Int64.max) ORDER BY tree_size DESC LIMIT \(limit)"
        )
    }

    public func anchors(treeSize: Int64) async throws -> [AnchorRecord] {
        try await wrap { [self] in
            try await Self.anchorRows(
                try await client.query(
                    "SELECT \(unescaped: Self.anchorColumns) FROM anchor_outbox WHERE tree_size = \(treeSize) ORDER BY backend", logger: logger))
        }
    }

    public func claimDueAnchors(dueBy: Int64, now: Int64, leaseUntil: Int64, limit: Int) async throws -> [AnchorRecord] {
        try await wrap { [self] in
            let claimed = try await Self.anchorRows(
                try await client.query(
                    """
                    UPDATE anchor_outbox u SET lease_until = \(leaseUntil) FROM (SELECT tree_size, backend FROM anchor_outbox o \
                    WHERE state <> 'anchored' AND next_attempt_at <= \(dueBy) AND (lease_until IS NULL OR lease_until < \(now)) \
                    AND NOT EXISTS (SELECT 1 FROM anchor_outbox e WHERE e.backend = o.backend AND e.tree_size < o.tree_size \
                    AND e.state = 'pending' AND (e.next_attempt_at > \(dueBy) OR e.lease_until >= \(now))) ORDER BY tree_size, backend LIMIT \(limit) FOR UPDATE SKIP LOCKED) due \
                    WHERE u.tree_size = due.tree_size AND u.backend = due.backend \
                    RETURNING u.tree_size, u.backend, u.state, u.attempts, u.next_attempt_at, u.last_error, u.receipt, u.anchored_at
                    """, logger: logger))
            return claimed.sorted { ($0.treeSize, $0.backend) < ($1.treeSize, $1.backend) }
        }
    }

    public func updateAnchor(_ r: AnchorRecord) async throws {
        try await wrap { [self] in
            try await client.query(
                """
                UPDATE anchor_outbox SET state = \(r.state.rawValue), attempts = \(r.attempts), next_attempt_at = \(r.nextAttemptAt), \
                last_error = \(r.lastError), receipt = \(r.receipt), anchored_at = \(r.anchoredAt), lease_until = NULL \
                WHERE tree_size = \(r.treeSize) AND backend = \(r.backend)
                """, logger: logger)
        }
    }

    public func anchorSummary() async throws -> [AnchorBackendSummary] {
        try await wrap { [self] in
            var out: [String: AnchorBackendSummary] = [:]
            for try await (backend, state, n, last) in try await client.query(
                """
                SELECT backend, state, COUNT(*)::bigint, MAX(CASE WHEN state = 'anchored' THEN tree_size END) \
                FROM anchor_outbox GROUP BY backend, state
                """, logger: logger
            ).decode((String, String, Int, Int64?).self) {
                var s = out[backend] ?? AnchorBackendSummary(backend: backend)
                switch AnchorState(rawValue: state) {
                case .pending: s.pending = n
                case .submitted: s.submitted = n
                case .anchored:
                    s.anchored = n
                    s.lastAnchoredTreeSize = last
                case nil: break
                }
                out[backend] = s
            }
            for try await (backend, size, error, next) in try await client.query(
                """
                SELECT DISTINCT ON (backend) backend, tree_size, last_error, next_attempt_at FROM anchor_outbox \
                WHERE state <> 'anchored' ORDER BY backend, tree_size
                """, logger: logger
            ).decode((String, Int64, String?, Int64).self) {
                out[backend]?.oldestWaitingTreeSize = size
                out[backend]?.lastError = error
                out[backend]?.nextAttemptAt = next
            }
            return out.values.sorted { $0.backend < $1.backend }
        }
    }
}
