import Testing

@testable import FHIR

@Suite("FHIR JSON")
struct JSONTests {
    @Test("decimals stay as written, through XML and back")
    func decimals() throws {
        let r = try FHIRJSON().parse(#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}"#)
        #expect(r["valueQuantity"]?.objectValue?["value"] == .number("1.50"))
        let xml = try FHIRXMLWriter().string(r)
        #expect(xml.contains(#"<value value="1.50"/>"#))
        let back = try FHIRXMLParser().parse(Array(xml.utf8))
        #expect(String(decoding: FHIRJSON().write(back), as: UTF8.self).contains(#""value":1.50"#))
    }

    @Test(
        "primitive extensions with nulls in arrays",
        arguments: [
            #"{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"extension":[{"url":"http://x","valueString":"y"}]}]}]}"#
        ])
    func primitiveExtensions(_ text: String) throws {
        let r = try FHIRJSON().parse(text)
        let xml = try FHIRXMLWriter().string(r)
        #expect(xml.contains(#"<given value="A"/>"#))
        #expect(xml.contains(#"<extension url="http://x">"#))
        let back = try FHIRXMLParser().parse(Array(xml.utf8))
        #expect(JSONValue.object(back).isEquivalent(to: .object(r)))
    }

    @Test(
        "structural errors name the element",
        arguments: [
            (#"{"resourceType":"Patient","shoeSize":9}"#, "Patient.shoeSize", "unknown element"),
            (#"{"resourceType":"Patient","name":{"family":"x"}}"#, "Patient.name", "must be an array"),
            (#"{"resourceType":"Patient","gender":["male"]}"#, "Patient.gender", "must not be an array"),
            (#"{"resourceType":"Patient","active":"true"}"#, "Patient.active", "JSON boolean"),
            (#"{"resourceType":"Patient","multipleBirthInteger":"2"}"#, "Patient.multipleBirthInteger", "JSON number"),
            (#"{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}"#, "Patient.deceased", "only one of the choices"),
            (#"{"resourceType":"Patient","name":[{"given":["A"],"_given":[null,null]}]}"#, "Patient.name[0].given", "same length"),
            (#"{"resourceType":"Patient","birthDate":null}"#, "Patient.birthDate", "null is only allowed"),
            (#"{"resourceType":"Gadget"}"#, "Gadget", "not a FHIR R4 resource type"),
        ])
    func structuralErrors(_ text: String, _ path: String, _ fragment: String) {
        do {
            _ = try FHIRJSON().parse(text)
            Issue.record("accepted")
        } catch {
            #expect(error.path?.hasPrefix(path) == true, "\(error)")
            #expect(error.reason.contains(fragment), "\(error)")
        }
    }

    @Test("unknown elements can be kept by an explicit option")
    func keepUnknown() throws {
        var options = FHIRJSON.Options()
        options.keepUnknownElements = true
        let r = try FHIRJSON(options: options).parse(#"{"resourceType":"Patient","shoeSize":9}"#)
        #expect(r["shoeSize"] == .number("9"))
        #expect(throws: FHIRCodecError.self) { try FHIRXMLWriter().write(r) }
    }

    @Test(
        "JSON syntax errors give line and column",
        arguments: [
            ("{\n  \"a\": 1,\n  \"a\": 2\n}", 3, 3, "appears twice"),
            ("{\"a\": 01}", 1, 8, "','"),
            ("{\"a\": \"\u{01}\"}", 1, 8, "control character"),
            ("[1, 2", 1, 6, "not closed"),
            ("{\"a\": 1} x", 1, 10, "after the JSON value"),
            ("{\"a\": tru}", 1, 7, "invalid literal"),
            ("{\"a\": \"\\ud800\"}", 1, 14, "surrogate"),
        ])
    func syntaxErrors(_ text: String, _ line: Int, _ column: Int, _ fragment: String) {
        do {
            _ = try JSONParser().parse(text)
            Issue.record("accepted")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.reason.contains(fragment), "\(error)")
        }
    }

    @Test("invalid UTF-8 is refused")
    func invalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try JSONParser().parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("nesting is limited")
    func depth() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect { try JSONParser().parse(deep) } throws: { ($0 as? JSONParser.Error)?.reason.contains("deeper") == true }
    }
}

extension JSONTests {
    /// Found by the FHIR fuzzer: a div that is not well-formed XHTML was accepted from JSON and broke the XML written.
    @Test(
        "the narrative div must be one well-formed XHTML div",
        arguments: [
            #"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a</ : b</p></div>"#,
            #"<div><p>no namespace</p></div>"#,
            #"<p xmlns=\"http://www.w3.org/1999/xhtml\">not a div</p>"#,
            #"<div xmlns=\"http://www.w3.org/1999/xhtml\">a</div><div xmlns=\"http://www.w3.org/1999/xhtml\">b</div>"#,
            #"text <div xmlns=\"http://www.w3.org/1999/xhtml\">a</div>"#,
            #"<!DOCTYPE div [<!ENTITY e \"x\">]><div xmlns=\"http://www.w3.org/1999/xhtml\">&e;</div>"#,
            #"<div xmlns=\"http://www.w3.org/1999/xhtml\">&nbsp;</div>"#,
        ])
    func malformedDiv(_ div: String) {
        let json = #"{"resourceType":"Patient","text":{"status":"generated","div":""# + div + #""}}"#
        #expect { try FHIRJSON().parse(json) } throws: { ($0 as? FHIRCodecError)?.path == "Patient.text.div" }
    }

    @Test("a well-formed div passes and writes into XML as it stands")
    func wellFormedDiv() throws {
        let div = #"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\">A &amp; B<br/></p></div>"#
        let r = try FHIRJSON().parse(#"{"resourceType":"Patient","text":{"status":"generated","div":""# + div + #""}}"#)
        let back = try FHIRXMLParser().parse(try FHIRXMLWriter().write(r))
        #expect(back == r)
    }
}

extension JSONTests {
    /// Found by the FHIR fuzzer: a form feed in a JSON string was accepted and made XML that cannot be read.
    @Test("control characters other than tab, LF and CR are refused", arguments: ["\\f", "\\u0000", "\\u001b", "\\b"])
    func controlCharacters(_ escape: String) {
        let json = #"{"resourceType":"Patient","name":[{"family":"A"# + escape + #"B"}]}"#
        #expect { try FHIRJSON().parse(json) } throws: { error in
            (error as? FHIRCodecError)?.path == "Patient.name[0].family" && (error as? FHIRCodecError)?.reason.contains("control characters") == true
        }
        #expect(throws: Never.self) { try FHIRJSON().parse(#"{"resourceType":"Patient","name":[{"family":"A\tB\nC\rD"}]}"#) }
    }
}
