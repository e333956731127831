import Testing

@testable import FHIR

@Suite("Canonical form")
struct CanonicalFormTests {
    @Test("XML and JSON renderings of every specification example hash the same", arguments: FHIRFixtures.pairs)
    func sameHashFromXMLAndJSON(_ pair: ExamplePair) throws {
        let fromXML = try FHIRXMLParser().parse(pair.xml)
        let fromJSON = try FHIRJSON().parse(pair.json)
        if FHIRCanonicalForm.bytes(fromXML) != FHIRCanonicalForm.bytes(fromJSON) {
            // Only a number the official JSON rewrote (see ConversionTests) may differ.
            #expect(FHIRDecimalAware.equivalent(.object(fromXML), .object(fromJSON)))
            #expect(pair.name == "observation-decimal")
        }
    }

    @Test("sorted keys, no white space, numbers as written, versionId and lastUpdated left out")
    func form() throws {
        let resource = try FHIRJSON().parse(
            """
            { "resourceType": "Observation", "status": "final", "id": "x",
              "meta": { "versionId": "7", "lastUpdated": "2026-01-01T00:00:00Z" },
              "code": { "text": "caf\\u00e9 \\"q\\"" },
              "valueQuantity": { "value": 1.50, "unit": "mmol/L" } }
            """)
        let text = String(decoding: FHIRCanonicalForm.bytes(resource), as: UTF8.self)
        #expect(
            text
                == #"{"code":{"text":"café \"q\""},"id":"x","resourceType":"Observation","status":"final","valueQuantity":{"unit":"mmol/L","value":1.50}}"#
        )
        var withProfile = resource
        withProfile["meta"] = .object(JSONObject([("versionId", .string("8")), ("profile", .array([.string("http://x")]))]))
        #expect(String(decoding: FHIRCanonicalForm.bytes(withProfile), as: UTF8.self).contains(#""meta":{"profile":["http://x"]}"#))
        // A new version of the same content hashes the same; a changed value does not.
        var again = resource
        again["meta"] = .object(JSONObject([("versionId", .string("9"))]))
        #expect(FHIRCanonicalForm.sha256Hex(again) == FHIRCanonicalForm.sha256Hex(resource))
        var changed = resource
        changed["status"] = .string("amended")
        #expect(FHIRCanonicalForm.sha256Hex(changed) != FHIRCanonicalForm.sha256Hex(resource))
        #expect(FHIRCanonicalForm.sha256Hex(resource).count == 64)
    }

    @Test("keys sort by UTF-16 code units (RFC 8785), also where that differs from UTF-8 order, and strings escape as JSON")
    func keyOrderAndEscapes() {
        // U+10000 is a surrogate pair (D800 DC00): before U+E000 in UTF-16, after it in UTF-8.
        let keys = ["b", "\u{E000}", "a", "\u{10000}", "ab", "é", "\u{FFFF}", "\u{1F600}", "A", ""]
        let object = JSONObject(keys.map { ($0, JSONValue.number("1")) })
        let text = String(decoding: JSONWriter(style: .canonical).write(.object(object)), as: UTF8.self)
        let expected = keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
        #expect(text == "{" + expected.map { "\"\($0)\":1" }.joined(separator: ",") + "}")
        #expect(expected.firstIndex(of: "\u{10000}")! < expected.firstIndex(of: "\u{E000}")!)
        let escaped = String(decoding: JSONWriter().write(.string("a\"b\\c\nd\u{01}é\u{7F}")), as: UTF8.self)
        #expect(escaped == #""a\"b\\c\nd\u0001é"# + "\u{7F}\"")
    }

    @Test("a known vector: the documented example hashes to its documented value")
    func vector() throws {
        let resource = try FHIRJSON().parse(#"{"resourceType":"Patient","id":"p1","birthDate":"1970-01-01","active":true}"#)
        #expect(
            String(decoding: FHIRCanonicalForm.bytes(resource), as: UTF8.self)
                == #"{"active":true,"birthDate":"1970-01-01","id":"p1","resourceType":"Patient"}"#)
        #expect(FHIRCanonicalForm.sha256Hex(resource) == CanonicalFormTests.documentedHash)
    }

    /// sha256 of the canonical bytes above, computed independently with `printf '%s' … | sha256sum` (docs/canonical-form.md).
    static let documentedHash = "65487d3236c8284e0156809949f0ea5ec0d6240f862b1e55a39db128a67aadcd"
}

extension CanonicalFormTests {
    /// Found by the FHIR fuzzer: a raw `"` in a JSON narrative read back from our XML as `&quot;`, so the same
    /// resource hashed differently by the way it arrived. Both readers now write the div in the same form.
    @Test("a narrative has one form, and one hash, whether it arrived as XML or JSON")
    func narrativeForm() throws {
        let json =
            #"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p title='t'>Ann \"Jo\" O'Neil &amp; co &gt; <!-- c --><br></br></p></div>"}}"#
        let fromJSON = try FHIRJSON().parse(json)
        #expect(
            fromJSON["text"]?.objectValue?["div"]
                == .string(#"<div xmlns="http://www.w3.org/1999/xhtml"><p title="t">Ann &quot;Jo&quot; O'Neil &amp; co &gt; <br></br></p></div>"#))
        let fromXML = try FHIRXMLParser().parse(try FHIRXMLWriter().write(fromJSON))
        #expect(fromXML == fromJSON)
        #expect(FHIRCanonicalForm.sha256Hex(fromXML) == FHIRCanonicalForm.sha256Hex(fromJSON))
    }
}
