import Foundation
import Testing

@testable import FHIR

/// The FHIR bundles another converter wrote from the HL7 v2 and C-CDA corpus (Fixtures/hl7v2-expected,
/// Fixtures/ccda-expected; see SOURCES.md). They must read, convert to XML and back unchanged, and keep their
/// references inside the bundle; what our validator finds in them is pinned in Fixtures/peer-bundle-issues.json,
/// the report of what that converter gets wrong (missing required elements, empty strings, codes outside required
/// value sets).
@Suite("Peer converters' bundles")
struct PeerBundleTests {
    struct File: CustomTestStringConvertible, Sendable {
        let key: String
        var path: String { FHIRFixtures.root + "/" + key }
        var testDescription: String { key }
    }

    static let files: [File] = ["hl7v2-expected", "ccda-expected"].flatMap { folder in
        ((try? FileManager.default.contentsOfDirectory(atPath: FHIRFixtures.root + "/" + folder)) ?? []).sorted().map { File(key: folder + "/" + $0) }
    }

    static let pinnedIssues: [String: [String]] = {
        let data = FileManager.default.contents(atPath: FHIRFixtures.root + "/peer-bundle-issues.json")!
        return try! JSONDecoder().decode([String: [String]].self, from: data)
    }()

    @Test("all 90 bundles are here")
    func present() {
        #expect(Self.files.count == 90)
    }

    @Test("reads, converts to XML and back unchanged, references resolve, validation as pinned", arguments: files)
    func bundle(_ file: File) throws {
        let bytes = Array(FileManager.default.contents(atPath: file.path)!)
        let resource = try FHIRJSON().parse(bytes)
        let bundle = try FHIRBundle(resource)
        #expect(!bundle.entries.isEmpty)

        let xml = try FHIRXMLWriter().write(resource)
        let back = try FHIRXMLParser().parse(xml)
        #expect(JSONValue.object(back).isEquivalent(to: .object(resource)))
        #expect(FHIRCanonicalForm.sha256Hex(back) == FHIRCanonicalForm.sha256Hex(resource))

        #expect(bundle.unresolvedLocalReferences().map(\.reference) == [])

        let issues = FHIRValidator().validate(resource)
        #expect(issues.allSatisfy { $0.code == .required || $0.code == .value || $0.code == .codeInvalid }, "structural issues: \(issues)")
        #expect(issues.map { "\($0.path): \($0.message)" } == Self.pinnedIssues[file.key] ?? [])
    }

    @Test("references between entries resolve by fullUrl")
    func resolution() throws {
        let bytes = Array(FileManager.default.contents(atPath: FHIRFixtures.root + "/hl7v2-expected/ADT-A01-01.json")!)
        let bundle = try FHIRBundle(try FHIRJSON().parse(bytes))
        let refs = bundle.references()
        #expect(refs.count > 20)
        let resolved = refs.compactMap { r in bundle.resolve(r.reference, from: r.entry).map { (r, $0) } }
        #expect(!resolved.isEmpty)
        for (ref, target) in resolved {
            let type = target.resource?["resourceType"]?.stringValue ?? ""
            #expect(ref.reference.hasPrefix("urn:") || ref.reference.hasPrefix(type + "/"))
        }
    }

    @Test("relative references resolve against a RESTful fullUrl, then by type and id")
    func relative() throws {
        let bundle = try FHIRBundle(
            try FHIRJSON().parse(
                #"""
                {"resourceType":"Bundle","type":"collection","entry":[
                  {"fullUrl":"http://a.example/fhir/Observation/o1","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}},
                  {"fullUrl":"http://a.example/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1"}},
                  {"fullUrl":"http://b.example/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1","active":true}},
                  {"fullUrl":"urn:uuid:6f1c4e3a-1b7d-4c55-9f0e-3c6c2f1b2a10","resource":{"resourceType":"Patient","active":false}}
                ]}
                """#))
        #expect(bundle.resolve("Patient/p1", from: 0)?.index == 1)
        #expect(bundle.resolve("http://b.example/fhir/Patient/p1")?.index == 2)
        #expect(bundle.resolve("urn:uuid:6f1c4e3a-1b7d-4c55-9f0e-3c6c2f1b2a10")?.index == 3)
        #expect(bundle.resolve("urn:uuid:00000000-0000-0000-0000-000000000000") == nil)
        #expect(bundle.references().map(\.path) == ["Observation.subject"])
        #expect(throws: FHIRCodecError.self) { try FHIRBundle(try FHIRJSON().parse(#"{"resourceType":"Bundle","type":"pile"}"#)) }
    }
}
