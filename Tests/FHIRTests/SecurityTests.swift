import Testing

@testable import FHIR

@Suite("XML security and limits")
struct SecurityTests {
    static func rejects(_ xml: String, limits: FHIRXMLParser.Limits = .init(), because fragment: String) {
        #expect {
            _ = try FHIRXMLParser(limits: limits).parse(xml)
        } throws: { error in
            guard let e = error as? FHIRCodecError else { return false }
            return e.reason.contains(fragment)
        }
    }

    @Test("external entities (XXE) are refused before anything is fetched or read")
    func xxe() {
        Self.rejects(
            """
            <?xml version="1.0"?>
            <!DOCTYPE Patient [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
            <Patient xmlns="http://hl7.org/fhir"><id value="&xxe;"/></Patient>
            """, because: "document type declarations")
        Self.rejects(
            """
            <?xml version="1.0"?>
            <!DOCTYPE Patient SYSTEM "http://127.0.0.1:9/evil.dtd">
            <Patient xmlns="http://hl7.org/fhir"><id value="x"/></Patient>
            """, because: "document type declarations")
    }

    @Test("billion laughs is refused")
    func billionLaughs() {
        var entities = "<!ENTITY lol \"lol\">"
        for i in 1...9 {
            let previous = i == 1 ? "lol" : "lol\(i - 1)"
            entities += "<!ENTITY lol\(i) \"" + String(repeating: "&\(previous);", count: 10) + "\">"
        }
        Self.rejects(
            "<?xml version=\"1.0\"?><!DOCTYPE Patient [\(entities)]><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"&lol9;\"/></Patient>",
            because: "document type declarations")
    }

    @Test("quadratic blowup is refused")
    func quadraticBlowup() {
        let big = String(repeating: "a", count: 100_000)
        let refs = String(repeating: "&a;", count: 10_000)
        Self.rejects(
            "<?xml version=\"1.0\"?><!DOCTYPE Patient [<!ENTITY a \"\(big)\">]><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"\(refs)\"/></Patient>",
            because: "document type declarations")
    }

    @Test("the refusal says where the declaration is")
    func doctypeLine() {
        do {
            _ = try FHIRXMLParser().parse("<?xml version=\"1.0\"?>\n<!-- hi -->\n<!DOCTYPE x>\n<Patient xmlns=\"http://hl7.org/fhir\"/>")
            Issue.record("accepted")
        } catch {
            #expect(error.line == 3)
        }
    }

    @Test("an undeclared entity is an error, not a lookup")
    func undeclaredEntity() {
        #expect(throws: FHIRCodecError.self) {
            try FHIRXMLParser().parse("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"&nope;\"/></Patient>")
        }
    }

    @Test("depth, element count and size limits")
    func limits() {
        var shallow = FHIRXMLParser.Limits()
        shallow.maxDepth = 2
        Self.rejects(
            "<Patient xmlns=\"http://hl7.org/fhir\"><name><period><start value=\"2020\"/></period></name></Patient>", limits: shallow,
            because: "deeper than 2")
        var few = FHIRXMLParser.Limits()
        few.maxElements = 3
        Self.rejects(
            "<Patient xmlns=\"http://hl7.org/fhir\"><name><given value=\"a\"/><given value=\"b\"/></name></Patient>", limits: few,
            because: "more than 3 elements")
        var small = FHIRXMLParser.Limits()
        small.maxBytes = 20
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"x\"/></Patient>", limits: small, because: "larger than 20 bytes")
    }

    @Test("malformed XML, wrong namespaces, unknown elements and text are errors with a line")
    func malformed() throws {
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"x\"></Patient>", because: "malformed XML")
        Self.rejects("<Patient><id value=\"x\"/></Patient>", because: "namespace")
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\"><shoeSize value=\"9\"/></Patient>", because: "unknown element 'shoeSize'")
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\">hello</Patient>", because: "text is not allowed")
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"yes\"/></Patient>", because: "'true' or 'false'")
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"f\"/><gender value=\"m\"/></Patient>", because: "at most once")
        Self.rejects("<Widget xmlns=\"http://hl7.org/fhir\"/>", because: "not a FHIR R4 resource type")
        do {
            _ = try FHIRXMLParser().parse("<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"x\"/>\n  <bogus/>\n</Patient>")
            Issue.record("accepted")
        } catch {
            #expect(error.line == 3)
            #expect(error.path == "Patient")
        }
    }

    @Test("comments are dropped; the div is kept intact")
    func commentsAndDiv() throws {
        let r = try FHIRXMLParser().parse(
            """
            <Patient xmlns="http://hl7.org/fhir"><!-- a comment --><id value="x"/>
            <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p class="a">A &amp; B <br/> "q"</p><!-- c --></div></text></Patient>
            """)
        #expect(r["id"] == .string("x"))
        #expect(
            r["text"]?.objectValue?["div"]
                == .string(#"<div xmlns="http://www.w3.org/1999/xhtml"><p class="a">A &amp; B <br/> &quot;q&quot;</p></div>"#))
    }
}

extension SecurityTests {
    /// Found by the FHIR fuzzer: an empty complex element was read from XML although FHIR (and our JSON reader)
    /// forbid it, so the JSON written could not be read back.
    @Test("empty elements are refused in XML as in JSON")
    func emptyElements() {
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\"><maritalStatus>\n </maritalStatus></Patient>", because: "a value or children")
        Self.rejects("<Patient xmlns=\"http://hl7.org/fhir\"><name/></Patient>", because: "a value or children")
        #expect(throws: FHIRCodecError.self) { try FHIRJSON().parse(#"{"resourceType":"Patient","name":[{}]}"#) }
    }
}

extension SecurityTests {
    /// Each XML level can add two JSON levels (an array and an object), so the JSON limit is twice the XML one:
    /// whatever the XML reader accepts, the JSON reader accepts once converted.
    @Test("the deepest XML accepted still reads back as JSON")
    func depthLimitsAgree() throws {
        let levels = FHIRXMLParser.Limits().maxDepth - 2
        var xml = "<Patient xmlns=\"http://hl7.org/fhir\">"
        for _ in 0..<levels { xml += "<extension url=\"http://x\">" }
        xml += "<valueString value=\"deep\"/>"
        for _ in 0..<levels { xml += "</extension>" }
        xml += "</Patient>"
        let resource = try FHIRXMLParser().parse(xml)
        let back = try FHIRJSON().parse(FHIRJSON().write(resource))
        #expect(back == resource)
        #expect(JSONParser.Limits().maxDepth >= 2 * FHIRXMLParser.Limits().maxDepth + 2)
    }
}
