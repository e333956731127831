import NIOCore
import PostgresNIO

/// The three statements of a PostgreSQL commit, as prepared statements: PostgresNIO prepares each once per connection
/// (again after a reconnect), so a commit sends only Bind and Execute. Sent as plain queries, PostgreSQL parsed,
/// analysed and planned them on every commit: about a quarter of its CPU under MLLP load (perf: GetCachedPlan,
/// parse_analyze and raw_parser), for statements whose text never changes. Every value goes as an array through
/// `unnest`, so one statement covers a whole group commit.
enum PostgresCommitStatements {
    /// The values as `$1`, `$2`, … in the order given.
    static func bindings<each Value: PostgresNonThrowingEncodable>(_ values: repeat each Value) -> PostgresBindings {
        var b = PostgresBindings()
        repeat b.append(each values)
        return b
    }

    /// Inbound ids for the commit's messages, the messages already stored under the same sender and key, and the
    /// current versions of the resources it writes: rows tagged 'i', 'm' and 'r'.
    struct Lookups: PostgresPreparedStatement {
        static let name = "ledgerbridge_commit_lookups_v1"
        static let sql = """
            SELECT 'i', nextval('inbound_messages_id_seq'), NULL::text, NULL::text, NULL::text, NULL::text, NULL::boolean \
            FROM generate_series(1, $1) \
            UNION ALL SELECT 'm', i.id, i.sender, i.message_key, i.outcome, i.reason, NULL FROM inbound_messages i \
            JOIN unnest($2::text[], $3::text[]) AS q(s, m) ON i.sender = q.s AND i.message_key = q.m \
            WHERE i.outcome IN ('accepted', 'dead_letter') \
            UNION ALL SELECT 'r', r.version_id, r.resource_type, r.resource_id, r.record_hash, NULL, r.is_delete FROM resources r \
            JOIN unnest($4::text[], $5::text[]) AS q(t, i) ON r.resource_type = q.t AND r.resource_id = q.i
            """
        typealias Row = (String, Int64, String?, String?, String?, String?, Bool?)

        var count: Int
        var senders: [String], messageKeys: [String]
        var types: [String], ids: [String]

        func makeBindings() -> PostgresBindings { bindings(count, senders, messageKeys, types, ids) }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Inbound messages, current versions, search keys and watermarks, in one statement. Its parts see the same
    /// snapshot, so the DELETE removes only the keys that were there before.
    struct Writes: PostgresPreparedStatement {
        static let name = "ledgerbridge_commit_writes_v1"
        static let sql = """
            WITH inbound AS (INSERT INTO inbound_messages (id, channel, sender, message_key, content_type, message_type, \
            received_at, outcome, reason, original_id, body, coverage) \
            SELECT id, channel, sender, NULLIF(mkey, ''), ctype, NULLIF(mtype, ''), rat, outcome, NULLIF(reason, ''), \
            NULLIF(orig, -1), body, NULLIF(cov, '') FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
            $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bytea[], $12::text[]) \
            AS t(id, channel, sender, mkey, ctype, mtype, rat, outcome, reason, orig, body, cov)), \
            currents AS (INSERT INTO resources (resource_type, resource_id, version_id, last_updated, is_delete, record_hash) \
            SELECT * FROM unnest($13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::boolean[], $18::text[]) \
            ON CONFLICT (resource_type, resource_id) DO UPDATE SET version_id = excluded.version_id, \
            last_updated = excluded.last_updated, is_delete = excluded.is_delete, record_hash = excluded.record_hash), \
            old_keys AS (DELETE FROM search_keys s USING unnest($13::text[], $14::text[]) AS k(t, i) \
            WHERE s.resource_type = k.t AND s.resource_id = k.i), \
            new_keys AS (INSERT INTO search_keys (resource_type, resource_id, parameter, system, value) \
            SELECT t, i, p, NULLIF(s, ''), v FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[]) \
            AS x(t, i, p, s, v)), \
            marks AS (INSERT INTO source_watermarks (source, value, updated_at) \
            SELECT s, v, $26 FROM unnest($24::text[], $25::text[]) AS w(s, v) \
            ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at) \
            SELECT 1
            """
        typealias Row = Int

        // Inbound messages.
        var ids: [Int64] = [], channels: [String] = [], senders: [String] = [], keys: [String] = []
        var contentTypes: [String] = [], messageTypes: [String] = [], received: [Int64] = [], outcomes: [String] = []
        var reasons: [String] = [], originals: [Int64] = [], bodies: [ByteBuffer] = [], coverage: [String] = []
        // Current versions.
        var currentTypes: [String] = [], currentIDs: [String] = [], currentVersions: [Int64] = []
        var currentUpdated: [Int64] = [], currentDeletes: [Bool] = [], currentHashes: [String] = []
        // Search keys.
        var keyTypes: [String] = [], keyIDs: [String] = [], keyParameters: [String] = [], keySystems: [String] = []
        var keyValues: [String] = []
        // Watermarks.
        var watermarkSources: [String] = [], watermarkValues: [String] = []
        var now: Int64 = 0

        func makeBindings() -> PostgresBindings {
            bindings(
                ids, channels, senders, keys, contentTypes, messageTypes, received, outcomes, reasons, originals, bodies, coverage,
                currentTypes, currentIDs, currentVersions, currentUpdated, currentDeletes, currentHashes,
                keyTypes, keyIDs, keyParameters, keySystems, keyValues, watermarkSources, watermarkValues, now)
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int.self) }
    }

    /// The versions, on the leaves after the ledger's current end: updating the ledger row locks it until COMMIT.
    /// Returns the first leaf of the commit.
    struct Versions: PostgresPreparedStatement {
        static let name = "ledgerbridge_commit_versions_v1"
        static let sql = """
            WITH ledger AS (UPDATE ledger_state SET next_leaf = next_leaf + $1 WHERE singleton = 1 \
            RETURNING next_leaf - $1 AS first), \
            versions AS (INSERT INTO resource_versions (resource_type, resource_id, version_id, last_updated, is_delete, \
            source, source_reference, mapping_version, inbound_id, record_hash, body, leaf_index) \
            SELECT t, i, vid, lu, del, src, NULLIF(ref, ''), NULLIF(map, ''), inb, h, b, leaf + (SELECT first FROM ledger) \
            FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::boolean[], $7::text[], $8::text[], \
            $9::text[], $10::bigint[], $11::text[], $12::bytea[], $13::bigint[]) \
            AS x(t, i, vid, lu, del, src, ref, map, inb, h, b, leaf)) \
            SELECT first FROM ledger
            """
        typealias Row = Int64

        var count: Int64
        var types: [String], ids: [String], versions: [Int64], updated: [Int64], deletes: [Bool], sources: [String]
        var references: [String], mappings: [String], inbound: [Int64], hashes: [String], bodies: [ByteBuffer]
        var leaves: [Int64]

        func makeBindings() -> PostgresBindings {
            bindings(count, types, ids, versions, updated, deletes, sources, references, mappings, inbound, hashes, bodies, leaves)
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int64.self) }
    }
}
