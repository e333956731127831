import FHIR
import Foundation
import GatewayAPI
import HL7v2
import Hummingbird
import HummingbirdTesting
import Ingest
import Mapping
import NIOCore
import Store
import TestSupport
import Testing

@Suite("HTTP feeds", .serialized)
struct HTTPFeedTests {
    static let er7: HTTPFields = [.contentType: "x-application/hl7-v2+er7"]

    @Test(
        "the whole HL7 v2 corpus over HTTP: every message answered after its commit and stored once; resends are duplicates",
        arguments: StoreKind.allCases)
    func corpus(kind: StoreKind) async throws {
        let gateway = IngestPipeline(store: try await kind.open())
        try await gateway.run(mllp: nil) { client, _ in
            var messages = 0
            var acks: [String: String] = [:]  // file → MSA-1 of its first ACK
            for file in TestMessages.corpusFiles {
                let body = try Data(contentsOf: URL(fileURLWithPath: TestMessages.corpusDirectory + "/" + file))
                let expected = ER7Parser().parseRecovering([UInt8](body)).batch.messages
                let response = try await client.execute(uri: "/feeds/hl7v2", method: .post, headers: Self.er7, body: ByteBuffer(bytes: [UInt8](body)))
                #expect(response.status == .ok, "\(file)")
                let ackMessages = try ER7Parser().parse(Array(buffer: response.body)).messages
                #expect(ackMessages.count == expected.count, "\(file): one ACK per message")
                for (ack, original) in zip(ackMessages, expected) {
                    #expect(ack.segment("MSA")?.value(field: 2) == original.controlID, "\(file): MSA-2 answers MSH-10")
                    #expect(ack.segment("MSA")?.value(field: 1) == "AA", "\(file)")
                }
                acks[file] = ackMessages.first?.segment("MSA")?.value(field: 1)
                messages += expected.count
            }
            let counts = try await gateway.store.counts()
            #expect(counts.inbound.values.reduce(0, +) == messages, "every message has exactly one inbound row")
            #expect((counts.inbound["accepted"] ?? 0) > 40)
            #expect(counts.versions == counts.ledgerEntries)

            // An EHR that missed the ACKs sends everything again: all acknowledged, nothing stored twice.
            for file in TestMessages.corpusFiles {
                let body = try Data(contentsOf: URL(fileURLWithPath: TestMessages.corpusDirectory + "/" + file))
                let response = try await client.execute(
                    uri: "/feeds/hl7v2", method: .post, headers: [.contentType: "text/plain", .accept: "application/json"],
                    body: ByteBuffer(bytes: [UInt8](body)))
                let json = try #require(try JSONParser().parse(Array(buffer: response.body)).objectValue)
                for m in json["messages"]?.arrayValue ?? [] {
                    #expect(m.objectValue?["outcome"]?.stringValue == "duplicate", "\(file)")
                }
            }
            let again = try await gateway.store.counts()
            #expect(again.versions == counts.versions && again.resources == counts.resources)
            #expect(again.inbound["duplicate"] == (counts.inbound["duplicate"] ?? 0) + messages)
        }
        try await gateway.store.close()
    }

    @Test("a malformed message is rejected with AR and ERR, kept as rejected, and its neighbours in the batch are stored")
    func malformed() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        try await gateway.run(mllp: nil) { client, _ in
            let bad = "MSH|^~\\&|TESTAPP|HOSP|LB|LB|20260101||ADT^A01|BAD-1|P|2.5.1\rP ID|broken segment id\r"
            let body = TestMessages.adt(1) + bad + TestMessages.adt(2)
            let response = try await client.execute(uri: "/feeds/hl7v2", method: .post, headers: Self.er7, body: ByteBuffer(string: body))
            #expect(response.status == .badRequest)
            let acks = try ER7Parser().parse(Array(buffer: response.body)).messages
            #expect(acks.map { $0.segment("MSA")?.value(field: 1) } == ["AA", "AR", "AA"])
            #expect(acks[1].segment("ERR") != nil)
            let counts = try await gateway.store.counts()
            #expect(counts.inbound == ["accepted": 2, "rejected": 1])
            let rejected = try await gateway.store.inbound(outcome: .rejected, limit: 10)
            #expect(String(decoding: rejected[0].body, as: UTF8.self).contains("P ID|broken"))
            #expect(rejected[0].reason?.contains("segment") == true)
        }
        try await gateway.store.close()
    }

    @Test("wrong media types and oversized bodies are refused with an OperationOutcome, nothing stored")
    func refused() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        var http = HTTPConfiguration()
        http.maxBodyBytes = 1000
        try await gateway.run(http: http, mllp: nil) { client, _ in
            let r1 = try await client.execute(
                uri: "/feeds/hl7v2", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{}"))
            #expect(r1.status == .unsupportedMediaType)
            #expect(String(buffer: r1.body).contains("OperationOutcome"))
            let r2 = try await client.execute(
                uri: "/feeds/hl7v2", method: .post, headers: Self.er7, body: ByteBuffer(string: String(repeating: TestMessages.adt(1), count: 10)))
            #expect(r2.status == .contentTooLarge)
            let r3 = try await client.execute(uri: "/feeds/fhir", method: .post, headers: [.contentType: "text/csv"], body: ByteBuffer(string: "a,b"))
            #expect(r3.status == .unsupportedMediaType)
            #expect(try await gateway.store.counts().inbound.isEmpty)
        }
        try await gateway.store.close()
    }

    @Test("feed API keys: without the key 401, with it the client's name is the sender")
    func apiKeys() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        var http = HTTPConfiguration()
        http.feedKeys = ["lab-system": "s3cret-key"]
        try await gateway.run(http: http, mllp: nil) { client, _ in
            let patient = #"{"resourceType":"Patient","id":"k1","gender":"male"}"#
            let denied = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: patient))
            #expect(denied.status == .unauthorized)
            let wrong = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json", .authorization: "Bearer nope"],
                body: ByteBuffer(string: patient))
            #expect(wrong.status == .unauthorized)
            let ok = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json", .authorization: "Bearer s3cret-key"],
                body: ByteBuffer(string: patient))
            #expect(ok.status == .created)
            let stored = try #require(try await gateway.store.currentVersion(type: "Patient", id: "k1"))
            #expect(stored.source == "http-fhir:lab-system")
        }
        try await gateway.store.close()
    }

    @Test(
        "FHIR resources: 201 then 200 for the same content as JSON or XML, 422 with an OperationOutcome for invalid ones",
        arguments: StoreKind.allCases)
    func fhirResources(kind: StoreKind) async throws {
        let gateway = IngestPipeline(store: try await kind.open())
        try await gateway.run(mllp: nil) { client, _ in
            let json =
                #"{"resourceType":"Patient","id":"p1","name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male","birthDate":"1974-12-25"}"#
            let r1 = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: json))
            #expect(r1.status == .created)
            #expect(r1.headers[.location] == "Patient/p1/_history/1" && r1.headers[.eTag] == "W/\"1\"")
            let xml = try FHIRXMLWriter().write(try FHIRJSON().parse(json))
            let r2 = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+xml"], body: ByteBuffer(bytes: xml))
            #expect(r2.status == .ok, "the same content as XML is no new version")
            #expect(r2.headers[.location] == "Patient/p1/_history/1")
            #expect(r2.headers[.contentType] == "application/fhir+xml")
            let changed = json.replacingOccurrences(of: "Chalmers", with: "Chalmers-Smith")
            let r3 = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: changed))
            #expect(r3.headers[.location] == "Patient/p1/_history/2")

            let invalid = #"{"resourceType":"Patient","id":"p2","gender":"robot","birthDate":"yesterday"}"#
            let r4 = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: invalid))
            #expect(r4.status == .unprocessableContent)
            let outcome = try FHIRJSON().parse(Array(buffer: r4.body))
            #expect(outcome["resourceType"] == .string("OperationOutcome"))
            #expect(String(buffer: r4.body).contains("Patient.birthDate"))
            let r5 = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: "{not json"))
            #expect(r5.status == .badRequest)
            #expect(try await gateway.store.currentVersion(type: "Patient", id: "p2") == nil)
            let counts = try await gateway.store.counts()
            #expect(counts.versions == 2 && counts.inbound["rejected"] == 2)
        }
        try await gateway.store.close()
    }

    @Test("FHIR transaction: all or nothing, urn:uuid references rewritten to the assigned ids; batch: entry by entry", arguments: StoreKind.allCases)
    func transactionAndBatch(kind: StoreKind) async throws {
        let gateway = IngestPipeline(store: try await kind.open())
        try await gateway.run(mllp: nil) { client, _ in
            let transaction = """
                {"resourceType":"Bundle","type":"transaction","entry":[
                 {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","gender":"female"},
                  "request":{"method":"POST","url":"Patient"}},
                 {"resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"weight"},
                  "subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},"request":{"method":"PUT","url":"Observation/o1"}}]}
                """
            let r = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: transaction))
            #expect(r.status == .ok)
            let response = try FHIRJSON().parse(Array(buffer: r.body))
            #expect(response["type"] == .string("transaction-response"))
            let statuses = response["entry"]?.arrayValue?.compactMap { $0.objectValue?["response"]?.objectValue?["status"]?.stringValue }
            #expect(statuses == ["201 Created", "201 Created"])
            let observation = try #require(try await gateway.store.currentVersion(type: "Observation", id: "o1")).resource()
            let subject = try #require(observation["subject"]?.objectValue?["reference"]?.stringValue)
            #expect(subject.hasPrefix("Patient/"))
            #expect(try await gateway.store.currentVersion(type: "Patient", id: String(subject.dropFirst(8))) != nil)

            // One invalid entry: nothing of the transaction is stored.
            let bad = """
                {"resourceType":"Bundle","type":"transaction","entry":[
                 {"resource":{"resourceType":"Patient","id":"t2","gender":"male"},"request":{"method":"PUT","url":"Patient/t2"}},
                 {"resource":{"resourceType":"Observation","id":"o2","code":{"text":"x"}},"request":{"method":"PUT","url":"Observation/o2"}}]}
                """
            let rb = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: bad))
            #expect(rb.status == .unprocessableContent, "Observation.status is required")
            #expect(try await gateway.store.currentVersion(type: "Patient", id: "t2") == nil)

            let batch = """
                {"resourceType":"Bundle","type":"batch","entry":[
                 {"resource":{"resourceType":"Patient","id":"b1","gender":"male"},"request":{"method":"PUT","url":"Patient/b1"}},
                 {"request":{"method":"GET","url":"Patient/b1"}},
                 {"resource":{"resourceType":"Patient","id":"b2","gender":"other"},"request":{"method":"PUT","url":"Patient/b2"}}]}
                """
            let rbatch = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: batch))
            let batchResponse = try FHIRJSON().parse(Array(buffer: rbatch.body))
            let batchStatuses = batchResponse["entry"]?.arrayValue?.compactMap { $0.objectValue?["response"]?.objectValue?["status"]?.stringValue }
            #expect(batchStatuses == ["201 Created", "400 Bad Request", "201 Created"])
            #expect(try await gateway.store.currentVersion(type: "Patient", id: "b2") != nil)
        }
        try await gateway.store.close()
    }

    @Test("batch deletes: each DELETE is its own entry (not a duplicate of another), and makes an empty new version")
    func batchDeletes() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        try await gateway.run(mllp: nil) { client, _ in
            let create = """
                {"resourceType":"Bundle","type":"batch","entry":[
                 {"resource":{"resourceType":"Patient","id":"d1","gender":"male"},"request":{"method":"PUT","url":"Patient/d1"}},
                 {"resource":{"resourceType":"Patient","id":"d2","gender":"female"},"request":{"method":"PUT","url":"Patient/d2"}}]}
                """
            _ = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: create))
            let delete = """
                {"resourceType":"Bundle","type":"batch","entry":[
                 {"request":{"method":"DELETE","url":"Patient/d1"}},{"request":{"method":"DELETE","url":"Patient/d2"}}]}
                """
            let r = try await client.execute(
                uri: "/feeds/fhir", method: .post, headers: [.contentType: "application/fhir+json"], body: ByteBuffer(string: delete))
            let statuses = try FHIRJSON().parse(Array(buffer: r.body))["entry"]?.arrayValue?.compactMap {
                $0.objectValue?["response"]?.objectValue?["status"]?.stringValue
            }
            #expect(statuses == ["204 No Content", "204 No Content"])
            for id in ["d1", "d2"] {
                let current = try #require(try await gateway.store.currentVersion(type: "Patient", id: id))
                #expect(current.isDelete && current.versionId == 2 && current.body.isEmpty, "\(id)")
            }
            #expect(try await gateway.store.counts().inbound["duplicate"] == nil)
        }
        try await gateway.store.close()
    }

    @Test("dead letters: listed on the admin endpoint and replayed through the mapping in force after a fix")
    func deadLetterReplay() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        try await gateway.run(mllp: nil) { client, _ in
            // No PID-3: the built-in mapping cannot give the patient a stable id.
            let message = "MSH|^~\\&|TESTAPP|HOSP|LB|LB|20260101||ADT^A08|DL-1|P|2.5.1\rPID|1||||Doe^John\r"
            let r = try await client.execute(uri: "/feeds/hl7v2", method: .post, headers: Self.er7, body: ByteBuffer(string: message))
            let ack = try #require(try ER7Parser().parse(Array(buffer: r.body)).messages.first)
            #expect(ack.segment("MSA")?.value(field: 1) == "AA", "held durably: no reason for the sender to resend")
            #expect(ack.segment("ERR")?.value(field: 4) == "W")

            let list = try await client.execute(uri: "/admin/dead-letters", method: .get)
            let letters = try #require(try JSONParser().parse(Array(buffer: list.body)).objectValue?["deadLetters"]?.arrayValue)
            #expect(letters.count == 1)
            #expect(letters[0].objectValue?["reason"]?.stringValue?.contains("PID-3") == true)
            let id = try #require(letters[0].objectValue?["id"].flatMap { if case .number(let n) = $0 { Int64(n) } else { nil } })

            // The fix: a mapping that derives the id from the sender's control id when PID-3 is empty.
            gateway.mappers.replace(with: FallbackMapping())
            let replay = try await client.execute(uri: "/admin/dead-letters/\(id)/replay", method: .post)
            #expect(String(buffer: replay.body).contains("\"outcome\":\"accepted\""))
            #expect(try await gateway.store.inbound(id: id)?.outcome == .accepted)
            #expect(try await gateway.store.counts().versions == 1)
            // The original, sent again, is a duplicate of the now accepted message.
            let again = try await client.execute(
                uri: "/feeds/hl7v2", method: .post, headers: [.contentType: "text/plain", .accept: "application/json"],
                body: ByteBuffer(string: message))
            #expect(String(buffer: again.body).contains("\"outcome\":\"duplicate\""))
            let missing = try await client.execute(uri: "/admin/dead-letters/999/replay", method: .post)
            #expect(missing.status == .notFound)
        }
        try await gateway.store.close()
    }
}

/// A mapping "fix" for the replay test: patients without PID-3 get an id from the sender and MSH-10.
struct FallbackMapping: MessageMapper {
    let version = "test-fallback"

    func map(_ message: Message, context: MappingContext) throws(MappingError) -> [JSONObject] {
        let id = StableID.make(type: "Patient", namespace: context.sender, value: message.controlID ?? "")
        return [JSONObject([("resourceType", .string("Patient")), ("id", .string(id)), ("active", .bool(true))])]
    }

    func map(row: [String: String], table: String, context: MappingContext) throws(MappingError) -> [JSONObject] {
        throw MappingError(.unmappedType, reason: "no rows")
    }
}
