import Foundation
import Testing

@Suite("ledgerbridge fhir")
struct FHIRCommandTests {
    static let fixtures = HL7ParseCommandTests.packageRoot + "/Tests/FHIRTests/Fixtures"

    @Test("hash: the same record hash from XML and JSON; --canonical prints the bytes")
    func hash() throws {
        let fromXML = try HL7ParseCommandTests.run(["fhir", "hash", Self.fixtures + "/fhir-xml/observation-example.xml"])
        let fromJSON = try HL7ParseCommandTests.run(["fhir", "hash", Self.fixtures + "/fhir-json/observation-example.json"])
        #expect(fromXML.status == 0 && fromJSON.status == 0)
        #expect(fromXML.out == fromJSON.out)
        #expect(fromXML.out.count == 65)
        let patient = try HL7ParseCommandTests.writeTemp(
            "p.json", #"{"resourceType":"Patient","id":"p1","meta":{"versionId":"3"},"birthDate":"1970-01-01","active":true}"#)
        let canonical = try HL7ParseCommandTests.run(["fhir", "hash", "--canonical", patient])
        #expect(canonical.out == #"{"active":true,"birthDate":"1970-01-01","id":"p1","resourceType":"Patient"}"# + "\n")
        #expect(try HL7ParseCommandTests.run(["fhir", "hash", patient]).out == "65487d3236c8284e0156809949f0ea5ec0d6240f862b1e55a39db128a67aadcd\n")
    }

    @Test("convert: JSON to XML and back")
    func convert() throws {
        let xml = try HL7ParseCommandTests.run(["fhir", "convert", "--to", "xml", Self.fixtures + "/fhir-json/patient-example.json"])
        #expect(xml.status == 0)
        #expect(xml.out.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"example\"/>"))
        let path = try HL7ParseCommandTests.writeTemp("p.xml", xml.out)
        let json = try HL7ParseCommandTests.run(["fhir", "convert", "--to", "json", path])
        #expect(json.status == 0 && json.out.hasPrefix(#"{"resourceType":"Patient","id":"example""#))
    }

    @Test("validate: an OperationOutcome per invalid file, exit 1; clean files say nothing")
    func validate() throws {
        let bad = try HL7ParseCommandTests.writeTemp(
            "bad.json", #"{"resourceType":"Observation","code":{"text":"x"},"effectiveDateTime":"yesterday"}"#)
        let good = Self.fixtures + "/fhir-json/patient-example.json"
        let result = try HL7ParseCommandTests.run(["fhir", "validate", good, bad])
        #expect(result.status == 1)
        #expect(result.err == "\(bad): 2 errors, 0 warnings\n")
        let outcome = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as! [String: Any]
        #expect(outcome["resourceType"] as? String == "OperationOutcome")
        let issues = outcome["issue"] as! [[String: Any]]
        #expect(issues.map { ($0["expression"] as! [String])[0] }.sorted() == ["Observation.effectiveDateTime", "Observation.status"])
        #expect(try HL7ParseCommandTests.run(["fhir", "validate", good]).status == 0)
    }

    @Test("unreadable input: file, line and reason; exit 1")
    func malformed() throws {
        let broken = try HL7ParseCommandTests.writeTemp(
            "broken.xml", "<Patient xmlns=\"http://hl7.org/fhir\">\n<id value=\"x\"/>\n<shoe/>\n</Patient>")
        let result = try HL7ParseCommandTests.run(["fhir", "convert", "--to", "json", broken])
        #expect(result.status == 1)
        #expect(result.err.contains("\(broken): line 3, Patient: unknown element 'shoe'"))
    }
}
