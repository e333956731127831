import FHIR
import Foundation
import Ledger
import TestSupport
import Testing

@testable import Store

/// The same checks on both stores: SQLite (a temporary file) and PostgreSQL (a throwaway server on 127.0.0.1).
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    func open() async throws -> any RecordStore {
        switch self {
        case .sqlite:
            let path = NSTemporaryDirectory() + "ledgerbridge-store-\(UUID().uuidString)/store.sqlite"
            return try SQLiteStore(path: path)
        case .postgres:
            let pg = try await TestPostgres.shared()
            let db = try pg.createDatabase("store")
            return try await PostgresStore(configuration: PostgresStoreConfiguration(url: pg.url(database: db)))
        }
    }
}

func rawExecute(_ store: any RecordStore, _ sql: String) async throws {
    if let s = store as? SQLiteStore { try await s.rawExecute(sql) }
    if let s = store as? PostgresStore { try await s.rawExecute(sql) }
}

func patient(_ id: String, family: String, mrn: String = "123", gender: String = "female") -> JSONObject {
    JSONObject([
        ("resourceType", .string("Patient")), ("id", .string(id)),
        (
            "identifier",
            .array([.object(JSONObject([("system", .string("urn:oid:1.2.3")), ("value", .string(mrn))]))])
        ),
        ("name", .array([.object(JSONObject([("family", .string(family)), ("given", .array([.string("Ann")]))]))])),
        ("gender", .string(gender)), ("birthDate", .string("1970-01-02")),
    ])
}

func unit(
    key: String?, sender: String = "LAB^HOSP", resources: [JSONObject], watermark: Watermark? = nil
) throws -> IngestUnit {
    IngestUnit(
        inbound: InboundMessage(
            channel: "test", sender: sender, key: key, contentType: "application/fhir+json", messageType: "Patient",
            body: Array("body \(key ?? "-")".utf8), receivedAt: StoreTime.nowMillis()),
        disposition: .accept(try resources.map { try ResourceWrite(resource: $0, source: "test", sourceReference: key, mappingVersion: "m1") }),
        watermark: watermark)
}

@Suite("Record store conformance", .serialized)
struct StoreConformanceTests {
    @Test("migrations apply once and record themselves", arguments: StoreKind.allCases)
    func migrations(kind: StoreKind) async throws {
        let store = try await kind.open()
        let first = try await store.migrate()
        #expect(first.count == Schema.migrations.count)
        #expect(try await store.migrate().isEmpty)
        try await store.close()
    }

    @Test("versions: new content makes a version and a ledger entry, identical content does not", arguments: StoreKind.allCases)
    func versions(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        let r1 = try await store.commit([try unit(key: "m1", resources: [patient("p1", family: "Smith")])])
        #expect(r1[0].outcome == .accepted)
        let stored = try await store.version(type: "Patient", id: "p1", versionId: 1)
        #expect(
            r1[0].versions == [
                VersionOutcome(
                    resourceType: "Patient", id: "p1", versionId: 1, created: true, recordHash: r1[0].versions[0].recordHash, leafIndex: 0,
                    storedAt: stored?.lastUpdated)
            ])
        // The outcome names the very entry the store logged (the anchor service's tree is fed from outcomes).
        let logged = try await store.ledgerEntries(from: 0, limit: 1).first
        #expect(r1[0].versions[0].ledgerEntry?.entry == logged?.entry && logged != nil)
        // Same content from another message: no new version.
        let r2 = try await store.commit([try unit(key: "m2", resources: [patient("p1", family: "Smith")])])
        #expect(r2[0].outcome == .accepted)
        #expect(r2[0].versions[0].created == false && r2[0].versions[0].versionId == 1)
        // Changed content: version 2 on the next leaf.
        let r3 = try await store.commit([try unit(key: "m3", resources: [patient("p1", family: "Smythe")])])
        #expect(r3[0].versions[0].versionId == 2 && r3[0].versions[0].leafIndex == 1)

        let current = try #require(try await store.currentVersion(type: "Patient", id: "p1"))
        #expect(current.versionId == 2 && current.bodyMatchesHash)
        #expect(current.sourceReference == "m3" && current.mappingVersion == "m1" && current.source == "test")
        let served = try current.resource()
        #expect(served["meta"]?.objectValue?["versionId"] == .string("2"))
        #expect(FHIRCanonicalForm.sha256Hex(served) == current.recordHash)
        let history = try await store.history(type: "Patient", id: "p1")
        #expect(history.map(\.versionId) == [2, 1])
        #expect(try await store.version(type: "Patient", id: "p1", versionId: 1)?.recordHash == r1[0].versions[0].recordHash)
        #expect(try await store.version(type: "Patient", id: "p1", versionId: 3) == nil)

        // Search keys follow the current version only.
        #expect(try await store.search(type: "Patient", key: SearchKey(parameter: "family", value: "smythe")) == ["p1"])
        #expect(try await store.search(type: "Patient", key: SearchKey(parameter: "family", value: "smith")).isEmpty)
        #expect(try await store.search(type: "Patient", key: SearchKey(parameter: "identifier", system: "urn:oid:1.2.3", value: "123")) == ["p1"])

        // The ledger holds one entry per created version, contiguous, matching the versions.
        let entries = try await store.ledgerEntries(from: 0, limit: 10)
        #expect(entries.map(\.leafIndex) == [0, 1])
        #expect(entries[1].entry.versionId == "2" && entries[1].entry.recordHash.hex == current.recordHash)
        let counts = try await store.counts()
        #expect(counts.versions == 2 && counts.resources == 1 && counts.ledgerEntries == 2 && counts.inbound["accepted"] == 3)
        try await store.close()
    }

    @Test(
        "search queries: prefixes, tokens with and without system, date ranges, _id, _lastUpdated, paging, deleted left out",
        arguments: StoreKind.allCases)
    func searchQueries(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        var p3 = patient("p3", family: "Smith_x", mrn: "300", gender: "male")
        p3["birthDate"] = .string("1985-07-04")
        _ = try await store.commit([
            try unit(key: "s1", resources: [patient("p1", family: "Smith", mrn: "100"), patient("p2", family: "Smithers", mrn: "200"), p3])
        ])
        func ids(_ build: (inout SearchQuery) -> Void) async throws -> SearchPage {
            var q = SearchQuery(type: "Patient")
            build(&q)
            return try await store.search(q)
        }
        func clause(_ p: String, _ m: SearchQuery.Match...) -> SearchQuery.Clause { SearchQuery.Clause(parameters: [p], anyOf: m) }
        #expect(try await ids { $0.clauses = [clause("family", .prefix("smith"))] } == SearchPage(ids: ["p1", "p2", "p3"], total: 3))
        #expect(try await ids { $0.clauses = [clause("family", .prefix("smith_"))] }.ids == ["p3"], "_ is literal, not a wildcard")
        #expect(try await ids { $0.clauses = [clause("gender", .exact(system: nil, value: "female"))] }.ids == ["p1", "p2"])
        #expect(try await ids { $0.clauses = [clause("identifier", .exact(system: "urn:oid:1.2.3", value: "200"))] }.ids == ["p2"])
        #expect(try await ids { $0.clauses = [clause("identifier", .exact(system: "urn:oid:9", value: "200"))] }.ids.isEmpty)
        #expect(try await ids { $0.clauses = [clause("identifier", .exact(system: "", value: "200"))] }.ids.isEmpty, "|200: no system")
        #expect(
            try await ids { $0.clauses = [clause("identifier", .exact(system: nil, value: "100"), .exact(system: nil, value: "300"))] }.ids == [
                "p1", "p3",
            ])
        #expect(try await ids { $0.clauses = [clause("birthdate", .range(lower: "1980", upper: nil))] }.ids == ["p3"])
        #expect(try await ids { $0.clauses = [clause("birthdate", .range(lower: "1970-01-02", upper: "1970-01-03"))] }.total == 2)
        #expect(
            try await ids { $0.clauses = [clause("family", .prefix("smith")), clause("gender", .exact(system: nil, value: "male"))] }.ids == ["p3"])
        #expect(try await ids { $0.ids = ["p2", "p9"] }.ids == ["p2"])
        #expect(try await ids { $0.lastUpdatedLower = StoreTime.nowMillis() + 60_000 }.total == 0)
        let page = try await ids {
            $0.count = 2
            $0.offset = 1
        }
        #expect(page == SearchPage(ids: ["p2", "p3"], total: 3))
        let delete = IngestUnit(
            inbound: InboundMessage(
                channel: "test", sender: "LAB^HOSP", key: "s2", contentType: "application/fhir+json", body: Array("d".utf8),
                receivedAt: StoreTime.nowMillis()),
            disposition: .accept([
                try ResourceWrite(
                    resource: JSONObject([("resourceType", .string("Patient")), ("id", .string("p2"))]), source: "test", sourceReference: "s2",
                    mappingVersion: nil, isDelete: true)
            ]))
        _ = try await store.commit([delete])
        #expect(try await ids { $0.clauses = [clause("family", .prefix("smith"))] }.ids == ["p1", "p3"])
        try await store.close()
    }

    @Test("duplicates: the same sender and key again is stored as a duplicate, also within one commit", arguments: StoreKind.allCases)
    func duplicates(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        let first = try await store.commit([try unit(key: "A1", resources: [patient("p1", family: "Smith")])])
        let again = try await store.commit([
            try unit(key: "A1", resources: [patient("p1", family: "Changed")]),
            try unit(key: "A2", resources: [patient("p2", family: "Jones")]),
            try unit(key: "A2", resources: [patient("p2", family: "Jones2")]),
            try unit(key: "A1", sender: "OTHER^SENDER", resources: [patient("p3", family: "Other")]),
        ])
        #expect(again.map(\.outcome) == [.duplicate, .accepted, .duplicate, .accepted])
        #expect(again[0].originalID == first[0].inboundID && again[0].originalOutcome == .accepted)
        #expect(again[2].originalID == again[1].inboundID)
        #expect(try await store.currentVersion(type: "Patient", id: "p1")?.versionId == 1)
        #expect(try await store.history(type: "Patient", id: "p2").count == 1)
        let counts = try await store.counts()
        #expect(counts.inbound["duplicate"] == 2 && counts.inbound["accepted"] == 3)
        try await store.close()
    }

    @Test("dead letters are listed, replayed in place, and a resend of one is a duplicate", arguments: StoreKind.allCases)
    func deadLetters(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        var dead = try unit(key: "D1", resources: [])
        dead.disposition = .deadLetter(reason: "no mapping for ZZZ^Z01")
        var rejected = try unit(key: "R1", resources: [])
        rejected.disposition = .reject(reason: "MSH missing")
        let r = try await store.commit([dead, rejected])
        #expect(r.map(\.outcome) == [.deadLetter, .rejected])
        let listed = try await store.inbound(outcome: .deadLetter, limit: 10)
        #expect(listed.map(\.id) == [r[0].inboundID] && listed[0].reason == "no mapping for ZZZ^Z01")
        #expect(listed[0].body == dead.inbound.body)

        let resend = try await store.commit([dead])
        #expect(resend[0].outcome == .duplicate && resend[0].originalOutcome == .deadLetter)
        #expect(resend[0].reason == "no mapping for ZZZ^Z01")

        var replay = try unit(key: "D1", resources: [patient("p9", family: "Late")])
        replay.replayOf = r[0].inboundID
        let replayed = try await store.commit([replay])
        #expect(replayed[0].outcome == .accepted && replayed[0].inboundID == r[0].inboundID)
        let row = try #require(try await store.inbound(id: r[0].inboundID))
        #expect(row.outcome == .accepted && row.replayedAt != nil && row.reason == nil)
        #expect(try await store.inbound(outcome: .deadLetter, limit: 10).isEmpty)
        #expect(try await store.currentVersion(type: "Patient", id: "p9")?.inboundID == r[0].inboundID)
        try await store.close()
    }

    @Test("a failed commit leaves nothing behind: no inbound row, version, ledger entry or watermark", arguments: StoreKind.allCases)
    func atomicity(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        _ = try await store.commit([try unit(key: "ok", resources: [patient("p1", family: "A")], watermark: Watermark(source: "s", value: "1"))])
        // Occupy the next ledger leaf behind the store's back: the next commit's ledger insert must fail.
        let (no, byte) = kind == .postgres ? ("false", "'\\x00'::bytea") : ("0", "X'00'")
        try await rawExecute(
            store,
            """
            INSERT INTO resource_versions (resource_type, resource_id, version_id, last_updated, is_delete, source, record_hash, body, \
            leaf_index) VALUES ('X', 'x', 1, 0, \(no), 't', 'h', \(byte), 1)
            """)
        await #expect(throws: StoreError.self) {
            _ = try await store.commit([
                try unit(key: "a", resources: [patient("p2", family: "B")]),
                try unit(key: "b", resources: [patient("p3", family: "C")], watermark: Watermark(source: "s", value: "2")),
            ])
        }
        #expect(try await store.watermark(source: "s") == "1")
        #expect(try await store.currentVersion(type: "Patient", id: "p2") == nil)
        let counts = try await store.counts()
        #expect(counts.inbound["accepted"] == 1 && counts.versions == 2, "the one committed and the one planted")
        try await store.close()
    }

    @Test("a body changed behind the store's back no longer matches its hash", arguments: StoreKind.allCases)
    func tamper(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        _ = try await store.commit([try unit(key: "t", resources: [patient("p1", family: "True")])])
        #expect(try await store.currentVersion(type: "Patient", id: "p1")?.bodyMatchesHash == true)
        let replace =
            kind == .postgres
            ? "UPDATE resource_versions SET body = convert_to(replace(convert_from(body, 'UTF8'), 'True', 'Fake'), 'UTF8')"
            : "UPDATE resource_versions SET body = CAST(replace(CAST(body AS TEXT), 'True', 'Fake') AS BLOB)"
        try await rawExecute(store, replace)
        let tampered = try #require(try await store.currentVersion(type: "Patient", id: "p1"))
        #expect(String(decoding: tampered.body, as: UTF8.self).contains("Fake"))
        #expect(!tampered.bodyMatchesHash)
        try await store.close()
    }

    @Test("retention empties old bodies but keeps the keys, so resends stay duplicates", arguments: StoreKind.allCases)
    func retention(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        let r = try await store.commit([try unit(key: "old", resources: [patient("p1", family: "A")])])
        #expect(try await store.purgeInboundBodies(receivedBefore: StoreTime.nowMillis() + 1000) == 1)
        #expect(try await store.inbound(id: r[0].inboundID)?.body.isEmpty == true)
        #expect(try await store.commit([try unit(key: "old", resources: [patient("p1", family: "A")])])[0].outcome == .duplicate)
        try await store.close()
    }

    @Test("concurrent commits keep ledger leaves contiguous and each key stored once", arguments: StoreKind.allCases)
    func concurrent(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.migrate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<10 {
                        _ = try await store.commit([
                            try unit(key: "k\(t)-\(i)", resources: [patient("p\(t)-\(i)", family: "F\(i)")]),
                            try unit(key: "k\(t)-\(i)", resources: [patient("p\(t)-\(i)", family: "G\(i)")]),
                        ])
                    }
                }
            }
            try await group.waitForAll()
        }
        let entries = try await store.ledgerEntries(from: 0, limit: 1000)
        #expect(entries.map(\.leafIndex) == (0..<80).map(Int64.init))
        let counts = try await store.counts()
        #expect(counts.inbound["accepted"] == 80 && counts.inbound["duplicate"] == 80 && counts.versions == 80)
        try await store.close()
    }

    @Test("the SQLite files (database, WAL, shared memory) are readable by their owner only")
    func sqlitePermissions() async throws {
        let directory = NSTemporaryDirectory() + "ledgerbridge-perm-\(UUID().uuidString)/data"
        let store = try SQLiteStore(path: directory + "/store.sqlite")
        try await store.migrate()
        _ = try await store.commit([try unit(key: "k", resources: [patient("p1", family: "A")])])
        for file in ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"] {
            let mode = (try FileManager.default.attributesOfItem(atPath: directory + "/" + file)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode.map { $0 & 0o077 } == 0, "\(file): \(String(mode ?? 0, radix: 8))")
        }
        try await store.close()
    }

    @Test("PostgreSQL URLs")
    func urls() throws {
        let c = try PostgresStoreConfiguration(url: "postgres://lb:s%40cret@db.example:6432/ledger?sslmode=require&pool_max=4")
        #expect(c.host == "db.example" && c.port == 6432 && c.username == "lb" && c.password == "s@cret")
        #expect(c.database == "ledger" && c.tls == "require" && c.maximumConnections == 4)
        #expect(throws: StoreError.self) { try PostgresStoreConfiguration(url: "mysql://x") }
    }
}
