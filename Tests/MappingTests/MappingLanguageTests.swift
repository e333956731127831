import FHIR
import Foundation
import HL7v2
import Testing

@testable import Mapping

/// The mapping language on small in-memory sets: what loads, what is refused (and where), and what a plan does.
@Suite("mapping language")
struct MappingLanguageTests {
    static func load(_ files: [String: String]) throws(MappingLoadError) -> DeclarativeMapper {
        DeclarativeMapper(plan: try MappingLoader.load(files.map { MappingLoader.File(path: $0.key, text: $0.value) }))
    }

    static func diagnostics(_ files: [String: String]) -> [MappingDiagnostic] {
        do {
            _ = try load(files)
            return []
        } catch {
            return error.diagnostics
        }
    }

    static func message(_ segments: String...) throws -> Message {
        try Message(parsing: segments.joined(separator: "\r") + "\r")
    }

    static let msh = "MSH|^~\\&|APP|FAC|LB|LB|20260102030405+0100||ADT^A01^ADT_A01|CTRL1|P|2.5.1"

    /// An ADT^A01 message map: the PID's Patient (lines 1–6), then `entries` (from line 7, indented as list items).
    static func adtMap(_ entries: String) -> String {
        """
        messages: [ADT^A01]
        resources:
          - name: patient
            segment: PID
            map: PID-Patient
            id: {value: [PID-3.1], required: true}

        """ + entries
    }

    /// A ClinicalDocument map: the recordTarget's Patient (lines 1–6), then `entries` (from line 7, as list items).
    static func documentMap(_ entries: String) -> String {
        """
        document: ClinicalDocument
        resources:
          - name: patient
            each: recordTarget/patientRole
            resource: Patient
            id: {value: [id/@extension], required: true}

        """ + entries
    }

    /// A small set: PID → Patient with an identifier datatype map, a vocabulary, conditions and constants.
    static let basic: [String: String] = [
        "vocabularies/sex.yaml": """
        vocabulary: sex
        system: http://hl7.org/fhir/administrative-gender
        codes: {M: male, F: female}
        unmapped: {default: unknown}
        """,
        "datatypes/cx.yaml": """
        datatype: CX
        name: CX-Identifier
        type: Identifier
        rules:
          - {from: .1, to: value}
          - {from: .4.2, to: system, format: "urn:oid:{}", when: ".4.3 == 'ISO'"}
        """,
        "segments/pid.yaml": """
        name: PID-Patient
        segment: PID
        resource: Patient
        rules:
          - {from: PID-3, to: "identifier[]", map: CX-Identifier}
          - {from: PID-5.1, to: "name[0].family"}
          - {from: PID-5.2, to: "name[0].given[]"}
          - {from: PID-5.3, to: "name[0].given[]"}
          - {from: PID-7, to: birthDate}
          - {from: PID-8, to: gender, vocabulary: sex}
          - {from: PID-13, to: "telecom[].value", also: {system: phone, use: home}}
          - {to: active, constant: "true", when: "PID-30 != 'Y'"}
          - {from: PID-29, to: deceasedDateTime}
          - {from: PID-30, to: deceasedBoolean}
        """,
        "messages/adt.yaml": """
        messages: [ADT^A01, ADT^A08]
        resources:
          - name: patient
            segment: PID
            map: PID-Patient
            required: true
            id: {value: [PID-3.1], namespace: [PID-3.4.1], required: true}
          - name: visit
            segment: PV1
            resource: Encounter
            when: PV1-19
            id: {value: [PV1-19.1]}
            rules:
              - {to: status, constant: in-progress}
              - {from: PV1-2, to: class.code}
            refs: {subject: patient}
        """,
    ]

    @Test("a set loads and maps: datatype maps per repetition, vocabularies, also:, conditions, times in MSH-7's zone, references")
    func basics() throws {
        let mapper = try Self.load(Self.basic)
        let m = try Self.message(
            Self.msh, "PID|1||A1^^^HOSP&1.2.3&ISO~B2^^^OTHER||Roe^Ann^Q||19700102|F|||||555-1234~555-9876||||||||||||||||200601021530",
            "PV1|1|I|||||||||||||||||V9")
        let resources = try mapper.map(m, context: MappingContext(sender: "APP^FAC"))
        #expect(resources.map { $0["resourceType"]?.stringValue } == ["Patient", "Encounter"])
        let patient = resources[0]
        let text = JSONWriter().string(.object(patient))
        #expect(text.contains(#"{"value":"A1","system":"urn:oid:1.2.3"},{"value":"B2"}"#), "\(text)")
        #expect(text.contains(#""name":[{"family":"Roe","given":["Ann","Q"]}]"#))
        #expect(patient["birthDate"] == .string("1970-01-02") && patient["gender"] == .string("female"))
        #expect(text.contains(#""telecom":[{"value":"555-1234","system":"phone","use":"home"},{"value":"555-9876","system":"phone","use":"home"}]"#))
        #expect(patient["active"] == .bool(true))
        // No offset on PID-29: MSH-7's (+0100) applies.
        #expect(patient["deceasedDateTime"] == .string("2006-01-02T15:30:00+01:00"))
        let encounter = resources[1]
        #expect(encounter["subject"] == .object(JSONObject([("reference", .string("Patient/\(patient["id"]!.stringValue!)"))])))
        #expect(encounter["class"]?.objectValue?["code"] == .string("I"))
        for r in resources { #expect(FHIRValidator().validate(r).filter { $0.severity == .error }.isEmpty, "\(r)") }
    }

    @Test("into: with element: each segment builds one new element of the resource (an NK1 → a Patient.contact); misuse is refused")
    func elementPerSegment() throws {
        var files = Self.basic
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - segment: NK1
                into: patient
                element: "contact[]"
                when: "NK1-2 or NK1-5"
                rules:
                  - {from: NK1-2.1, to: name.family}
                  - {from: NK1-5, to: "telecom[].value", also: {system: phone}}
                  - {from: NK1-15, to: gender, vocabulary: sex}
            """)
        let mapper = try Self.load(files)
        let m = try Self.message(Self.msh, "PID|1||A1", "NK1|1|Roe^Bob|||555-1~555-2||||||||||M", "NK1|2|||||||||||||||F", "NK1|3|Doe^Eve")
        let patient = try #require(try mapper.map(m, context: MappingContext(sender: "APP^FAC")).first)
        let text = JSONWriter().string(patient["contact"] ?? .null)
        #expect(
            text
                == #"[{"name":{"family":"Roe"},"telecom":[{"value":"555-1","system":"phone"},{"value":"555-2","system":"phone"}],"gender":"male"},{"name":{"family":"Doe"}}]"#,
            "one contact per NK1 with details; the NK1 with only a sex is left out: \(text)")
        #expect(FHIRValidator().validate(patient).filter { $0.severity == .error }.isEmpty)

        files["messages/adt.yaml"] = Self.adtMap(
            """
              - {segment: NK1, element: "contact[]", resource: Patient, rules: [{from: NK1-2.1, to: name.family}]}
              - {segment: NK1, into: patient, element: "contact", rules: [{from: NK1-2.1, to: name.family}]}
              - {segment: NK1, into: patient, element: "contact[]", map: NK1-Patient}
              - {segment: NK1, into: patient, element: "contact[]", rules: [{from: NK1-2.1, to: family}]}
            """)
        files["segments/nk1.yaml"] = "name: NK1-Patient\nsegment: NK1\nresource: Patient\nrules:\n  - {from: NK1-2.1, to: \"name[0].family\"}\n"
        let found = Self.diagnostics(files).map(\.description)
        #expect(found.contains { $0.contains("adt.yaml:7") && $0.contains("element: goes with into:") }, "\(found)")
        #expect(found.contains { $0.contains("adt.yaml:8") && $0.contains("contact repeats") }, "\(found)")
        #expect(
            found.contains { $0.contains("adt.yaml:9") && $0.contains("takes rules:, or map: of a segment map that builds an element") }, "\(found)")
        #expect(found.contains { $0.contains("adt.yaml:10") && $0.contains("no element 'family'") }, "\(found)")
    }

    @Test("include: a group's resources are compiled in place in each map that includes it; a bad include is refused where it is written")
    func groupsAreIncludedInPlace() throws {
        var files = Self.basic
        files["groups/visit.yaml"] = """
            # The visit, with refs resolved in the including map.
            group: visit
            resources:
              - name: visit
                segment: PV1
                resource: Encounter
                when: PV1-19
                id: {value: [PV1-19.1]}
                rules:
                  - {to: status, constant: in-progress}
                refs: {subject: patient}
              - {segment: PV2, into: visit, rules: [{from: PV2-3.2, to: "reasonCode[].text"}]}
            """
        files["messages/adt.yaml"] = Self.adtMap("  - include: visit\n")
        files["messages/orders.yaml"] =
            "messages: [ORM^O01]\nresources:\n  - {name: patient, segment: PID, map: PID-Patient, id: {value: [PID-3.1]}}\n  - include: visit\n"
        let mapper = try Self.load(files)
        #expect(mapper.plan.warnings.isEmpty, "\(mapper.plan.warnings)")
        var spare = files
        spare["groups/spare.yaml"] = "# Not included anywhere yet.\ngroup: spare\nresources: []\n"
        spare["segments/spare.yaml"] = "name: NK1-Spare\nsegment: NK1\nresource: Patient\nrules:\n  - {from: NK1-2.1, to: \"name[0].family\"}\n"
        let warnings = try Self.load(spare).plan.warnings.map(\.description)
        #expect(
            warnings == [
                "groups/spare.yaml:2:8: resource group 'spare' is not included by any message map: add '- include: spare' to one, or remove the file",
                "segments/spare.yaml:1:1: segment map 'NK1-Spare' is not used: no message map has a resource entry with 'map: NK1-Spare'",
            ], "\(warnings)")
        for type in ["ADT^A01", "ORM^O01"] {
            let m = try Self.message(
                Self.msh.replacingOccurrences(of: "ADT^A01^ADT_A01", with: type), "PID|1||A1", "PV1|1|I|||||||||||||||||V9", "PV2|||^Chest pain")
            let resources = try mapper.map(m, context: MappingContext(sender: "APP^FAC"))
            let visit = try #require(resources.first { $0["resourceType"]?.stringValue == "Encounter" }, "\(type)")
            let patient = try #require(resources.first { $0["resourceType"]?.stringValue == "Patient" })
            #expect(JSONWriter().string(visit["subject"] ?? .null) == #"{"reference":"Patient/\#(patient["id"]?.stringValue ?? "")"}"#)
            #expect(JSONWriter().string(visit["reasonCode"] ?? .null) == #"[{"text":"Chest pain"}]"#, "\(type)")
        }

        files["messages/adt.yaml"] = Self.adtMap("  - include: vistt\n  - {include: visit, when: PV1-2}\n")
        files["groups/nested.yaml"] = "group: nested\nresources:\n  - include: visit\n"
        files["groups/again.yaml"] = "group: visit\nresources: []\n"
        let found = Self.diagnostics(files).map(\.description)
        #expect(
            found.contains { $0.contains("adt.yaml:7") && $0.contains("no resource group named 'vistt'") && $0.contains("known: nested, visit") },
            "\(found)")
        #expect(found.contains { $0.contains("adt.yaml:8") && $0.contains("unknown key 'when' in an include") }, "\(found)")
        #expect(found.contains { $0.contains("nested.yaml:3") && $0.contains("cannot include another group") }, "\(found)")
        #expect(found.contains { $0.contains("group 'visit' is defined twice") }, "\(found)")
    }

    /// Message map entries for an order (ORC → ServiceRequest) and a result (OBX → Observation), each with an id.
    static let ordersAndResults = """
          - name: order
            segment: ORC
            resource: ServiceRequest
            id: {value: [ORC-2.1]}
            rules: [{to: status, constant: active}, {to: intent, constant: order}]
          - name: observation
            segment: OBX
            resource: Observation
            id: {value: [OBX-3.1]}
            rules: [{from: OBX-3.1, to: code.text}, {to: status, constant: final}]

        """

    @Test("into: [a, b] adds each segment to whichever was built nearest above it (an NTE after the OBR notes the order, after an OBX the result)")
    func intoNearestOfSeveral() throws {
        var files = Self.basic
        files["messages/adt.yaml"] = Self.adtMap(
            Self.ordersAndResults + """
                  - segment: NTE
                    into: [observation, order]
                    element: "note[]"
                    rules: [{from: NTE-3, to: text}]
                """)
        let mapper = try Self.load(files)
        let m = try Self.message(
            Self.msh, "PID|1||A1", "ORC|NW|O1", "NTE|1||about order 1", "OBX|1|ST|K1", "NTE|1||about K1", "NTE|2||more on K1",
            "ORC|NW|O2", "NTE|1||about order 2")
        let resources = try mapper.map(m, context: MappingContext(sender: "APP^FAC"))
        func notes(_ type: String, _ at: Int) -> String {
            JSONWriter().string(resources.filter { $0["resourceType"]?.stringValue == type }[at]["note"] ?? .null)
        }
        #expect(notes("ServiceRequest", 0) == #"[{"text":"about order 1"}]"#)
        #expect(notes("Observation", 0) == #"[{"text":"about K1"},{"text":"more on K1"}]"#)
        #expect(notes("ServiceRequest", 1) == #"[{"text":"about order 2"}]"#, "the second order's note is not the result's above it")

        files["messages/adt.yaml"] = Self.adtMap(
            """
              - {name: order, segment: ORC, resource: ServiceRequest, rules: [{to: intent, constant: order}]}
              - {name: report, segment: OBR, resource: DiagnosticReport, rules: [{to: status, constant: final}]}
              - {segment: NTE, into: [report, order], rules: [{from: NTE-3, to: "note[].text"}]}
              - {segment: NTE, into: [order, report], element: "note[]", rules: [{from: NTE-3, to: text}]}
              - {segment: NTE, into: [order, nothing], element: "note[]", rules: [{from: NTE-3, to: text}]}
            """)
        let found = Self.diagnostics(files).map(\.description)
        #expect(found.contains { $0.contains("adt.yaml:9") && $0.contains("lists a DiagnosticReport and a ServiceRequest") }, "\(found)")
        #expect(found.contains { $0.contains("adt.yaml:10") && $0.contains("not the same element in DiagnosticReport") }, "\(found)")
        #expect(found.contains { $0.contains("adt.yaml:11") && $0.contains("'nothing' names no resource") }, "\(found)")
    }

    @Test("a segment map with type: builds an element (NTE → Annotation) that entries append with element:; misuse is refused where it is written")
    func elementMaps() throws {
        var files = Self.basic
        files["segments/nte.yaml"] = """
            name: NTE-Annotation
            segment: NTE
            type: Annotation
            rules:
              - {from: NTE-3, to: text}
              - {from: NTE-6, to: time}
            """
        files["messages/adt.yaml"] = Self.adtMap(
            Self.ordersAndResults + """
                  - segment: NTE
                    into: [observation, order]
                    element: "note[]"
                    map: NTE-Annotation
                    rules: [{from: NTE-4, to: authorString}]
                """)
        let mapper = try Self.load(files)
        #expect(mapper.plan.warnings.isEmpty, "\(mapper.plan.warnings)")
        let m = try Self.message(
            Self.msh, "PID|1||A1", "ORC|NW|O1", "NTE|1||about order 1|Dr A|", "OBX|1|ST|K1", "NTE|1||about K1|||20240102")
        let resources = try mapper.map(m, context: MappingContext(sender: "APP^FAC"))
        func notes(_ type: String) -> String {
            JSONWriter().string(resources.first { $0["resourceType"]?.stringValue == type }?["note"] ?? .null)
        }
        // The map's rules, then the entry's own, into one new Annotation per NTE.
        #expect(notes("ServiceRequest") == #"[{"text":"about order 1","authorString":"Dr A"}]"#)
        #expect(notes("Observation") == #"[{"text":"about K1","time":"2024-01-02"}]"#)

        // Misuse: an element map as a resource, or for an element of another type; a resource's segment map with
        // element:; a type that is no datatype with parts.
        func problems(_ entry: String, extra: [String: String] = [:]) -> [String] {
            var f = files.merging(extra) { $1 }
            f["messages/adt.yaml"] = Self.adtMap(
                """
                  - {name: observation, segment: OBX, resource: Observation, rules: [{to: status, constant: final}]}
                """ + entry)
            return Self.diagnostics(f).map(\.description)
        }
        #expect(
            problems("\n  - {name: note, segment: NTE, map: NTE-Annotation}")
                == ["messages/adt.yaml:8:37: 'NTE-Annotation' builds Annotation elements, not a resource: use it with into: and element: (note[])"])
        #expect(
            problems("\n  - {segment: NTE, into: observation, element: \"component[]\", map: NTE-Annotation}")
                == ["messages/adt.yaml:8:68: 'NTE-Annotation' builds Annotation elements; element: 'component[]' is Observation.component"])
        #expect(
            problems(
                "\n  - {segment: PID, into: patient, element: \"contact[]\", map: PID-Patient}"
            ) == [
                "messages/adt.yaml:8:44: element: takes rules:, or map: of a segment map that builds an element (type: Annotation); this one's paths start at a resource"
            ])
        #expect(
            problems("", extra: ["segments/nte.yaml": "name: NTE-X\nsegment: NTE\ntype: string\nrules: []\n"])
                == ["segments/nte.yaml:3:7: 'string' is not a FHIR R4 datatype with parts of its own (Annotation, ContactPoint…)"])
        #expect(
            problems("", extra: ["segments/nte.yaml": "name: NTE-X\nsegment: NTE\ntype: Annotation\nresource: Observation\nrules: []\n"])
                == ["segments/nte.yaml:3:7: a segment map builds a resource (resource:) or an element of a datatype (type:), not both"])
        #expect(
            problems("", extra: ["entries/x.yaml": "name: X\nelement: note\ntype: Annotation\nresource: Observation\nrules: []\n"])
                == ["entries/x.yaml:3:7: an entry map (element:) builds a resource: type: belongs in a segment map"])
    }
    @Test("within: keeps an into: segment in its group: the nearest above it in the group, else below it, never another group's")
    func intoWithinGroup() throws {
        var files = Self.basic
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - name: order
                segment: ORC
                resource: ServiceRequest
                id: {value: [ORC-2.1]}
                rules: [{to: intent, constant: order}]
              - name: original
                segment: RXO
                resource: MedicationRequest
                id: {value: [RXO-1.1]}
                rules: [{to: intent, constant: original-order}]
              - name: medication
                segment: RXE
                resource: MedicationRequest
                id: {value: [RXE-2.1]}
                rules: [{to: intent, constant: order}]
              - {segment: TQ1, into: [medication, original], within: order, rules: [{from: TQ1-11, to: "note[].text"}]}
            """)
        let mapper = try Self.load(files)
        // Order 1: a TQ1 after its ORC (the RXO below it), one after its RXE. Order 2: a TQ1 after its ORC, which
        // must not time order 1's RXE above it, and has no RXO: its RXE below it.
        let m = try Self.message(
            Self.msh, "PID|1||A1", "ORC|NW|O1", "TQ1|1||||||||||placed 1", "RXO|D1", "RXE||E1", "TQ1|2||||||||||encoded 1",
            "ORC|NW|O2", "TQ1|1||||||||||placed 2", "RXE||E2", "ORC|NW|O3", "TQ1|1||||||||||alone")
        let resources = try mapper.map(m, context: MappingContext(sender: "APP^FAC"))
        let requests = resources.filter { $0["resourceType"]?.stringValue == "MedicationRequest" }
        func notes(_ r: JSONObject) -> String { JSONWriter().string(r["note"] ?? .null) }
        #expect(requests.count == 3)
        #expect(notes(requests[0]) == #"[{"text":"placed 1"}]"#, "the RXO below the TQ1 in its group")
        #expect(notes(requests[1]) == #"[{"text":"encoded 1"}]"#, "the RXE above it")
        #expect(notes(requests[2]) == #"[{"text":"placed 2"}]"#, "order 2's own RXE, not order 1's above the ORC")
        #expect(!resources.contains { JSONWriter().string(.object($0)).contains("alone") }, "order 3 has no medication: the TQ1 adds to none")

        // refs: of an into: segment name what is built above it, inside the element it adds (the diagnosis's Condition).
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - {name: encounter, segment: PV1, resource: Encounter, id: {value: [PV1-19.1]}, rules: [{to: status, constant: unknown}]}
              - {name: condition, segment: DG1, resource: Condition, id: {value: [DG1-3.1]}, rules: [{from: DG1-3.1, to: code.text}]}
              - {segment: DG1, into: encounter, element: "diagnosis[]", rules: [{from: DG1-15, to: rank}], refs: {condition: condition}}
            """)
        let visit = try Self.load(files).map(
            try Self.message(Self.msh, "PID|1||A1", "PV1|1|I|||||||||||||||||V1", "DG1|1||X1" + String(repeating: "|", count: 12) + "2", "DG1|2||X2"),
            context: MappingContext(sender: "APP^FAC"))
        let conditionIDs = visit.filter { $0["resourceType"]?.stringValue == "Condition" }.compactMap { $0["id"]?.stringValue }
        #expect(
            JSONWriter().string(visit.first { $0["resourceType"]?.stringValue == "Encounter" }?["diagnosis"] ?? .null)
                == #"[{"rank":2,"condition":{"reference":"Condition/\#(conditionIDs[0])"}},{"condition":{"reference":"Condition/\#(conditionIDs[1])"}}]"#
        )

        files["messages/adt.yaml"] = Self.adtMap(
            """
              - {name: order, segment: ORC, resource: ServiceRequest, rules: [{to: intent, constant: order}]}
              - {segment: TQ1, into: order, within: visit, rules: [{from: TQ1-11, to: "note[].text"}]}
              - {name: timing, segment: TQ1, resource: ServiceRequest, within: order, rules: [{to: intent, constant: order}]}
            """)
        let found = Self.diagnostics(files).map(\.description)
        #expect(found.contains { $0.contains("adt.yaml:8") && $0.contains("within: 'visit' names no resource") }, "\(found)")
        #expect(found.contains { $0.contains("adt.yaml:9") && $0.contains("within: goes with into:") }, "\(found)")
    }

    @Test("when: FIELD holds for a field with any part (a code only in the alternate triplet), not for HL7's null or bare delimiters")
    func presenceOfAField() throws {
        var files = Self.basic
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - name: observation
                segment: OBX
                resource: Observation
                when: OBX-3
                id: {value: [OBX-1]}
                rules: [{from: OBX-3.5, to: code.text}, {from: OBX-3.1, to: code.text}, {to: status, constant: final}]
            """)
        let mapper = try Self.load(files)
        let m = try Self.message(Self.msh, "PID|1||A1", "OBX|1|ST|^^^ALT1^Alternate only^LN", "OBX|2|ST|\"\"", "OBX|3|ST|^^", "OBX|4|ST|K4")
        let codes = try mapper.map(m, context: MappingContext(sender: "APP^FAC")).filter { $0["resourceType"]?.stringValue == "Observation" }
            .map { $0["code"]?.objectValue?["text"]?.stringValue ?? "" }
        #expect(codes == ["Alternate only", "K4"], "\(codes)")
    }

    @Test("[n] is a slot: the rules of one slot fill one element, whichever slots before it are empty (a CWE with only its alternate code)")
    func slotsFillOneElement() throws {
        var files = Self.basic
        files["datatypes/cwe.yaml"] = """
            datatype: CWE
            name: CWE-CodeableConcept
            type: CodeableConcept
            rules:
              - {from: .1, to: "coding[0].code"}
              - {from: .2, to: "coding[0].display"}
              - {from: .4, to: "coding[1].code"}
              - {from: .5, to: "coding[1].display"}
              - {to: "coding[1].system", constant: "http://loinc.org", when: ".6 == 'LN'"}
              - {from: .10, to: "coding[2].code"}
              - {from: .11, to: "coding[2].display"}
            """
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - name: observation
                segment: OBX
                resource: Observation
                id: {value: [OBX-1]}
                rules:
                  - {to: status, constant: final}
                  - {from: OBX-3, to: code, map: CWE-CodeableConcept}
                  - {from: OBX-5.1, to: "category[2].text"}
                  - {from: OBX-5.2, to: "category[2].coding[].code"}
            """)
        let mapper = try Self.load(files)
        let m = try Self.message(
            Self.msh, "PID|1||A1", "OBX|1|CWE|^^^ALT1^Alternate only^LN|", "OBX|2|CWE|P^Primary^^^^^^^^T3^Third|",
            "OBX|3|CWE|P^Primary^^A^Alt^LN^^^^T3^Third||Cat^C1")
        let observations = try mapper.map(m, context: MappingContext(sender: "APP^FAC")).filter { $0["resourceType"]?.stringValue == "Observation" }
        let writer = JSONWriter()
        #expect(
            observations.map { writer.string($0["code"] ?? .null) } == [
                #"{"coding":[{"code":"ALT1","display":"Alternate only","system":"http://loinc.org"}]}"#,
                #"{"coding":[{"code":"P","display":"Primary"},{"code":"T3","display":"Third"}]}"#,
                #"{"coding":[{"code":"P","display":"Primary"},{"code":"A","display":"Alt","system":"http://loinc.org"},{"code":"T3","display":"Third"}]}"#,
            ])
        // A slot in the resource's own rules, past two empty ones, nested lists within it.
        #expect(writer.string(observations[2]["category"] ?? .null) == #"[{"text":"Cat","coding":[{"code":"C1"}]}]"#)
        for r in observations { #expect(FHIRValidator().validate(r).filter { $0.severity == .error }.isEmpty, "\(r)") }
    }

    @Test("default: true writes only what nothing else wrote: after every segment that adds to the resource, and last in a datatype map")
    func defaultsComeLast() throws {
        var files = Self.basic
        files["datatypes/cx.yaml"] = """
            datatype: CX
            name: CX-Identifier
            type: Identifier
            rules:
              - {to: use, constant: usual, default: true}
              - {from: .1, to: value}
              - {to: use, constant: official, when: ".5 == 'MR'"}
            """
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - name: visit
                segment: PV1
                resource: Encounter
                id: {value: [PV1-19]}
                rules:
                  - {to: status, constant: in-progress, default: true}
                  - {from: PV1-2, to: class.code}
              - segment: PV2
                into: visit
                rules: [{to: status, constant: finished, when: "PV2-16 == 'Y'"}]
            """)
        let mapper = try Self.load(files)
        func mapped(_ segments: String...) throws -> [JSONObject] {
            try mapper.map(try Message(parsing: ([Self.msh] + segments).joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
        }
        let finished = try mapped("PID|1||A1^^^^MR~B2", "PV1|1|I|||||||||||||||||V1", "PV2|" + String(repeating: "|", count: 15) + "Y")
        #expect(finished[1]["status"] == .string("finished"), "the PV2 after the PV1 sets it: the PV1's default gives way")
        let patient = JSONWriter().string(finished[0]["identifier"] ?? .null)
        #expect(patient == #"[{"value":"A1","use":"official"},{"value":"B2","use":"usual"}]"#, "\(patient)")
        let plain = try mapped("PID|1||A1", "PV1|1|I|||||||||||||||||V1")
        #expect(plain[1]["status"] == .string("in-progress"), "nothing else wrote it: the default")
        #expect(
            Self.diagnostics([
                "datatypes/cx.yaml": "datatype: CX\nname: X\ntype: Identifier\nrules:\n  - {to: use, constant: usual, default: maybe}\n"
            ])
            .map(\.description).contains { $0.contains("datatypes/cx.yaml:5") }, "default: takes true or false")
    }

    @Test("when: PATH length > N compares a value's length; _birthDate takes a primitive's extensions (the birth time beside the date)")
    func lengthAndPrimitiveExtensions() throws {
        var files = Self.basic
        files["segments/pid.yaml"] =
            files["segments/pid.yaml"]! + """

                  - {from: PID-7, extension: "http://hl7.org/fhir/StructureDefinition/patient-birthTime", on: _birthDate, to: valueDateTime, when: "PID-7 length > 8"}
                """
        let mapper = try Self.load(files)
        func birth(_ pid7: String) throws -> String {
            let m = try Self.message(Self.msh, "PID|1||A1||||\(pid7)")
            let patient = try mapper.map(m, context: MappingContext(sender: "APP^FAC")).first { $0["resourceType"]?.stringValue == "Patient" }
            return JSONWriter().string(.object(JSONObject(patient?.members.filter { $0.key.hasSuffix("irthDate") } ?? [])))
        }
        #expect(try birth("19880818") == #"{"birthDate":"1988-08-18"}"#)
        #expect(
            try birth("198808181126+0215")
                == #"{"birthDate":"1988-08-18","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1988-08-18T11:26:00+02:15"}]}}"#
        )

        files["segments/pid.yaml"] =
            files["segments/pid.yaml"]! + """

                  - {from: PID-8, to: gender, when: "PID-8 length > X"}
                  - {from: PID-5.1, to: "_name.extension[].url"}
                """
        let found = Self.diagnostics(files).map(\.description)
        #expect(found.contains { $0.contains("'length' compares with a number") }, "\(found)")
        #expect(found.contains { $0.contains("Patient has no element '_name'") }, "\(found)")
    }

    @Test("unless: SEGMENT leaves a segment out when one follows it before the next of its type (an OBR's specimen when an SPM has it)")
    func unlessFollowedBy() throws {
        var files = Self.basic
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - name: specimen
                segment: SPM
                resource: Specimen
                id: {value: [SPM-2.1]}
                rules: [{from: SPM-4.2, to: type.text}]
              - name: specimen
                segment: OBR
                resource: Specimen
                unless: SPM
                id: {value: [OBR-2.1]}
                rules: [{from: OBR-15.1, to: type.text}]
              - name: observation
                segment: OBX
                resource: Observation
                id: {value: [OBX-3.1]}
                rules: [{from: OBX-3.1, to: code.text}, {to: status, constant: final}]
                refs: {specimen: specimen}
            """)
        let mapper = try Self.load(files)
        let m = try Self.message(
            Self.msh, "PID|1||A1", "OBR|1|O1" + String(repeating: "|", count: 13) + "BLD", "OBX|1|ST|K1",
            "OBR|2|O2" + String(repeating: "|", count: 13) + "UR",
            "OBX|1|ST|K2", "SPM|1|S2||^Urine", "OBX|2|ST|K3", "OBR|3|O3" + String(repeating: "|", count: 13) + "SER")
        let resources = try mapper.map(m, context: MappingContext(sender: "APP^FAC"))
        let specimens = resources.filter { $0["resourceType"]?.stringValue == "Specimen" }
        let types = specimens.map { $0["type"]?.objectValue?["text"]?.stringValue ?? "" }
        #expect(types.sorted() == ["BLD", "SER", "Urine"], "the second OBR's specimen is the SPM's: \(types)")
        // Two definitions of one name: "the nearest before" is by position, whichever definition built it.
        func specimen(of code: String) -> String {
            let observation = resources.first { $0["code"]?.objectValue?["text"]?.stringValue == code }
            let reference = observation?["specimen"]?.objectValue?["reference"]?.stringValue
            let target = specimens.first { "Specimen/\($0["id"]?.stringValue ?? "")" == reference }
            return target?["type"]?.objectValue?["text"]?.stringValue ?? "none"
        }
        #expect([specimen(of: "K1"), specimen(of: "K3")] == ["BLD", "Urine"])

        files["messages/adt.yaml"] = Self.adtMap(
            """
              - {name: specimen, segment: OBR, resource: Specimen, unless: spm, rules: [{from: OBR-15.1, to: type.text}]}
            """)
        let found = Self.diagnostics(files).map(\.description)
        #expect(found.contains { $0.contains("adt.yaml:7") && $0.contains("'spm' is not a segment name") }, "\(found)")
    }

    @Test(
        "follows: SEGMENTS takes a segment only in the group those open (a ROL after PID, not after PV1 or PR1), past ARV and NTE; an id may be a constant per scope; merge: true adds segments to one resource"
    )
    func followsAndConstantIDs() throws {
        var files = Self.basic
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - name: visit
                segment: PV1
                resource: Encounter
                rules: [{to: status, constant: finished}, {to: class.code, constant: IMP}]
              - name: role
                segment: ROL
                resource: PractitionerRole
                rules: [{from: ROL-4.1, to: "identifier[].value"}]
              - segment: ROL
                into: patient
                follows: [PID, PD1]
                refs: {"generalPractitioner[]": role}
              - segment: ROL
                into: visit
                follows: PV1
                element: "participant[]"
                refs: {individual: role}
              - name: flag
                segment: PD1
                resource: Flag
                id: {constant: the-flag, scope: patient}
                rules: [{to: status, constant: active}, {from: PD1-7.1, to: code.text}]
                refs: {subject: patient}
            """)
        let mapper = try Self.load(files)
        func mapped(_ pd1: String) throws -> [JSONObject] {
            let m = try Self.message(
                Self.msh, "PID|1||A1", "PD1|||||||\(pd1)", "ARV|1", "ROL|1|AD|PP|D1", "NTE|1||note", "ROL|2|AD|PP|D2", "PV1|1|I", "ROL|3|AD|AT|D3",
                "PR1|1", "ROL|4|AD|SP|D4")
            return try mapper.map(m, context: MappingContext(sender: "APP^FAC"))
        }
        let resources = try mapped("Y")
        func role(_ reference: JSONValue?) -> String {
            let id = reference?.objectValue?["reference"]?.stringValue?.split(separator: "/").last.map(String.init)
            let target = resources.first { $0["resourceType"] == .string("PractitionerRole") && $0["id"]?.stringValue == id }
            return target?["identifier"]?.arrayValue?.first?.objectValue?["value"]?.stringValue ?? "none"
        }
        let patient = try #require(resources.first { $0["resourceType"] == .string("Patient") })
        let visit = try #require(resources.first { $0["resourceType"] == .string("Encounter") })
        #expect((patient["generalPractitioner"]?.arrayValue ?? []).map(role) == ["D1", "D2"])
        #expect((visit["participant"]?.arrayValue ?? []).map { role($0.objectValue?["individual"]) } == ["D3"])
        #expect(resources.filter { $0["resourceType"] == .string("PractitionerRole") }.count == 4)
        // One Flag per patient, whatever it says: a later message updates the same one.
        let flags = try [resources, mapped("N")].map { r in try #require(r.first { $0["resourceType"] == .string("Flag") }) }
        #expect(flags[0]["id"] == flags[1]["id"] && flags[0]["code"] != flags[1]["code"])

        files["messages/adt.yaml"] = Self.adtMap(
            """
              - {segment: ROL, into: patient, follows: [PID, ROL], rules: [{from: ROL-4.1, to: "identifier[].value"}]}
              - {name: flag, segment: PD1, resource: Flag, id: {constant: x, value: [PD1-7.1]}, rules: [{to: status, constant: active}]}
            """)
        #expect(
            Self.diagnostics(files).map(\.description).sorted() == [
                "messages/adt.yaml:7:44: follows: names the segments above a ROL other than ROLs; drop ROL",
                "messages/adt.yaml:8:63: an id takes value: (paths) or constant:, not both",
            ])
        // merge: true: segments giving the same id add to one resource; without an id there is nothing to merge by.
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - name: team
                segment: ROL
                resource: CareTeam
                id: {constant: team, scope: patient}
                merge: true
                rules: [{from: ROL-4.1, to: "participant[].member.display"}]
            """)
        let teams = try Self.load(files).map(
            try Self.message(Self.msh, "PID|1||A1", "ROL|1|AD|PP|D1", "ROL|2|AD|AT|D2"), context: MappingContext(sender: "APP^FAC")
        ).filter { $0["resourceType"] == .string("CareTeam") }
        #expect(
            teams.count == 1 && JSONWriter().string(teams[0]["participant"] ?? .null) == #"[{"member":{"display":"D1"}},{"member":{"display":"D2"}}]"#
        )
        files["messages/adt.yaml"] = Self.adtMap("  - {name: team, segment: ROL, resource: CareTeam, merge: true}\n")
        #expect(Self.diagnostics(files).map(\.description).first?.contains("merge: true goes with id:") == true)
        files["tables/t.yaml"] = "table: t\nresources:\n  - {name: p, resource: Patient, follows: PID, rules: [{from: id, to: id}]}\n"
        files["messages/adt.yaml"] = Self.adtMap("")
        #expect(Self.diagnostics(files).map(\.description) == ["tables/t.yaml:3:43: follows: names segments; it belongs in a message map"])
    }

    @Test("rules: inside a rule build an element per repetition from the value and the segment; 'repeats' tells a repeating field")
    func elementRulesPerRepetition() throws {
        var files = Self.basic
        files["segments/obx.yaml"] = """
            name: OBX-Observation
            segment: OBX
            resource: Observation
            rules:
              - {from: OBX-3.1, to: code.text}
              - {from: OBX-5, to: valueQuantity.value, when: "not OBX-5 repeats"}
              - from: OBX-5
                to: "component[]"
                when: "OBX-5 repeats"
                rules:
                  - {from: OBX-3.1, to: code.text}
                  - {from: ., to: valueQuantity.value}
                  - {from: OBX-6.1, to: valueQuantity.unit}
                  - {from: .2, to: valueQuantity.comparator, when: ".2 == '<'"}
              - {to: status, constant: final}
            """
        files["messages/adt.yaml"] = Self.adtMap(
            """
              - {name: observation, segment: OBX, map: OBX-Observation, id: {value: [OBX-3.1]}}
            """)
        let mapper = try Self.load(files)
        let m = try Self.message(Self.msh, "PID|1||A1", "OBX|1|NM|BP||120~80|mm[Hg]", "OBX|2|NM|HR||60|/min")
        let result = try mapper.mapWithCoverage(m, context: MappingContext(sender: "APP^FAC"))
        let observations = result.resources.filter { $0["resourceType"]?.stringValue == "Observation" }
        #expect(observations.count == 2)
        let bp = JSONWriter().string(.object(observations[0]))
        #expect(
            bp.contains(
                #""component":[{"code":{"text":"BP"},"valueQuantity":{"value":120,"unit":"mm[Hg]"}},{"code":{"text":"BP"},"valueQuantity":{"value":80,"unit":"mm[Hg]"}}]"#
            ), "\(bp)")
        #expect(observations[0]["valueQuantity"] == nil, "a repeating value is in the components, not the observation's own value")
        #expect(JSONWriter().string(observations[1]["valueQuantity"] ?? .null) == #"{"value":60}"#)
        #expect(observations[1]["component"] == nil)
        let coverage = try #require(result.coverage)
        #expect(!coverage.unmapped.contains("OBX-5[2]"), "the second repetition was read: \(coverage.unmapped)")

        files["segments/obx.yaml"] = """
            name: OBX-Observation
            segment: OBX
            resource: Observation
            rules:
              - {from: OBX-5, to: "component[]", rules: [{from: PID-3, to: code.text}]}
              - {to: "component[]", rules: [{to: code.text, constant: x}]}
              - {from: OBX-5, to: "note[].text", rules: [{from: ., to: text}]}
              - {from: OBX-5, to: valueString, when: "OBX-5.1 repeats"}
            """
        let found = Self.diagnostics(files).map(\.description)
        #expect(found.contains { $0.contains("obx.yaml:5") && $0.contains("reads segment PID") }, "\(found)")
        #expect(found.contains { $0.contains("obx.yaml:6") && $0.contains("needs from:") }, "\(found)")
        #expect(
            found.contains { $0.contains("obx.yaml:7") && $0.contains("is a markdown") || $0.contains("obx.yaml:7") && $0.contains("is a string") },
            "\(found)")
        #expect(found.contains { $0.contains("obx.yaml:8") && $0.contains("'repeats' asks about a field") }, "\(found)")
    }

    @Test("ids come from identifiers: a resend and a later update address the same resources; another authority does not")
    func stableIDs() throws {
        let mapper = try Self.load(Self.basic)
        func ids(_ msh: String, _ pid: String) throws -> [String] {
            try mapper.map(try Self.message(msh, pid, "PV1|1|I|||||||||||||||||V9"), context: MappingContext(sender: "APP^FAC")).map {
                $0["id"]!.stringValue!
            }
        }
        let first = try ids(Self.msh, "PID|1||A1^^^HOSP||Roe^Ann")
        #expect(try ids(Self.msh, "PID|1||A1^^^HOSP||Roe^Ann") == first)
        let update = Self.msh.replacingOccurrences(of: "ADT^A01^ADT_A01|CTRL1", with: "ADT^A08^ADT_A01|CTRL2")
        #expect(try ids(update, "PID|1||A1^^^HOSP||Roe-Smith^Ann") == first, "an A08 for the same patient updates, not duplicates")
        #expect(try ids(Self.msh, "PID|1||A1^^^CLINIC||Roe^Ann")[0] != first[0])
        #expect(first[0] == StableID.make(type: "Patient", namespace: "HOSP", value: "A1"))
    }

    @Test("what a message needs and the set cannot give is a MappingError naming the place")
    func mappingErrors() throws {
        let mapper = try Self.load(Self.basic)
        let noID = try Self.message(Self.msh, "PID|1||^^^HOSP||Roe^Ann")
        #expect(throws: MappingError(.missingRequired, location: "PID-3.1", reason: "the Patient has no identifier to derive a stable id from")) {
            try mapper.map(noID, context: MappingContext(sender: "x"))
        }
        let orm = try Self.message(Self.msh.replacingOccurrences(of: "ADT^A01^ADT_A01", with: "ORM^O01^ORM_O01"), "PID|1||A1")
        do {
            _ = try mapper.map(orm, context: MappingContext(sender: "x"))
            Issue.record("ORM^O01 has no map")
        } catch {
            #expect(error.code == .unmappedType && error.location == "MSH-9" && error.reason.contains("ORM^O01"))
        }
        let noPID = try Self.message(Self.msh, "PV1|1|I")
        #expect(throws: MappingError.self) { try mapper.map(noPID, context: MappingContext(sender: "x")) }
    }

    @Test("every problem in a set is reported, each at its file, line and column")
    func diagnosticsPointAtTheFile() {
        var files = Self.basic
        files["segments/pid.yaml"] = """
            name: PID-Patient
            segment: PID
            resource: Patient
            rules:
              - {from: PID-3, to: "identifier[]", map: CX-Identfier}
              - {from: PID-5.1, to: "name[0].famly"}
              - {from: PID-x, to: birthDate}
              - {from: PID-8, to: gender, vocabulary: sex, colour: red}
              - {from: PID-11, to: address}
            """
        files["broken.yaml"] = "messages: [ADT^A01\nresources: ["
        let found = Self.diagnostics(files).map(\.description)
        #expect(found.contains { $0.hasPrefix("segments/pid.yaml:5:44: no datatype map named 'CX-Identfier'") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("segments/pid.yaml:6:25: HumanName has no element 'famly'") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("segments/pid.yaml:7:12: 'PID-x' is not a field path") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("segments/pid.yaml:8:48: unknown key 'colour' in a rule") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("segments/pid.yaml:9:24: Patient.address repeats: write address[]") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("broken.yaml:") && $0.contains("YAML syntax") }, "\(found)")
        #expect(found.count == 6)
    }

    @Test("types are checked when loading: a map making another type, a Reference target for a value, a rule with nothing to write")
    func typeChecks() {
        var files = Self.basic
        files["segments/extra.yaml"] = """
            name: PV1-Encounter
            segment: PV1
            resource: Encounter
            rules:
              - {from: PV1-19, to: class, map: CX-Identifier}
              - {from: PV1-2, to: subject}
              - {to: status}
              - {from: PID-3, to: status}
            """
        let found = Self.diagnostics(files).map(\.description)
        #expect(
            found.contains { $0.contains("extra.yaml:5") && $0.contains("'CX-Identifier' makes a Identifier, but class is a Coding") }, "\(found)")
        #expect(found.contains { $0.contains("extra.yaml:6") && $0.contains("subject is a Reference") }, "\(found)")
        #expect(found.contains { $0.contains("extra.yaml:7") && $0.contains("needs from:, constant: or format:") }, "\(found)")
        #expect(found.contains { $0.contains("extra.yaml:8") && $0.contains("a map of PV1 reads PV1 fields") }, "\(found)")
    }

    @Test("values a FHIR element cannot hold are left out, not written: bad dates, codes outside a required binding, a second value[x]")
    func valuesThatDoNotFit() throws {
        let files: [String: String] = [
            "m.yaml": """
            messages: [ORU^R01]
            resources:
              - name: obs
                segment: OBX
                resource: Observation
                id: {value: [OBX-3.1], with: [OBX-4]}
                rules:
                  - {from: OBX-3.1, to: code.text}
                  - {to: status, constant: final}
                  - {from: OBX-11, to: status}
                  - {from: OBX-5, to: valueQuantity.value, when: "OBX-2 == 'NM'"}
                  - {from: OBX-5, to: valueString}
                  - {from: OBX-14, to: effectiveDateTime}
            """
        ]
        let mapper = try Self.load(files)
        let m = try Self.message(
            Self.msh.replacingOccurrences(of: "ADT^A01^ADT_A01", with: "ORU^R01^ORU_R01"), "OBX|1|NM|GLU||5.4||||||Q|||20261399",
            "OBX|2|NM|GLU|2|high||||||F")
        let r = try mapper.map(m, context: MappingContext(sender: "x"))
        #expect(r.count == 2)
        #expect(r[0]["status"] == .string("final"), "Q is not an observation-status code, so the constant stays")
        #expect(r[0]["valueQuantity"]?.objectValue?["value"] == .number("5.4") && r[0]["valueString"] == nil, "one value[x]")
        #expect(r[0]["effectiveDateTime"] == nil, "month 13 is no date")
        #expect(r[1]["valueString"] == .string("high") && r[1]["valueQuantity"] == nil)
        #expect(r[0]["id"] != r[1]["id"])
    }

    @Test(
        "the coverage report lists what no rule read: unread fields, components, repetitions, and whole segments no resource is built from"
    )
    func coverage() throws {
        let mapper = try Self.load(Self.basic)
        let m = try Self.message(Self.msh, "PID|1||A1^^^HOSP||Roe^Ann~Doe^Annie||19700102|F||2106-3", "ZPI|1|secret", "PV1|1|I")
        let result = try mapper.mapWithCoverage(m, context: MappingContext(sender: "x"))
        let report = try #require(result.coverage)
        // PV1-2 too: the visit is built only with a PV1-19, so nothing read its class. The rules read PID-5's first
        // name only: the second is a value of its own, not mapped.
        #expect(
            report.unmapped == ["MSH-5", "MSH-6", "MSH-11", "MSH-12", "PID-1", "PID-5[2]", "PID-5[2].2", "PID-10", "PV1-1", "PV1-2", "ZPI"],
            "\(report.unmapped)")
        #expect(report.values > report.mappedValues && report.mappedValues > 0)
    }

    @Test("resource-making datatype maps (XCN → Practitioner) make each resource once and refer to it; map lists take the first that gives")
    func madeResources() throws {
        let files: [String: String] = [
            "xcn.yaml": """
            datatype: XCN
            name: XCN-Practitioner
            type: Practitioner
            id: {value: [.1], namespace: [.9.1]}
            rules:
              - {from: .1, to: "identifier[0].value"}
              - {from: .2.1, to: "name[0].family"}
            """,
            "xcn-name.yaml": """
            datatype: XCN
            name: XCN-Practitioner-by-name
            type: Practitioner
            rules:
              - {from: .2.1, to: "name[0].family"}
              - {to: active, constant: "true"}
            """,
            "m.yaml": """
            messages: [ADT^A01]
            resources:
              - name: visit
                segment: PV1
                resource: Encounter
                rules:
                  - {to: status, constant: in-progress}
                  - {to: class.code, constant: IMP}
                  - {from: PV1-7, to: "participant[].individual", map: [XCN-Practitioner, XCN-Practitioner-by-name], also: {"type[0].text": attender}}
                  - {from: PV1-8, to: "participant[].individual", map: XCN-Practitioner, also: {"type[0].text": referrer}}
                  - {from: PV1-9, to: "participant[].individual", map: XCN-Practitioner}
            """,
        ]
        let mapper = try Self.load(files)
        let m = try Self.message(Self.msh, "PV1|1|I||||||D1^Who^^^^^^^HOSP|D1^Who^^^^^^^HOSP|")
        let r = try mapper.map(m, context: MappingContext(sender: "x"))
        #expect(r.map { $0["resourceType"]!.stringValue! } == ["Encounter", "Practitioner"], "the same doctor twice is one Practitioner")
        let participants = try #require(r[0]["participant"]?.arrayValue)
        #expect(participants.count == 2, "an empty PV1-9 makes no participant")
        #expect(participants[0].objectValue?["individual"] == participants[1].objectValue?["individual"])
        // The second doctor is the first one's resource again, and PV1-8 counts as read all the same.
        let covered = try #require(try mapper.mapWithCoverage(m, context: MappingContext(sender: "x")).coverage)
        #expect(!covered.unmapped.contains { $0.hasPrefix("PV1-7") || $0.hasPrefix("PV1-8") }, "\(covered.unmapped)")
        let byName = try Self.message(Self.msh, "PV1|1|I||||||^Nobody")
        let r2 = try mapper.map(byName, context: MappingContext(sender: "x"))
        #expect(r2.count == 2 && r2[1]["name"] != nil && r2[1]["identifier"] == nil, "no id number: the second map of the list")
    }

    @Test("rules: with map: add to the resource a datatype map makes, reading the rest of the segment (OBX-23's Organization with OBX-24's address)")
    func rulesOnMadeResources() throws {
        var files: [String: String] = [
            "xon.yaml": """
            datatype: XON
            name: XON-Organization
            type: Organization
            id: {value: [.10, .1]}
            rules:
              - {from: .1, to: name}
            """,
            "m.yaml": """
            messages: [ADT^A01]
            resources:
              - name: result
                segment: OBX
                resource: Observation
                rules:
                  - {to: status, constant: final}
                  - {from: OBX-3.1, to: code.text}
                  - from: OBX-23
                    to: "performer[]"
                    map: XON-Organization
                    rules:
                      - {from: OBX-24.3, to: "address[].city"}
            """,
        ]
        let mapper = try Self.load(files)
        // OBX-3, OBX-23 and OBX-24.
        func obx(_ code: String, _ lab: String, _ address: String) -> String {
            (["OBX", "1", "ST", code, "", "x"] + Array(repeating: "", count: 17) + [lab, address]).joined(separator: "|")
        }
        let m = try Self.message(
            Self.msh, obx("K1", "Lab^^^^^^^^^L1", "^^Ann Arbor"), obx("K2", "Lab^^^^^^^^^L1", "^^Elsewhere"), obx("K3", "", ""))
        let result = try mapper.mapWithCoverage(m, context: MappingContext(sender: "x"))
        let labs = result.resources.filter { $0["resourceType"] == .string("Organization") }
        // One laboratory (its id), with the address of the first segment that made it; each result refers to it.
        #expect(labs.count == 1 && JSONWriter().string(labs[0]["address"] ?? .null) == #"[{"city":"Ann Arbor"}]"#)
        let performers = result.resources.filter { $0["resourceType"] == .string("Observation") }.map { $0["performer"] }
        #expect(performers[0] != nil && performers[0] == performers[1] && performers[2] == nil, "an OBX without OBX-23 makes no laboratory")
        // Every OBX-24 counts as read, the second one too.
        let unmapped = try #require(result.coverage).unmapped
        #expect(!unmapped.contains { $0.hasPrefix("OBX-24") || $0.hasPrefix("OBX-23") }, "\(unmapped)")

        // Misuse: a map that makes no resource takes its element's rules in its own file.
        files["cwe.yaml"] = "datatype: CWE\nname: CWE-Text\ntype: CodeableConcept\nrules:\n  - {from: .2, to: text}\n"
        files["m.yaml"] = files["m.yaml"]!.replacingOccurrences(
            of: "to: \"performer[]\"\n        map: XON-Organization", with: "to: code\n        map: CWE-Text")
        #expect(
            Self.diagnostics(files).map(\.description) == [
                "m.yaml:13:11: rules: with map: add to the resource a datatype map makes; 'CWE-Text' makes a CodeableConcept (write the element's own rules in the map)"
            ])
    }

    @Test("table maps: a row's columns become a Patient with an id from its MRN within the source")
    func rows() throws {
        let files: [String: String] = [
            "t.yaml": """
            table: patients
            resources:
              - name: patient
                resource: Patient
                id: {value: [mrn]}
                rules:
                  - {from: mrn, to: "identifier[0].value"}
                  - {from: family_name, to: "name[0].family"}
                  - {from: birth_date, to: birthDate}
            """
        ]
        let mapper = try Self.load(files)
        let result = try mapper.mapWithCoverage(
            row: ["mrn": "4711", "family_name": "Muster", "birth_date": "1964-08-12", "fax": "0301234"], table: "patients",
            context: MappingContext(sender: "legacy"))
        #expect(result.resources.count == 1)
        #expect(result.resources[0]["id"] == .string(StableID.make(type: "Patient", namespace: "legacy", value: "4711")))
        #expect(result.resources[0]["birthDate"] == .string("1964-08-12"))
        #expect(result.coverage?.unmapped == ["column fax"])
        #expect(throws: MappingError.self) { try mapper.map(row: ["family_name": "x"], table: "patients", context: MappingContext(sender: "l")) }
        #expect(throws: MappingError.self) { try mapper.map(row: ["mrn": "1"], table: "visits", context: MappingContext(sender: "l")) }
    }

    @Test("when: \"@attribute\" holds only when the attribute has a value; 'is uuid' and 'is oid' tell an identifier root's form")
    func attributePresenceAndIdentifierForms() throws {
        let files: [String: String] = [
            "ii.yaml": """
            datatype: II
            source: xml
            name: II-Identifier
            type: Identifier
            rules:
              - {from: "@extension", to: value}
              - {from: "@root", to: system, format: "urn:oid:{}", when: "@extension and @root is oid"}
              - {from: "@root", to: system, format: "urn:uuid:{}", when: "@extension and @root is uuid"}
              - {from: "@root", to: value, format: "urn:uuid:{}", when: "not @extension and @root is uuid"}
              - {from: "@root", to: value, format: "urn:oid:{}", when: "not @extension and @root is oid"}
              - {from: "@root", to: value, when: "not @extension"}
            """,
            "doc.yaml": """
            document: ClinicalDocument
            resources:
              - name: patient
                each: recordTarget/patientRole
                resource: Patient
                id: {value: [id/@extension], required: true}
                rules:
                  - {from: id, to: "identifier[]", map: II-Identifier}
                  - {from: other, to: "identifier[]", map: II-Identifier}
            """,
        ]
        let mapper = try Self.load(files)
        let document = """
            <ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole>
              <id root="2.16.840.1.113883.19" extension="P1"/><id root="AB1791B0-5c71-11db-b0de-0800200c9a66" extension="P2"/>
              <other root="ab1791b0-5c71-11db-b0de-0800200c9a66"/><other root="1.3.6.1.4.1"/><other root="LOCAL-X"/><other root="1..2"/>
            </patientRole></recordTarget></ClinicalDocument>
            """
        let result = try mapper.mapDocument(Array(document.utf8), context: MappingContext(sender: "feed"))
        #expect(
            JSONWriter().string(result.resources[0]["identifier"] ?? .null)
                == #"[{"value":"P1","system":"urn:oid:2.16.840.1.113883.19"},{"value":"P2","system":"urn:uuid:AB1791B0-5c71-11db-b0de-0800200c9a66"},"#
                + #"{"value":"urn:uuid:ab1791b0-5c71-11db-b0de-0800200c9a66"},{"value":"urn:oid:1.3.6.1.4.1"},{"value":"LOCAL-X"},{"value":"1..2"}]"#)
        #expect(IdentifierForm.oid.matches("2.16.840") && !IdentifierForm.oid.matches("3.1") && !IdentifierForm.oid.matches("2"))
        #expect(
            !IdentifierForm.uuid.matches("ab1791b0-5c71-11db-b0de-0800200c9a6")
                && !IdentifierForm.uuid.matches("ab1791b0x5c71-11db-b0de-0800200c9a66"))
        #expect(
            Self.diagnostics([
                "d.yaml": "datatype: II\nsource: xml\nname: X\ntype: Identifier\nrules:\n  - {from: \"@root\", to: value, when: \"@root is guid\"}\n"
            ])
            .map(\.description).contains { $0.contains("d.yaml:6") && $0.contains("uuid or oid") })
    }

    @Test(
        "a document map appends elements to a resource (into: with element:), each listing what was made inside its element; text to a Narrative is escaped XHTML"
    )
    func documentSectionsListTheirEntries() throws {
        let files: [String: String] = [
            "doc.yaml": Self.documentMap(
                """
                  - name: document
                    each: "."
                    resource: Composition
                    rules:
                      - {to: status, constant: final}
                  - name: problem
                    each: ["component/section/entry/observation", "component/section[title or @ID='x']/entry/organizer/component/observation"]
                    resource: Condition
                    rules:
                      - {from: value/@code, to: code.text}
                  - name: allergy
                    each: "component/section/entry/act"
                    resource: AllergyIntolerance
                    rules:
                      - {from: code/@code, to: code.text}
                  - name: section
                    each: component/section
                    into: document
                    element: "section[]"
                    rules:
                      - {from: title, to: title}
                      - {from: title, to: text}
                      - {to: text, constant: "Untitled", default: true}
                    refs: {"entry[]": [problem, allergy]}
                """)
        ]
        let mapper = try Self.load(files)
        let document = """
            <ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id extension="P1"/></patientRole></recordTarget>
              <component><section><title>Problems &amp; allergies &lt;1&gt;</title>
                <entry><observation><value code="A"/></observation></entry><entry><act><code code="B"/></act></entry>
                <entry><organizer><component><observation><value code="E"/></observation></component></organizer></entry>
                <entry><observation><value code="C"/></observation></entry></section></component>
              <component><section><entry><act><code code="D"/></act></entry></section></component>
              <component><section><title>Empty</title></section></component>
            </ClinicalDocument>
            """
        let result = try mapper.mapDocument(Array(document.utf8), context: MappingContext(sender: "feed"))
        let byCode = Dictionary(
            uniqueKeysWithValues: result.resources.compactMap { r in
                r["code"]?.objectValue?["text"]?.stringValue.map { ($0, "\(r["resourceType"]!.stringValue!)/\(r["id"]!.stringValue!)") }
            })
        let composition = try #require(result.resources.first { $0["resourceType"]?.stringValue == "Composition" })
        let sections = try #require(composition["section"]?.arrayValue)
        #expect(sections.count == 3)
        func entries(_ i: Int) -> [String] {
            sections[i].objectValue?["entry"]?.arrayValue?.compactMap { $0.objectValue?["reference"]?.stringValue } ?? []
        }
        // In document order, whichever definition made them; none from another section.
        #expect(entries(0) == [byCode["A"], byCode["B"], byCode["E"], byCode["C"]].compactMap { $0 } && byCode.count == 5)
        #expect(entries(1) == [byCode["D"]].compactMap { $0 })
        #expect(entries(2).isEmpty)
        #expect(
            JSONWriter().string(sections[0].objectValue?["text"] ?? .null)
                == #"{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Problems &amp; allergies &lt;1&gt;</div>"}"#)
        #expect(sections[1].objectValue?["text"]?.objectValue?["div"]?.stringValue == #"<div xmlns="http://www.w3.org/1999/xhtml">Untitled</div>"#)
        #expect(ValueConversion.narrativeDiv("a\r\nb\nc\u{7}\td") == #"<div xmlns="http://www.w3.org/1999/xhtml">a<br/>b<br/>c\#td</div>"#)
        // A list of names is for document maps, and takes a [] target.
        let message = """
            messages: [ADT^A01]
            resources:
              - {name: patient, segment: PID, resource: Patient}
              - {name: account, segment: PV1, resource: Account, refs: {"subject[]": [patient]}}
            """
        #expect(Self.diagnostics(["m.yaml": message]).map(\.description).contains { $0.contains("m.yaml:4") && $0.contains("document map") })
        let oneTarget = ["doc.yaml": files["doc.yaml"]!.replacingOccurrences(of: #"refs: {"entry[]""#, with: #"refs: {"focus""#)]
        #expect(Self.diagnostics(oneTarget).map(\.description).contains { $0.contains("doc.yaml:30") && $0.contains("end it with []") })
    }

    @Test("needs: [\"effective[x]\"] keeps a resource with any type of the choice and leaves out one with none, saying so")
    func needsAChoice() throws {
        var files: [String: String] = [
            "doc.yaml": Self.documentMap(
                """
                  - name: result
                    each: component/section/entry/observation
                    resource: Observation
                    needs: ["effective[x]"]
                    rules:
                      - {to: status, constant: final}
                      - {from: code/@code, to: code.text}
                      - {from: effectiveTime/@value, to: effectiveDateTime}
                      - {from: "effectiveTime[low]", to: effectivePeriod, map: IVL_TS-Period}
                """),
            "datatypes/ivl.yaml": """
            datatype: IVL_TS
            name: IVL_TS-Period
            source: xml
            type: Period
            rules: [{from: low/@value, to: start}, {from: high/@value, to: end}]
            """,
        ]
        let document = """
            <ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id extension="P1"/></patientRole></recordTarget>
              <component><section>
                <entry><observation><code code="A"/><effectiveTime value="20260101"/></observation></entry>
                <entry><observation><code code="B"/><effectiveTime><low value="20260102"/></effectiveTime></observation></entry>
                <entry><observation><code code="C"/></observation></entry>
              </section></component></ClinicalDocument>
            """
        let result = try Self.load(files).mapDocument(Array(document.utf8), context: MappingContext(sender: "feed"))
        let codes = result.resources.compactMap { $0["code"]?.objectValue?["text"]?.stringValue }
        #expect(codes == ["A", "B"])
        #expect(result.coverage?.unmapped.contains { $0.contains("no Observation.effective[x]") } == true, "\(result.coverage?.unmapped ?? [])")
        files["doc.yaml"] = files["doc.yaml"]!.replacingOccurrences(of: #"needs: ["effective[x]"]"#, with: #"needs: ["code[x]"]"#)
        #expect(Self.diagnostics(files).map(\.description) == ["doc.yaml:10:13: Observation has no element 'code[x]'"])
    }

    @Test("an entry map (element:) gives several document resources its rules; each adds its own, and misuse is refused where it is written")
    func entryMaps() throws {
        let files: [String: String] = [
            "entries/observation.yaml": """
            # What every observation shares.
            name: Shared-Observation
            element: observation
            resource: Observation
            rules:
              - {from: code/@code, to: code.text}
              - {from: statusCode/@code, to: status}
              - {to: status, constant: final, default: true}
            """,
            "doc.yaml": Self.documentMap(
                """
                  - name: result
                    each: "component/section[@ID='lab']/entry/observation"
                    map: Shared-Observation
                    refs: {subject: patient}
                    rules:
                      - {to: "category[0].text", constant: laboratory}
                      - {to: status, constant: amended}
                  - name: vital
                    each: "component/section[@ID='vitals']/entry/observation"
                    map: Shared-Observation
                    resource: Observation
                    rules:
                      - {to: "category[0].text", constant: vital-signs}
                """),
        ]
        let mapper = try Self.load(files)
        #expect(mapper.plan.warnings.isEmpty, "\(mapper.plan.warnings)")
        let document = """
            <ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id extension="P1"/></patientRole></recordTarget>
              <component><section ID="lab"><entry><observation><code code="GLU"/></observation></entry></section></component>
              <component><section ID="vitals"><entry><observation><code code="BP"/><statusCode code="preliminary"/></observation></entry></section></component>
            </ClinicalDocument>
            """
        let result = try mapper.mapDocument(Array(document.utf8), context: MappingContext(sender: "feed"))
        let observations = result.resources.filter { $0["resourceType"]?.stringValue == "Observation" }.map {
            JSONWriter().string(.object(JSONObject($0.members.filter { ["code", "status", "category", "subject"].contains($0.key) })))
        }
        let patient = try #require(result.resources.first { $0["resourceType"]?.stringValue == "Patient" }?["id"]?.stringValue)
        // The map's rules run first, so its status stands; the entry's `amended` only fills in where the map wrote none.
        #expect(
            observations == [
                #"{"code":{"text":"GLU"},"category":[{"text":"laboratory"}],"status":"amended","subject":{"reference":"Patient/\#(patient)"}}"#,
                #"{"code":{"text":"BP"},"status":"preliminary","category":[{"text":"vital-signs"}]}"#,
            ], "\(observations)")

        // Unused: a warning naming the document maps.
        var spare = files
        spare["entries/spare.yaml"] = "name: Spare\nelement: act\nresource: Procedure\nrules:\n  - {from: code/@code, to: code.text}\n"
        #expect(
            try Self.load(spare).plan.warnings.map(\.description) == [
                "entries/spare.yaml:1:1: entry map 'Spare' is not used: no document map has a resource entry with 'map: Spare'"
            ])
        // Misuse, each at its line: an entry map for other elements, of another resource, in a message or table map, a
        // segment map in a document map, a map with both segment: and element:.
        func problems(_ replace: String, with text: String, extra: [String: String] = [:]) -> [String] {
            var f = files.merging(extra) { $1 }
            f["doc.yaml"] = f["doc.yaml"]!.replacingOccurrences(of: replace, with: text)
            return Self.diagnostics(f).map(\.description)
        }
        #expect(
            problems("section[@ID='vitals']/entry/observation", with: "section[@ID='vitals']/entry/act")
                == [
                    "doc.yaml:16:10: 'Shared-Observation' maps observation elements; each: 'component/section[@ID='vitals']/entry/act' reaches act elements"
                ])
        #expect(
            problems("    resource: Observation", with: "    resource: Condition")
                == ["doc.yaml:17:15: 'Shared-Observation' builds Observation resources; drop resource: or name Observation"])
        #expect(
            problems("map: Shared-Observation\n    refs", with: "map: Shared-Obs\n    refs") == ["doc.yaml:9:10: no entry map named 'Shared-Obs'"])
        let segmentMap = ["segments/pid.yaml": "name: PID-Patient\nsegment: PID\nresource: Observation\nrules:\n  - {from: PID-3.1, to: code.text}\n"]
        #expect(
            problems("map: Shared-Observation\n    refs", with: "map: PID-Patient\n    refs", extra: segmentMap)
                == ["doc.yaml:9:10: 'PID-Patient' maps PID segments: a document map uses an entry map (element:)"])
        let message = "messages: [ADT^A01]\nresources:\n  - {name: patient, segment: PID, map: Shared-Observation}\n"
        #expect(
            Self.diagnostics(files.merging(["m.yaml": message]) { $1 }).map(\.description)
                == ["m.yaml:3:40: 'Shared-Observation' maps XML observation elements: a message map uses a segment map"])
        let table = "table: labs\nresources:\n  - {name: lab, map: Shared-Observation}\n"
        #expect(
            Self.diagnostics(files.merging(["t.yaml": table]) { $1 }).map(\.description)
                == ["t.yaml:3:22: map: in a table map is not supported: a table's resources take rules:"])
        var both = files
        both["entries/observation.yaml"] = both["entries/observation.yaml"]!.replacingOccurrences(
            of: "element: observation", with: "element: observation\nsegment: OBX")
        #expect(
            Self.diagnostics(both).map(\.description).contains("entries/observation.yaml:3:10: a map reads a segment: or an XML element:, not both"))
    }

    @Test("a CDA narrative block becomes XHTML in document order, with only safe links, in the form FHIR's XHTML writer reads back")
    func cdaNarrative() throws {
        let block = try XMLTree.parse(
            Array(
                """
                <text xmlns="urn:hl7-org:v3">Seen <content styleCode="Bold Lrule" ID="c1">today</content> "twice" &amp; well<br/>
                <list listType="ordered"><caption>Plan</caption><item>Rest<footnoteRef IDREF="f1"/></item><item>Fluids</item></list>
                <table border="1"><colgroup><col span="2" width="50%"/></colgroup><tbody><tr><td colspan="2" valign="top">A<sub>1</sub></td></tr></tbody></table>
                <linkHtml href="javascript:alert(1)">bad</linkHtml><linkHtml href="https://example.org/a?b=1&amp;c=2">good</linkHtml>
                <renderMultiMedia referencedObject="m1"/><unknown>kept <paragraph>text</paragraph></unknown></text>
                """.utf8))
        let div = try #require(CDANarrative.xhtml(block))
        #expect(
            div
                == #"<div xmlns="http://www.w3.org/1999/xhtml">Seen <span id="c1" style="font-weight: bold">today</span> &quot;twice&quot; &amp; well<br/>"#
                + "\n"
                + #"<p>Plan</p><ol><li>Rest</li><li>Fluids</li></ol>"# + "\n"
                + #"<table><colgroup><col span="2"/></colgroup><tbody><tr><td colspan="2" valign="top">A<sub>1</sub></td></tr></tbody></table>"#
                + "\n" + #"<span>bad</span><a href="https://example.org/a?b=1&amp;c=2">good</a>"# + "\n" + #"kept <p>text</p></div>"#)
        // The div in the form FHIR's reader gives it: a resource holding it reads back unchanged.
        let resource = JSONObject([
            ("resourceType", .string("Basic")), ("text", .object(JSONObject([("status", .string("generated")), ("div", .string(div))]))),
            ("code", .object(JSONObject([("text", .string("x"))]))),
        ])
        #expect(try FHIRJSON().parse(JSONWriter().write(.object(resource))) == resource)
        #expect(CDANarrative.xhtml(try XMLTree.parse(Array("<text>  <br/> </text>".utf8))) == nil, "no text, no narrative")
    }

    @Test("an XML path in a condition keeps its predicates, quoted text and spaces included; a list after 'in' is still a list")
    func conditionPathsWithPredicates() throws {
        let parsed = try Condition.parse("entryRelationship[@typeCode='CAUS']/observation/value[@code='a ]b'] and code", dialect: .xml).get()
        guard case .and(.present(let p), .present(let q)) = parsed else {
            Issue.record("parsed as \(parsed)")
            return
        }
        #expect(p.path.description == "entryRelationship[@typeCode='CAUS']/observation/value[@code='a ]b']" && q.path.description == "code")
        guard case .oneOf(_, let values) = try Condition.parse("@code in ['A', 'B']", dialect: .xml).get() else {
            Issue.record("'in' list")
            return
        }
        #expect(values == ["A", "B"])
        #expect(throws: PathError.self) { try Condition.parse("value[@code='x'", dialect: .xml).get() }
        // `or` inside a predicate: any of its parts.
        let tree = try XMLTree.parse(Array(#"<r><s><c code="1"/></s><s><c code="2"/></s><s><c code="3"/></s><s><d/></s></r>"#.utf8))
        let either = try XMLPath.parse("s[c/@code='1' or c/@code = '3' or d]/c/@code").get()
        #expect(either.elements(from: tree).compactMap { $0.attribute("code") } == ["1", "3"])
        #expect(throws: PathError.self) { try XMLPath.parse("s[c/@code='1' or ]").get() }
    }

    @Test("document maps read XML by path: predicates, attributes, every match, references, and a refused DTD")
    func documents() throws {
        let files: [String: String] = [
            "cd.yaml": """
            datatype: CD
            source: xml
            name: CD-Coding
            type: Coding
            rules:
              - {from: "@code", to: code}
              - {from: "@displayName", to: display}
              - {from: "@codeSystem", to: system, format: "urn:oid:{}"}
            """,
            "doc.yaml": """
            document: ClinicalDocument
            when: "templateId/@root == '1.2.3'"
            resources:
              - name: patient
                each: recordTarget/patientRole
                resource: Patient
                id: {value: [id/@extension], namespace: [id/@root], required: true}
                rules:
                  - {from: "patient/name[@use='L']/given", to: "name[0].given[]"}
                  - {from: "patient/name[@use='L']/family", to: "name[0].family"}
                  - {from: patient/birthTime/@value, to: birthDate}
              - name: problem
                each: "section[code/@code='11450-4']/entry/observation"
                resource: Condition
                when: value
                rules:
                  - {from: value, to: "code.coding[]", map: CD-Coding}
                  - {from: effectiveTime/low/@value, to: onsetDateTime}
                refs: {subject: patient}
            """,
        ]
        let mapper = try Self.load(files)
        let document = """
            <?xml version="1.0"?>
            <ClinicalDocument xmlns="urn:hl7-org:v3">
              <templateId root="1.2.3"/>
              <recordTarget><patientRole><id root="1.2.840.1" extension="P77"/>
                <patient><name use="P"><given>Nick</given></name><name use="L"><given>Ann</given><given>May</given><family>Roe</family></name>
                <birthTime value="19700102"/></patient></patientRole></recordTarget>
              <section><code code="11450-4"/>
                <entry><observation><value code="44054006" displayName="Diabetes" codeSystem="2.16.840.1.113883.6.96"/>
                  <effectiveTime><low value="20200301"/></effectiveTime></observation></entry>
                <entry><observation><effectiveTime><low value="20210101"/></effectiveTime></observation></entry>
              </section>
              <section><code code="48765-2"/><entry><observation><value code="X"/></observation></entry></section>
            </ClinicalDocument>
            """
        let result = try mapper.mapDocument(Array(document.utf8), context: MappingContext(sender: "feed"))
        #expect(
            result.resources.map { $0["resourceType"]!.stringValue! } == ["Patient", "Condition"],
            "an observation without value, and another section's, make nothing")
        let patient = result.resources[0]
        #expect(patient["id"] == .string(StableID.make(type: "Patient", namespace: "1.2.840.1", value: "P77")))
        #expect(JSONWriter().string(patient["name"]!) == #"[{"given":["Ann","May"],"family":"Roe"}]"#)
        #expect(patient["birthDate"] == .string("1970-01-02"))
        let condition = result.resources[1]
        #expect(
            JSONWriter().string(condition["code"]!)
                == #"{"coding":[{"code":"44054006","display":"Diabetes","system":"urn:oid:2.16.840.1.113883.6.96"}]}"#)
        #expect(condition["onsetDateTime"] == .string("2020-03-01"))
        #expect(condition["subject"]?.objectValue?["reference"] == .string("Patient/\(patient["id"]!.stringValue!)"))
        #expect(result.coverage?.unmapped.contains("recordTarget/patientRole/patient/name/given") == true, "the nickname was not read")

        let other = document.replacingOccurrences(of: "root=\"1.2.3\"", with: "root=\"9.9\"")
        #expect(throws: MappingError.self) { try mapper.mapDocument(Array(other.utf8), context: MappingContext(sender: "feed")) }
        let dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><ClinicalDocument>&e;</ClinicalDocument>"
        do {
            _ = try mapper.mapDocument(Array(dtd.utf8), context: MappingContext(sender: "feed"))
            Issue.record("a DTD was accepted")
        } catch {
            #expect(error.code == .invalidValue && error.reason.contains("DTD"), "\(error)")
        }
        do {
            _ = try mapper.mapDocument(Array("<Observation/>".utf8), context: MappingContext(sender: "feed"))
            Issue.record("a root without a map was mapped")
        } catch {
            #expect(error.code == .unmappedType && error.location == "<Observation>")
        }
    }

    @Test("the version is a hash of the files: the same files give the same version, any edit another")
    func version() throws {
        let a = try Self.load(Self.basic).version
        #expect(try Self.load(Self.basic).version == a)
        var edited = Self.basic
        edited["vocabularies/sex.yaml"]! += "\n# a comment\n"
        #expect(try Self.load(edited).version != a)
        #expect(a.count == 64)
    }
}
