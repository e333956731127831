import FHIR
import Foundation
import TestSupport
import Testing

@testable import Store

@Suite("Served JSON without a parse")
struct ServedJSONTests {
    func version(_ body: [UInt8], versionId: Int = 3, lastUpdated: Int64 = 1_796_140_363_989) -> StoredVersion {
        StoredVersion(
            resourceType: "Patient", id: "p", versionId: versionId, lastUpdated: lastUpdated, isDelete: false, source: "test",
            sourceReference: nil, mappingVersion: nil, inboundID: nil, recordHash: "", body: body, leafIndex: nil)
    }

    @Test("the stored body with meta appended is byte for byte what parsing and writing gives, over the specification's examples")
    func specificationExamples() throws {
        let folder = TestEnvironment.packageRoot + "/Tests/FHIRTests/Fixtures/fhir-json"
        var spliced = 0, withMeta = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where name.hasSuffix(".json") {
            // A few examples break the specification's own rules (FHIRTests lists them); the rest are the samples.
            guard let resource = try? FHIRJSON().parse(Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))) else { continue }
            let v = version(FHIRCanonicalForm.bytes(resource))
            let slow = FHIRJSON().write(try v.resource())
            if let fast = v.servedJSON() {
                #expect(fast == slow, "\(name)")
                spliced += 1
            } else {
                // Only a body with a meta of its own takes the slow path.
                let own = resource["meta"]?.objectValue?.members.filter { !["versionId", "lastUpdated"].contains($0.key) } ?? []
                #expect(!own.isEmpty, "\(name)")
                withMeta += 1
            }
        }
        #expect(spliced > 100 && withMeta > 0, "\(spliced) spliced, \(withMeta) with their own meta")
    }

    @Test("a member named meta is found only at the top level, and not inside strings or under other keys")
    func topLevelMeta() {
        let cases: [(String, Bool)] = [
            (#"{}"#, false), (#"{"meta":{"tag":[]}}"#, true), (#"{"a":1,"meta":{}}"#, true),
            (#"{"contained":[{"meta":{}}],"id":"x"}"#, false), (#"{"note":"\",\"meta\":","id":"y"}"#, false),
            (#"{"metadata":1}"#, false), (#"{"x":{"meta":1},"z":"\\"}"#, false), (#"{"text":"\\","meta":{}}"#, true),
        ]
        for (json, expected) in cases {
            #expect(StoredVersion.hasTopLevelMeta(Array(json.utf8)) == expected, "\(json)")
        }
        #expect(
            version(Array("{}".utf8), versionId: 1, lastUpdated: 0).servedJSON()
                == Array(#"{"meta":{"versionId":"1","lastUpdated":"1970-01-01T00:00:00.000Z"}}"#.utf8))
    }
}
