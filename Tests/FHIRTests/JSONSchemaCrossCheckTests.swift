import Foundation
import TestSupport
import Testing

@testable import FHIR

/// Our JSON output judged by a second, independent validator: the official FHIR R4 JSON Schema run by the Python
/// jsonschema package (scripts/validate_fhir_jsonschema.py; installed into .venv by scripts/test.sh).
@Suite("JSON Schema cross-check")
struct JSONSchemaCrossCheckTests {
    struct Verdict: Decodable {
        var file: String
        var valid: Bool
        var errors: [String]
    }

    /// Writes our JSON for each (name, resource) into a temporary folder and runs the schema validator over it.
    static func judge(_ resources: [(String, JSONObject)]) async throws -> [String: Verdict] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lb-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths: [String: String] = [:]
        for (name, resource) in resources {
            let path = dir.appendingPathComponent(name.replacingOccurrences(of: "/", with: "--")).path
            try Data(FHIRJSON().write(resource)).write(to: URL(fileURLWithPath: path))
            paths[path] = name
        }
        let schema = FHIRFixtures.root + "/fhir.schema.json"
        let result = try await TestEnvironment.runPython(script: "scripts/validate_fhir_jsonschema.py", [schema] + paths.keys.sorted())
        var verdicts: [String: Verdict] = [:]
        for line in result.output.split(separator: "\n") {
            let v = try JSONDecoder().decode(Verdict.self, from: Data(line.utf8))
            verdicts[paths[v.file]!] = v
        }
        #expect(verdicts.count == resources.count)
        return verdicts
    }

    @Test("our JSON for every specification example (read from XML) is valid by the JSON Schema")
    func specificationExamples() async throws {
        let resources = try FHIRFixtures.pairs.map { ($0.name + ".json", try FHIRXMLParser().parse($0.xml)) }
        let verdicts = try await Self.judge(resources)
        let invalid = verdicts.filter { !$0.value.valid }.map(\.key).sorted()
        // The one exception is in the specification's own data: a display with U+00A0, which the schema's string
        // pattern ([ \r\n\t\S]+, with Unicode \S) rejects; the official JSON rendering fails the same way.
        #expect(invalid == ["diagnosticreport-example-gingival-mass.json"], "\(verdicts.values.filter { !$0.valid }.map(\.errors))")
        let official = try JSONParser().parse(ExamplePair(name: "diagnosticreport-example-gingival-mass").json)
        let officialVerdict = try await Self.judge([("official-gingival-mass.json", official.objectValue!)])
        #expect(officialVerdict.values.first?.valid == false)
    }

    @Test("on the peer converters' bundles, the JSON Schema and our validator flag the same files, but for documented reasons")
    func peerBundles() async throws {
        let resources = try PeerBundleTests.files.map { file in
            (file.key, try FHIRJSON().parse(Array(FileManager.default.contents(atPath: file.path)!)))
        }
        let verdicts = try await Self.judge(resources)
        let schemaInvalid = Set(verdicts.filter { !$0.value.valid }.map(\.key))
        let oursInvalid = Set(resources.filter { FHIRValidator().validate($0.1).contains { $0.severity == .error } }.map(\.0))
        #expect(schemaInvalid.count >= 15)
        // Every file the schema rejects, ours rejects too (required bindings included: ContactPoint.use "HOME").
        #expect(schemaInvalid.subtracting(oursInvalid) == [])
        // Minimum cardinality the schema cannot express (a missing `status`, min 1 in R4).
        #expect(oursInvalid.subtracting(schemaInvalid) == ["ccda-expected/CCD.json", "ccda-expected/History_and_Physical.json"])
    }
}
