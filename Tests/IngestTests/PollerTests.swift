import FHIR
import Foundation
import Ingest
import Logging
import Mapping
import Store
import TestSupport
import Testing

/// A legacy hospital database on its own throwaway server (so a test can restart it), with the sample schema of
/// `Deploy/legacy-demo`.
struct LegacyDatabase {
    let server: TestPostgres
    let name: String

    static func start(seed: Bool = false) async throws -> LegacyDatabase {
        let server = try await TestPostgres.start()
        let name = try server.createDatabase("legacy")
        let root = TestEnvironment.packageRoot + "/Deploy/legacy-demo/"
        try server.sql(try String(contentsOfFile: root + "schema.sql", encoding: .utf8), database: name)
        if seed { try server.sql(try String(contentsOfFile: root + "seed.sql", encoding: .utf8), database: name) }
        return LegacyDatabase(server: server, name: name)
    }

    var url: String { server.url(database: name) }

    /// Inserts HL7 messages `range` into the message log (one statement), retrying while the server is down.
    func insertMessages(_ range: Range<Int>) throws {
        let values = range.map { n in
            "('" + TestMessages.adt(n, sender: "LEGACY").replacingOccurrences(of: "\r", with: "' || chr(13) || '") + "')"
        }.joined(separator: ",")
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                try server.sql("INSERT INTO hl7_message_log (message) VALUES \(values)", database: name)
                return
            } catch {
                if Date() > deadline { throw error }
                usleep(200_000)
            }
        }
    }

    /// The sample configuration's queries (Deploy/ledgerbridge.example.yaml).
    static let hl7Query =
        "SELECT id AS watermark, id::text AS row_key, message AS payload FROM hl7_message_log WHERE id > $1::bigint ORDER BY id LIMIT $2"
    static let fhirQuery =
        "SELECT id AS watermark, id::text AS row_key, resource_xml AS payload FROM fhir_exports WHERE id > $1::bigint ORDER BY id LIMIT $2"
    static let patientsQuery = """
        SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '|' || lpad(patient_id::text, 19, '0') AS watermark, \
        patient_id::text AS row_key, mrn, family_name, given_name, birth_date, sex, phone, city, postal_code FROM patients \
        WHERE (updated_at, patient_id) > ((split_part($1, '|', 1)::timestamp AT TIME ZONE 'UTC'), split_part($1, '|', 2)::bigint) \
        ORDER BY updated_at, patient_id LIMIT $2
        """
    static let patientsStart = "1970-01-01T00:00:00.000000|0"
    static let documentsQuery =
        "SELECT id AS watermark, id::text AS row_key, document AS payload FROM document_exports WHERE id > $1::bigint ORDER BY id LIMIT $2"
}

@Suite("Legacy PostgreSQL pollers", .serialized)
struct PollerTests {
    static func waitUntil(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Once more after the deadline: a wait that ended late (a loaded machine) does not count as a failed check.
        return try await condition()
    }

    static func accepted(_ store: any RecordStore) async throws -> Int { try await store.counts().inbound["accepted"] ?? 0 }

    @Test("rows added while polling and a legacy server restarted mid-poll: the poller reconnects by itself and skips or repeats no row")
    func restartMidPoll() async throws {
        let legacy = try await LegacyDatabase.start()
        let gateway = IngestPipeline(store: try await StoreKind.postgres.open())
        try legacy.insertMessages(0..<20)
        let configuration = LegacySourceConfiguration(
            name: "legacy-hl7", url: legacy.url, query: LegacyDatabase.hl7Query, format: .hl7v2, pollIntervalSeconds: 0.1, batchSize: 7)
        let poller = LegacySourcePoller(configuration: configuration, queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let running = Task { try await poller.run() }

        // The legacy application keeps writing while we poll, and its database restarts in the middle.
        try legacy.insertMessages(20..<40)
        #expect(try await Self.waitUntil { try await Self.accepted(gateway.store) >= 30 })
        legacy.server.stopServer()
        try await Task.sleep(for: .seconds(1))
        try legacy.server.startServer()
        try legacy.insertMessages(40..<70)
        #expect(try await Self.waitUntil { try await Self.accepted(gateway.store) >= 70 })
        running.cancel()
        _ = try? await running.value

        // A new poller (a gateway restart) resumes from the stored watermark.
        try legacy.insertMessages(70..<80)
        let again = LegacySourcePoller(configuration: configuration, queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let running2 = Task { try await again.run() }
        #expect(try await Self.waitUntil { try await Self.accepted(gateway.store) >= 80 })
        try await Task.sleep(for: .milliseconds(500))
        running2.cancel()
        _ = try? await running2.value

        let counts = try await gateway.store.counts()
        #expect(counts.inbound == ["accepted": 80], "every row once: no duplicates, nothing skipped")
        #expect(try await gateway.store.watermark(source: "legacy-hl7") == "80")
        for n in [0, 39, 40, 79] {
            let id = TestMessages.controlID(n, sender: "LEGACY")
            #expect(try await gateway.store.search(type: "Patient", key: SearchKey(parameter: "identifier", value: "MRN\(n)")).count == 1, "\(id)")
        }
        legacy.server.stopServer()
        try await gateway.store.close()
    }

    @Test("a patients table: rows become Patients; an updated row becomes a new version; FHIR XML exports are stored as sent")
    func rowsAndExports() async throws {
        let legacy = try await LegacyDatabase.start(seed: true)
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        let patients = LegacySourcePoller(
            configuration: LegacySourceConfiguration(
                name: "legacy-patients", url: legacy.url, query: LegacyDatabase.patientsQuery, format: .rows, table: "patients",
                initialWatermark: LegacyDatabase.patientsStart, pollIntervalSeconds: 0.1),
            queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let exports = LegacySourcePoller(
            configuration: LegacySourceConfiguration(
                name: "legacy-fhir", url: legacy.url, query: LegacyDatabase.fhirQuery, format: .fhirXML, pollIntervalSeconds: 0.1),
            queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let t1 = Task { try await patients.run() }
        let t2 = Task { try await exports.run() }
        #expect(try await Self.waitUntil { try await Self.accepted(gateway.store) >= 3 })
        let fromExport = try #require(try await gateway.store.currentVersion(type: "Patient", id: "pat-4713"))
        #expect(fromExport.source == "poll:legacy-fhir" && fromExport.sourceReference == "1")
        let erika = try #require(try await gateway.store.search(type: "Patient", key: SearchKey(parameter: "family", value: "muster")).first)
        #expect(try await gateway.store.currentVersion(type: "Patient", id: erika)?.versionId == 1)

        try legacy.server.sql("UPDATE patients SET family_name = 'Muster-Schulz' WHERE mrn = '4711'", database: legacy.name)
        #expect(try await Self.waitUntil { try await gateway.store.currentVersion(type: "Patient", id: erika)?.versionId == 2 })
        let current = try #require(try await gateway.store.currentVersion(type: "Patient", id: erika)).resource()
        #expect(current["name"]?.arrayValue?.first?.objectValue?["family"] == .string("Muster-Schulz"))
        t1.cancel()
        t2.cancel()
        _ = try? await t1.value
        _ = try? await t2.value
        #expect(try await gateway.store.counts().inbound == ["accepted": 4])
        legacy.server.stopServer()
        try await gateway.store.close()
    }

    @Test("rows no mapping covers are dead letters, and are replayed through the mapping in force after a fix")
    func rowDeadLettersReplay() async throws {
        let legacy = try await LegacyDatabase.start(seed: true)
        // A mapping set that covers no table yet.
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open(), mapper: FallbackMapping())
        let poller = LegacySourcePoller(
            configuration: LegacySourceConfiguration(
                name: "legacy-patients", url: legacy.url, query: LegacyDatabase.patientsQuery, format: .rows, table: "patients",
                initialWatermark: LegacyDatabase.patientsStart, pollIntervalSeconds: 0.1),
            queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let running = Task { try await poller.run() }
        #expect(try await Self.waitUntil { try await gateway.store.counts().inbound["dead_letter"] == 2 })
        running.cancel()
        _ = try? await running.value

        gateway.mappers.replace(with: ShippedMappings.mapper)
        let outcomes = try await DeadLetterReplayer(ingestor: gateway.hl7).replay()
        #expect(outcomes.map(\.outcome) == [.accepted, .accepted])
        let ids = try await gateway.store.search(type: "Patient", key: SearchKey(parameter: "identifier", value: "4711"))
        let id = try #require(ids.first)
        let patient = try #require(try await gateway.store.currentVersion(type: "Patient", id: id))
        #expect(patient.source == "poll:legacy-patients" && patient.sourceReference == "patients:1")
        #expect(try await gateway.store.counts().inbound == ["accepted": 2])
        legacy.server.stopServer()
        try await gateway.store.close()
    }

    @Test("C-CDA documents in a legacy table map through the document map: the patient and each section's entries are stored")
    func ccdaDocuments() async throws {
        let legacy = try await LegacyDatabase.start()
        let document = try String(
            contentsOfFile: TestEnvironment.packageRoot + "/Tests/MappingTests/Fixtures/ccda/170.314B2_Amb_CCD.ccda", encoding: .utf8)
        try legacy.server.sql(
            "INSERT INTO document_exports (document) VALUES ('\(document.replacingOccurrences(of: "'", with: "''"))'), ('<ClinicalDocument><broken>')",
            database: legacy.name)
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        let poller = LegacySourcePoller(
            configuration: LegacySourceConfiguration(
                name: "legacy-ccda", url: legacy.url, query: LegacyDatabase.documentsQuery, format: .ccda, pollIntervalSeconds: 0.1),
            queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let running = Task { try await poller.run() }
        #expect(try await Self.waitUntil { (try await gateway.store.counts().inbound.values.reduce(0, +)) == 2 })
        running.cancel()
        _ = try? await running.value
        let counts = try await gateway.store.counts()
        #expect(counts.inbound == ["accepted": 1, "dead_letter": 1], "\(counts)")
        #expect(counts.resources >= 15, "the patient, problems, allergies, medications, results, vital signs, encounters, immunizations")
        let patients = try await gateway.store.search(type: "Patient", key: SearchKey(parameter: "family", value: "everyman"))
        #expect(patients.count == 1)
        let letters = try await gateway.store.inbound(outcome: .deadLetter, limit: 10)
        #expect(letters.first?.reason?.contains("not well-formed XML") == true, "\(letters.first?.reason ?? "")")
        let accepted = try await gateway.store.inbound(outcome: .accepted, limit: 10)
        #expect(accepted.first?.coverage?.contains("\"unmapped\":[") == true, "the coverage report is kept with the document")
        legacy.server.stopServer()
        try await gateway.store.close()
    }

    @Test(
        "the integrity scan finds rows changed behind the gateway's back (same watermark), rows that vanished, and rows slipped in behind the watermark"
    )
    func integrityScan() async throws {
        let legacy = try await LegacyDatabase.start(seed: true)
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        let source = LegacySourceConfiguration(
            name: "legacy-patients", url: legacy.url, query: LegacyDatabase.patientsQuery, format: .rows, table: "patients",
            initialWatermark: LegacyDatabase.patientsStart, pollIntervalSeconds: 0.1)
        let poller = LegacySourcePoller(configuration: source, queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let running = Task { try await poller.run() }
        #expect(try await Self.waitUntil { try await Self.accepted(gateway.store) >= 2 })
        running.cancel()
        _ = try? await running.value

        let clean = try await LegacyIntegrityScan.scan(source, store: gateway.store, logger: TestGateway.logger)
        #expect(clean.problems == 0 && clean.scannedRows == clean.storedRows && clean.storedRows >= 2, "\(clean)")

        // A legitimate change moves the row's watermark: the next poll takes it, nothing to report.
        try legacy.server.sql("UPDATE patients SET phone = '030-999' WHERE mrn = '4711'", database: legacy.name)
        let legit = try await LegacyIntegrityScan.scan(source, store: gateway.store, logger: TestGateway.logger)
        #expect(legit.problems == 0 && legit.pending == 1, "\(legit)")
        // Behind the gateway's back: the trigger off, a name changed without touching updated_at, a row deleted, and a
        // row inserted with an old timestamp.
        try legacy.server.sql(
            """
            ALTER TABLE patients DISABLE TRIGGER patients_touch;
            UPDATE patients SET phone = NULL WHERE mrn = '4711';
            UPDATE patients SET family_name = 'Forged' WHERE patient_id = (SELECT min(patient_id) FROM patients WHERE mrn <> '4711');
            DELETE FROM patients WHERE mrn = '4711';
            INSERT INTO patients (mrn, family_name, updated_at) VALUES ('9999', 'Backdated', '2000-01-01');
            """, database: legacy.name)
        let scanner = IntegrityScanner(sources: [source], store: gateway.store, interval: .seconds(3600), logger: TestGateway.logger)
        let report = try #require(await scanner.scanNow())
        let s = try #require(report.sources.first)
        #expect(s.changed.count == 1 && s.vanished.count == 1 && s.missed.count == 1, "\(s)")
        #expect(report.problems == 3 && scanner.latest.report == report)
        legacy.server.stopServer()
        try await gateway.store.close()
    }

    @Test("NOTIFY from the legacy database wakes the poller long before its interval")
    func notifyWakes() async throws {
        let legacy = try await LegacyDatabase.start()
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        let poller = LegacySourcePoller(
            configuration: LegacySourceConfiguration(
                name: "legacy-hl7", url: legacy.url, query: LegacyDatabase.hl7Query, format: .hl7v2, pollIntervalSeconds: 3600,
                notifyChannel: "ledgerbridge"),
            queue: gateway.queue, ingestor: gateway.hl7, logger: TestGateway.logger)
        let running = Task { try await poller.run() }
        try await Task.sleep(for: .seconds(1))  // the first poll (empty table) and LISTEN
        try legacy.insertMessages(0..<3)
        #expect(try await Self.waitUntil(10) { try await Self.accepted(gateway.store) == 3 })
        running.cancel()
        _ = try? await running.value
        legacy.server.stopServer()
        try await gateway.store.close()
    }
}
