import FHIR
import Foundation
import Store
import Testing

@testable import GatewayAPI

@Suite("AuditEvents written as canonical bytes")
struct AuditEventTests {
    static let accesses: [AuditTrail.Access] = [
        .init(
            subject: "dr-lee", address: "127.0.0.1", interaction: "read", entities: ["Patient/e369"], query: nil, path: "/fhir/Patient/e369",
            status: 200, at: 1_764_600_000_123),
        .init(
            subject: "admin key", address: nil, interaction: "search-type", entities: [], query: "family=O\"Brien&given=Ann\\e",
            path: "/fhir/Patient", status: 403, at: 0),
        .init(
            subject: "Zoë \"quoted\" \\ tab\tand\u{1}control", address: "::1", interaction: "create", entities: ["Observation/1", "Patient/2"],
            query: "", path: "/feeds/hl7v2", status: 503, at: 1_800_000_000_000),
        .init(subject: "", address: nil, interaction: "operation", entities: [], query: nil, path: "/", status: 404, at: 42),
    ]

    @Test("a subject FHIR cannot hold as a string is shown, not stored as it came")
    func subjects() {
        #expect(AuditTrail.fhirString("dr-lee") == "dr-lee")
        #expect(AuditTrail.fhirString("") == "(no subject)")
        #expect(AuditTrail.fhirString("a\u{1}b\tc") == "a\u{FFFD}b\tc")
    }

    @Test("the bytes are already canonical, valid R4, and say who, what, when, from where and the outcome")
    func canonicalAndValid() throws {
        for (n, access) in Self.accesses.enumerated() {
            let id = AuditTrail.timeOrderedID(at: access.at, random: ArraySlice(repeating: UInt8(n), count: 10))
            let bytes = AuditTrail.canonicalEvent(access, id: id)
            let event = try #require(try JSONParser().parse(bytes).objectValue)
            #expect(FHIRCanonicalForm.bytes(event) == bytes, "event \(n): \(String(decoding: bytes, as: UTF8.self))")
            let errors = FHIRValidator().validate(event).filter { $0.severity == .error }
            #expect(errors.isEmpty, "event \(n): \(errors)")
            #expect(event["id"]?.stringValue == id)
            #expect(event["recorded"]?.stringValue == StoreTime.instant(access.at))
            #expect(event["action"]?.stringValue == (access.interaction == "create" ? "C" : "R"))
            #expect(event["outcome"]?.stringValue == (access.status < 400 ? "0" : access.status < 500 ? "4" : "8"))
            #expect(event["outcomeDesc"]?.stringValue == "HTTP \(access.status) \(access.path)")
            let agent = try #require(event["agent"]?.arrayValue?.first?.objectValue)
            #expect(agent["who"]?.objectValue?["display"]?.stringValue == AuditTrail.fhirString(access.subject))
            #expect(agent["network"]?.objectValue?["address"]?.stringValue == access.address)
            let entities = event["entity"]?.arrayValue ?? []
            #expect(entities.compactMap { $0.objectValue?["what"]?.objectValue?["reference"]?.stringValue } == access.entities)
            let query = entities.compactMap { $0.objectValue?["query"]?.stringValue }.first
            // A search without parameters keeps no query.
            #expect(
                query.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } == (access.query == "" ? nil : access.query))
            #expect(event["subtype"]?.arrayValue?.first?.objectValue?["code"]?.stringValue == access.interaction)
            // The write made of them hashes them as any record's canonical body.
            let write = ResourceWrite(canonical: bytes, type: "AuditEvent", id: id, searchKeys: [], freshID: true, source: "audit")
            let same = try ResourceWrite(resource: event, source: "audit", sourceReference: nil, mappingVersion: nil)
            #expect(write.recordHash == same.recordHash && write.canonicalBody == same.canonicalBody)
            #expect(SearchKeys.extract(event) == write.searchKeys)
        }
    }
}
