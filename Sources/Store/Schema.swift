/// The store's versioned migrations, in both SQL dialects. Applied in order by `migrate()`, each in its own
/// transaction together with its row in `schema_migrations`. Never edit a released migration: add one.
enum Schema {
    struct Migration {
        var version: Int
        var name: String
        var sqlite: [String]
        var postgres: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "0001 records, inbound messages, search keys, ledger state, watermarks",
            sqlite: common(blob: "BLOB", bigint: "INTEGER", bool: "INTEGER", falseValue: "0") + [
                "CREATE TABLE inbound_messages (id INTEGER PRIMARY KEY, \(inboundColumns(blob: "BLOB", bigint: "INTEGER", bool: "INTEGER", falseValue: "0")))"
            ] + inboundIndexes,
            postgres: common(blob: "BYTEA", bigint: "BIGINT", bool: "BOOLEAN", falseValue: "false") + [
                "CREATE SEQUENCE inbound_messages_id_seq",
                "CREATE TABLE inbound_messages (id BIGINT PRIMARY KEY, \(inboundColumns(blob: "BYTEA", bigint: "BIGINT", bool: "BOOLEAN", falseValue: "false")))",
            ] + inboundIndexes
        ),
        Migration(
            version: 2, name: "0002 signed tree heads and the anchor outbox",
            sqlite: anchoring(bigint: "INTEGER"), postgres: anchoring(bigint: "BIGINT")),
        Migration(
            version: 3, name: "0003 mapping coverage kept with each inbound message",
            sqlite: ["ALTER TABLE inbound_messages ADD COLUMN coverage TEXT"],
            postgres: ["ALTER TABLE inbound_messages ADD COLUMN coverage TEXT"]),
        Migration(
            version: 4, name: "0004 versions by type and time, for type-level history",
            sqlite: ["CREATE INDEX versions_by_type_time ON resource_versions (resource_type, last_updated)"],
            postgres: ["CREATE INDEX versions_by_type_time ON resource_versions (resource_type, last_updated)"]),
        // No query reads versions by time alone (type-level history uses versions_by_type_time) or by inbound message;
        // each index cost every stored version an index entry and its WAL.
        Migration(
            version: 5, name: "0005 drop the unused version indexes by time alone and by inbound message",
            sqlite: ["DROP INDEX IF EXISTS versions_last_updated", "DROP INDEX IF EXISTS versions_inbound"],
            postgres: ["DROP INDEX IF EXISTS versions_last_updated", "DROP INDEX IF EXISTS versions_inbound"]),
    ]

    /// Tree heads the gateway sealed, and one outbox row per head and backend (see `AnchorStore`).
    private static func anchoring(bigint: String) -> [String] {
        [
            """
            CREATE TABLE tree_heads (tree_size \(bigint) PRIMARY KEY, root TEXT NOT NULL, signed_at \(bigint) NOT NULL, \
            signature TEXT NOT NULL, key_id TEXT NOT NULL)
            """,
            """
            CREATE TABLE anchor_outbox (tree_size \(bigint) NOT NULL REFERENCES tree_heads (tree_size), backend TEXT NOT NULL, \
            state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at \(bigint) NOT NULL, lease_until \(bigint), \
            last_error TEXT, receipt TEXT, anchored_at \(bigint), PRIMARY KEY (tree_size, backend))
            """,
            "CREATE INDEX anchor_due ON anchor_outbox (state, next_attempt_at)",
        ]
    }

    private static func inboundColumns(blob: String, bigint: String, bool: String, falseValue: String) -> String {
        """
        channel TEXT NOT NULL, sender TEXT NOT NULL, message_key TEXT, content_type TEXT NOT NULL, message_type TEXT, \
        received_at \(bigint) NOT NULL, outcome TEXT NOT NULL, reason TEXT, original_id \(bigint), \
        body \(blob) NOT NULL, body_purged \(bool) NOT NULL DEFAULT \(falseValue), replayed_at \(bigint)
        """
    }

    private static let inboundIndexes = [
        // Idempotency: one accepted-or-dead-lettered message per sender and key; duplicates are rows of their own.
        """
        CREATE UNIQUE INDEX inbound_identity ON inbound_messages (sender, message_key) \
        WHERE message_key IS NOT NULL AND outcome IN ('accepted', 'dead_letter')
        """,
        "CREATE INDEX inbound_outcome ON inbound_messages (outcome, id)",
        "CREATE INDEX inbound_received ON inbound_messages (received_at)",
    ]

    private static func common(blob: String, bigint: String, bool: String, falseValue: String) -> [String] {
        [
            """
            CREATE TABLE resource_versions (resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, \
            version_id INTEGER NOT NULL, last_updated \(bigint) NOT NULL, is_delete \(bool) NOT NULL, source TEXT NOT NULL, \
            source_reference TEXT, mapping_version TEXT, inbound_id \(bigint), record_hash TEXT NOT NULL, \
            body \(blob) NOT NULL, leaf_index \(bigint) NOT NULL UNIQUE, PRIMARY KEY (resource_type, resource_id, version_id))
            """,
            "CREATE INDEX versions_last_updated ON resource_versions (last_updated)",
            "CREATE INDEX versions_inbound ON resource_versions (inbound_id)",
            """
            CREATE TABLE resources (resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, version_id INTEGER NOT NULL, \
            last_updated \(bigint) NOT NULL, is_delete \(bool) NOT NULL, record_hash TEXT NOT NULL, \
            PRIMARY KEY (resource_type, resource_id))
            """,
            "CREATE INDEX resources_last_updated ON resources (resource_type, last_updated)",
            """
            CREATE TABLE search_keys (resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, parameter TEXT NOT NULL, \
            system TEXT, value TEXT NOT NULL)
            """,
            "CREATE INDEX search_lookup ON search_keys (resource_type, parameter, value)",
            "CREATE INDEX search_owner ON search_keys (resource_type, resource_id)",
            "CREATE TABLE ledger_state (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), next_leaf \(bigint) NOT NULL)",
            "INSERT INTO ledger_state (singleton, next_leaf) VALUES (1, 0)",
            "CREATE TABLE source_watermarks (source TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at \(bigint) NOT NULL)",
        ]
    }
}
