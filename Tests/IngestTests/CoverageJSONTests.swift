import FHIR
import Ingest
import Mapping
import Testing

/// The coverage report kept with each inbound message.
@Suite("coverage report JSON")
struct CoverageJSONTests {
    @Test("the stored form: values, mapped and the unmapped places in order")
    func storedForm() {
        let report = CoverageReport(unmapped: ["PID-13.2", "PV1-44", "ZPI"], values: 57, mappedValues: 54)
        #expect(CoverageJSON.encode(report) == #"{"values":57,"mapped":54,"unmapped":["PID-13.2","PV1-44","ZPI"]}"#)
        #expect(CoverageJSON.encode(CoverageReport()) == #"{"values":0,"mapped":0,"unmapped":[]}"#)
    }

    @Test("any place is valid JSON and reads back as written: a table column's name may hold quotes, backslashes, control characters")
    func anyPlace() throws {
        let places = ["column \"fax\"", #"column C:\notes"#, "column tab\there", "column line\nbreak", "column \u{1}", "column Größe", "column 名前"]
        let json = CoverageJSON.encode(CoverageReport(unmapped: places, values: 9, mappedValues: 2))
        let value = try JSONParser().parse(json)
        guard case .object(let object) = value, case .array(let read)? = object["unmapped"] else {
            Issue.record("not an object with an unmapped array: \(json)")
            return
        }
        #expect(read.compactMap(\.stringValue) == places)
        #expect(object["values"] == .number("9"))
        #expect(object["mapped"] == .number("2"))
    }
}
