import FHIR
import Foundation
import HL7v2
import Ingest
import Mapping
import TestSupport
import Testing

/// The mapping set the gateway ships (the repository's Mappings/) over the corpus of real messages.
@Suite("shipped mappings over the corpus")
struct ShippedMappingTests {
    static let folder = MappingFolder(path: TestEnvironment.packageRoot + "/Mappings")
    /// The corpus as the HL7 v2 and FHIR tests keep it (copied from ../shared/corpus, see their SOURCES.md).
    static let corpus = TestEnvironment.packageRoot + "/Tests/HL7v2Tests/Fixtures"

    /// The message types issue #4 names for day one.
    static let dayOne: [String] =
        [
            "A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09", "A10", "A11", "A13", "A14", "A15", "A16", "A25", "A26", "A27", "A28",
            "A29",
            "A31", "A40", "A41", "A45", "A47", "A60",
        ].map { "ADT^\($0)" }
        + ["ORU^R01", "OUL^R22", "OUL^R23", "OUL^R24", "ORM^O01", "OML^O21", "OMG^O19", "VXU^V04"]
        + ["S12", "S13", "S14", "S15", "S16", "S17", "S26"].map { "SIU^\($0)" }
        + ["T01", "T02", "T05", "T06", "T09", "T10"].map { "MDM^\($0)" }
        + [
            "DFT^P03", "DFT^P11", "BAR^P01", "BAR^P02", "BAR^P12", "RDE^O11", "RDE^O25", "RDS^O13", "REF^I12", "REF^I14", "PPR^PC1", "PPR^PC2",
            "PPR^PC3",
        ]

    /// Every message of the corpus, by file (batches give several).
    static func corpusMessages() throws -> [(name: String, message: Message)] {
        var out: [(String, Message)] = []
        for dir in ["hl7v2", "hl7v2-batch"] {
            let path = corpus + "/" + dir
            for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() where name.hasSuffix(".hl7") {
                let bytes = Array(FileManager.default.contents(atPath: path + "/" + name)!)
                var index = 0
                _ = ER7Parser().forEachPart(in: bytes) { result in
                    if case .success(let part) = result, part.isMessage {
                        out.append(("\(dir)/\(name)#\(index)", part.message))
                        index += 1
                    }
                    return true
                }
            }
        }
        return out
    }

    @Test("the shipped set loads, and maps every day-one message type")
    func loadsAndCovers() throws {
        let mapper = try Self.folder.load()
        let types = Set(mapper.plan.messageTypes)
        let missing = Self.dayOne.filter { !types.contains($0) }
        #expect(missing.isEmpty, "\(missing)")
        #expect(mapper.plan.tableNames.contains("patients"))
    }

    @Test("every corpus message maps to valid FHIR R4 (our validator and the JSON Schema), or fails with the place it needs")
    func corpusIsValid() async throws {
        let mapper = try Self.folder.load()
        var resources: [(String, JSONObject)] = []
        var mapped = 0
        var failures: [String: Int] = [:]
        for (name, message) in try Self.corpusMessages() {
            let type = "\(message.messageCode ?? "")^\(message.triggerEvent ?? "")"
            do {
                let result = try mapper.mapWithCoverage(message, context: MappingContext(sender: "corpus"))
                mapped += 1
                #expect(!result.resources.isEmpty, "\(name)")
                #expect(result.coverage != nil)
                var ids = Set<String>()
                for (i, r) in result.resources.enumerated() {
                    let errors = FHIRValidator().validate(r).filter { $0.severity == .error }
                    #expect(errors.isEmpty, "\(name) \(r["resourceType"]?.stringValue ?? "") \(errors.prefix(3))")
                    let key = "\(r["resourceType"]!.stringValue!)/\(r["id"]!.stringValue!)"
                    #expect(ids.insert(key).inserted, "\(name): \(key) twice")
                    resources.append(("\(name.replacingOccurrences(of: "/", with: "_"))-\(i).json", r))
                }
            } catch {
                // What cannot be mapped says where: a message type without a map, or a value a resource needs.
                #expect(error.location != nil, "\(name): \(error)")
                if error.code == .unmappedType { #expect(!Self.dayOne.contains(type), "\(name): \(type) is a day-one type") }
                failures[error.code.rawValue, default: 0] += 1
            }
        }
        #expect(mapped >= 130, "mapped \(mapped); not: \(failures)")
        let verdicts = try await Self.judge(resources)
        // The schema's string pattern ([ \r\n\t\S]+, Unicode \S) refuses a no-break space (U+00A0) that FHIR allows and
        // messages carry (the FHIR tests meet the same quirk in the specification's own examples): only that is excused.
        let invalid = verdicts.filter { !$0.value.valid && !$0.value.errors.allSatisfy { $0.contains("\\xa0") } }
        #expect(invalid.isEmpty, "\(invalid.prefix(5).map { "\($0.key): \($0.value.errors)" })")
        #expect(verdicts.filter { !$0.value.valid }.count < 10)
        #expect(verdicts.count == resources.count)
    }

    @Test("every C-CDA document of the corpus maps: its patient and the entries of its sections, all valid FHIR R4")
    func ccda() async throws {
        let mapper = try Self.folder.load()
        let dir = TestEnvironment.packageRoot + "/Tests/MappingTests/Fixtures/ccda"
        var resources: [(String, JSONObject)] = []
        var types: [String: Int] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where name.hasSuffix(".ccda") {
            let bytes = Array(FileManager.default.contents(atPath: dir + "/" + name)!)
            let result = try mapper.mapDocument(bytes, context: MappingContext(sender: "corpus"))
            #expect(result.resources.filter { $0["resourceType"] == .string("Patient") }.count == 1, "\(name)")
            let report = try #require(result.coverage)
            #expect(report.values > 0 && report.mappedValues > 0 && !report.unmapped.isEmpty)
            // Every reference names a resource of the same bundle (sections' entries, recorders, performers…).
            let here = Set(result.resources.map { "\($0["resourceType"]!.stringValue!)/\($0["id"]!.stringValue!)" })
            let dangling = result.resources.flatMap { Self.references(in: .object($0)) }.filter { !here.contains($0) }
            #expect(dangling.isEmpty, "\(name): \(dangling.prefix(3))")
            for (i, r) in result.resources.enumerated() {
                let errors = FHIRValidator().validate(r).filter { $0.severity == .error }
                #expect(errors.isEmpty, "\(name) \(r["resourceType"]?.stringValue ?? "") \(errors.prefix(3))")
                // Read back as the store reads it, a resource is the same (its narrative divs already in the form the
                // XHTML writer gives them), so its hash is too.
                #expect(
                    try FHIRJSON().parse(JSONWriter().write(.object(r))) == r, "\(name) \(r["resourceType"]?.stringValue ?? "") reads back changed")
                types[r["resourceType"]!.stringValue!, default: 0] += 1
                resources.append(("ccda_\(name)-\(i).json", r))
            }
        }
        // An entry known by a UUID root alone is identified by it, as a URI (it had been a system with no value).
        let note = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: dir + "/Consultation_Note.ccda")!), context: MappingContext(sender: "corpus"))
        let problemIDs = note.resources.filter { $0["resourceType"] == .string("Condition") }.compactMap {
            $0["identifier"]?.arrayValue?.first?.objectValue
        }
        #expect(
            problemIDs.contains {
                $0["value"] == .string("urn:uuid:ab1791b0-5c71-11db-b0de-0800200c9a66") && $0["system"] == .string("urn:ietf:rfc:3986")
            })
        // The encounter the document is about (its header's encompassingEncounter), with its discharge disposition.
        let discharge = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: dir + "/Discharge_Summary.ccda")!), context: MappingContext(sender: "corpus"))
        let stay = try #require(discharge.resources.first { $0["resourceType"] == .string("Encounter") })
        #expect(stay["identifier"]?.arrayValue?.first?.objectValue?["value"] == .string("9937012"))
        #expect(JSONWriter().string(stay["period"] ?? .null) == #"{"start":"2014-09-09T19:04:00-05:00","end":"2014-09-16T19:04:00-05:00"}"#)
        #expect(JSONWriter().string(stay["hospitalization"] ?? .null).contains(#""code":"01","display":"Routine Discharge""#))
        // The document itself: a Composition with its authors, custodian and legal authenticator.
        let composition = try #require(discharge.resources.first { $0["resourceType"] == .string("Composition") })
        #expect(composition["status"] == .string("final") && composition["date"] != nil && composition["title"] != nil)
        let made = Set(discharge.resources.map { "\($0["resourceType"]!.stringValue!)/\($0["id"]!.stringValue!)" })
        for reference in (composition["author"]?.arrayValue ?? []) + [composition["custodian"] ?? .null] {
            let target = reference.objectValue?["reference"]?.stringValue ?? "none"
            #expect(made.contains(target), "the Composition's \(target) is in the bundle")
        }
        // Its sections, in order, each listing what its entries made: every resource it names is in the bundle.
        let sectionList = composition["section"]?.arrayValue?.compactMap { $0.objectValue }
        let sections = try #require(sectionList)
        #expect(sections.count == 21 && sections.allSatisfy { $0["title"] != nil && $0["text"]?.objectValue?["status"] == .string("generated") })
        let listed = sections.flatMap { $0["entry"]?.arrayValue ?? [] }.compactMap { $0.objectValue?["reference"]?.stringValue }
        #expect(listed.count > 10 && listed.allSatisfy(made.contains) && Set(listed).count == listed.count, "\(listed)")
        let family = sections.first { JSONWriter().string($0["code"] ?? .null).contains("10157-6") }
        let familySection = try #require(family)
        // The family history: a FamilyMemberHistory per relative, with the conditions observed in them.
        let father = try #require(discharge.resources.first { $0["resourceType"] == .string("FamilyMemberHistory") })
        #expect(familySection["entry"]?.arrayValue?.first?.objectValue?["reference"] == .string("FamilyMemberHistory/\(father["id"]!.stringValue!)"))
        #expect(JSONWriter().string(father["relationship"] ?? .null).contains(#""code":"9947008""#) && father["bornDate"] == .string("1910"))
        #expect(
            JSONWriter().string(father["condition"] ?? .null)
                .contains(#""contributedToDeath":true,"onsetAge":{"value":57,"unit":"a","code":"a","system":"http://unitsofmeasure.org"}}"#))
        #expect(father["condition"]?.arrayValue?.count == 2 && father["condition"]?.arrayValue?[1].objectValue?["contributedToDeath"] == nil)
        // Beyond the eight sections: social history (C-CDA 1.1's smoking status, coded ASSERTION, as LOINC's), the
        // mental, functional and nutrition status observations (alone or in an organizer), and the procedures section's
        // acts and observations.
        let transfer = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: dir + "/Transfer_Summary.ccda")!), context: MappingContext(sender: "corpus"))
        func observations(_ category: String?) -> [JSONObject] {
            transfer.resources.filter {
                $0["resourceType"] == .string("Observation")
                    && $0["category"]?.arrayValue?.first?.objectValue?["coding"]?.arrayValue?.first?.objectValue?["code"]?.stringValue == category
            }
        }
        let social = observations("social-history").map { JSONWriter().string(.object($0)) }
        #expect(social.count == 5)
        #expect(social.contains { $0.contains(#""code":"74013-4""#) && $0.contains(#""valueQuantity":{"value":1}"#) })
        #expect(social.contains { $0.contains(#""code":"72166-2""#) && $0.contains(#""code":"8517006""#) })
        let status = observations(nil).map { JSONWriter().string(.object($0)) }
        #expect(
            status.filter { $0.contains(#""code":"75275-8""#) }.count == 4 && status.contains { $0.contains(#""code":"46008-9""#) }, "\(status.count)"
        )
        #expect(observations("procedure").count == 1)
        // The payers section: the policy as a Coverage of the patient, its insurer the payer performer's Organization.
        let coverage = try #require(transfer.resources.first { $0["resourceType"] == .string("Coverage") })
        let insurer = try #require(transfer.resources.first { $0["name"] == .string("Good Health Insurance") })
        let transferPatient = try #require(transfer.resources.first { $0["resourceType"] == .string("Patient") })
        #expect(
            coverage["payor"]?.arrayValue?.first?.objectValue?["reference"] == .string("Organization/\(insurer["id"]!.stringValue!)")
                && coverage["beneficiary"]?.objectValue?["reference"] == .string("Patient/\(transferPatient["id"]!.stringValue!)")
                && coverage["subscriberId"] == .string("1138345") && coverage["status"] == .string("active"))
        #expect(
            JSONWriter().string(coverage["relationship"] ?? .null)
                == #"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/subscriber-relationship","code":"self","display":"Self"}]}"#)
        #expect(JSONWriter().string(insurer["type"] ?? .null).contains(#""code":"ins""#) && insurer["address"] != nil)
        // An encounter's Encounter Diagnosis act: its problem is an encounter-diagnosis Condition and the Encounter's diagnosis.
        let ambulatory = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: dir + "/170.314B2_Amb_CCD.ccda")!), context: MappingContext(sender: "corpus"))
        let visitDiagnosis = try #require(
            ambulatory.resources.first {
                $0["resourceType"] == .string("Condition") && JSONWriter().string($0["code"] ?? .null).contains("203523006")
            })
        #expect(JSONWriter().string(visitDiagnosis["category"] ?? .null).contains("encounter-diagnosis"))
        #expect(
            ambulatory.resources.contains {
                $0["resourceType"] == .string("Encounter")
                    && JSONWriter().string($0["diagnosis"] ?? .null)
                        == #"[{"condition":{"reference":"Condition/\#(visitDiagnosis["id"]!.stringValue!)"}}]"#
            })
        // A planned medication of the plan of treatment: a MedicationRequest whose intent is its mood (INT → plan).
        let plannedMedication = try #require(transfer.resources.first { $0["resourceType"] == .string("MedicationRequest") })
        #expect(plannedMedication["intent"] == .string("plan") && plannedMedication["status"] == .string("active"))
        #expect(JSONWriter().string(plannedMedication["medicationCodeableConcept"] ?? .null).contains(#""code":"829888""#))
        // A goal (mood GOL) with its target: at least 92% pulse oximetry.
        let goal = try #require(transfer.resources.first { $0["resourceType"] == .string("Goal") })
        #expect(goal["lifecycleStatus"] == .string("active") && goal["subject"] != nil && goal["startDate"] == .string("2013-09-02"))
        #expect(
            JSONWriter().string(goal["target"]?.arrayValue?.first?.objectValue?["detailRange"] ?? .null)
                == #"{"low":{"value":92,"unit":"%","code":"%","system":"http://unitsofmeasure.org"}}"#)
        // The advance directive (a DNR, inside the advance directive organizer) as an Observation of its section's
        // category; the planned influenza vaccine as an ImmunizationRecommendation due on its day, CVX by either OID.
        let directive = try #require(
            transfer.resources.first {
                $0["resourceType"] == .string("Observation") && JSONWriter().string($0["category"] ?? .null).contains("42348-3")
            })
        #expect(JSONWriter().string(directive["valueCodeableConcept"] ?? .null).contains(#""code":"304253006""#))
        #expect(directive["effectiveDateTime"] == .string("2011-02-19") && directive["subject"] != nil)
        let recommendation = try #require(transfer.resources.first { $0["resourceType"] == .string("ImmunizationRecommendation") })
        let recommended = JSONWriter().string(recommendation["recommendation"] ?? .null)
        #expect(recommended.contains(#""code":"88","display":"Influenza virus vaccine","system":"http://hl7.org/fhir/sid/cvx""#), "\(recommended)")
        #expect(recommended.contains(#""code":"due""#) && recommended.contains(#"{"value":"2013-11-15","code":"#), "\(recommended)")
        #expect(recommendation["patient"] != nil && recommendation["date"] != nil)
        // The planned supply of an inhaler as a SupplyRequest: the item, three of them, on the planned day, for the patient.
        let supply = try #require(transfer.resources.first { $0["resourceType"] == .string("SupplyRequest") })
        #expect(
            supply["status"] == .string("active") && supply["quantity"] == .object(JSONObject([("value", .number("3"))]))
                && supply["occurrenceDateTime"] == .string("2013-06-15") && supply["deliverTo"] != nil)
        #expect(JSONWriter().string(supply["itemCodeableConcept"] ?? .null).contains(#""code":"573621""#))
        // The admission diagnosis (42347-5) and the discharge medications inside their discharge medication act.
        #expect(
            discharge.resources.contains {
                $0["resourceType"] == .string("Condition") && JSONWriter().string(.object($0)).contains(#""code":"74400008""#)
                    && JSONWriter().string($0["category"] ?? .null).contains("encounter-diagnosis")
            })
        let ibuprofen = discharge.resources.filter {
            $0["resourceType"] == .string("MedicationStatement")
                && JSONWriter().string($0["medicationCodeableConcept"] ?? .null).contains(#""code":"197806""#)
        }
        #expect(ibuprofen.count == 1 && ibuprofen.first?["dosage"] != nil)
        // A medication's supply order as the prescription (a MedicationRequest), and the statement based on it.
        let history = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: dir + "/History_and_Physical.ccda")!), context: MappingContext(sender: "corpus"))
        let prescription = try #require(history.resources.first { $0["resourceType"] == .string("MedicationRequest") })
        #expect(
            prescription["intent"] == .string("order") && prescription["status"] == .string("completed")
                && JSONWriter().string(prescription["dispenseRequest"] ?? .null)
                    == #"{"validityPeriod":{"start":"2007-01-03"},"quantity":{"value":75}}"#
        )
        #expect(
            history.resources.contains {
                $0["resourceType"] == .string("MedicationStatement")
                    && $0["basedOn"]?.arrayValue?.first?.objectValue?["reference"] == .string("MedicationRequest/\(prescription["id"]!.stringValue!)")
            })
        // A procedure note's planned procedure (59772-4) as a ServiceRequest, its anesthesia (59774-0) as what was given.
        let procedureNote = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: dir + "/Procedure_Note.ccda")!), context: MappingContext(sender: "corpus"))
        #expect(
            procedureNote.resources.contains {
                $0["resourceType"] == .string("ServiceRequest") && JSONWriter().string($0["code"] ?? .null).contains(#""code":"274025005""#)
            })
        let anesthesia = try #require(procedureNote.resources.first { $0["resourceType"] == .string("MedicationAdministration") })
        #expect(anesthesia["status"] == .string("completed") && anesthesia["effectivePeriod"] != nil)
        #expect(JSONWriter().string(anesthesia["dosage"] ?? .null).contains(#""rateQuantity":{"value":2,"unit":"ml/min"}"#))
        // A health concern act's problem observation: a Condition of US Core's category health-concern.
        let concernText = String(decoding: FileManager.default.contents(atPath: dir + "/CCD-Parent-Document-Replace-C-CDAR2.1.ccda")!, as: UTF8.self)
            .replacingOccurrences(
                of: #"displayName="Health Concern"/>"#,
                with: #"displayName="Health Concern"/><entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">"#
                    + #"<id root="1.2.3" extension="hc1"/><code code="75321-0" codeSystem="2.16.840.1.113883.6.1"/>"#
                    + #"<value xsi:type="CD" code="73211009" codeSystem="2.16.840.1.113883.6.96" displayName="Diabetes"/></observation></entryRelationship>"#
            )
        let concerns = try mapper.mapDocument(Array(concernText.utf8), context: MappingContext(sender: "corpus")).resources.filter {
            JSONWriter().string($0["category"] ?? .null).contains(#""code":"health-concern""#)
        }
        #expect(concerns.count == 1 && JSONWriter().string(concerns.first?["code"] ?? .null).contains("73211009"), "\(concerns)")
        // What is planned or asked for: the plan of treatment's planned entries and the referral, their mood as the
        // intent.
        let requests = transfer.resources.filter { $0["resourceType"] == .string("ServiceRequest") }.map { JSONWriter().string(.object($0)) }
        #expect(requests.count == 5, "\(requests.count)")
        #expect(requests.contains { $0.contains(#""code":"44383000""#) && $0.contains(#""priority":"asap""#) && $0.contains(#""intent":"plan""#) })
        #expect(requests.contains { $0.contains(#""intent":"order""#) && $0.contains(#""code":"73761001""#) })
        // A medication's timing (PIVL_TS) and its indication (RSON); no other entry relationship is a reason (the
        // fixture's medication status observation, "Active", had been one).
        let medications = transfer.resources.filter { $0["resourceType"] == .string("MedicationStatement") }.map { JSONWriter().string(.object($0)) }
        #expect(
            medications.contains {
                $0.contains(#""timing":{"repeat":{"period":6,"periodUnit":"h","frequency":1}}"#) && $0.contains(#""code":"195967001""#)
            })
        let fixture = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: TestEnvironment.packageRoot + "/Mappings/fixtures/ccd.xml")!),
            context: MappingContext(sender: "corpus"))
        #expect(
            !fixture.resources.filter { $0["resourceType"] == .string("MedicationStatement") }.contains {
                JSONWriter().string($0["reasonCode"] ?? .null).contains("55561003")
            })
        // A medication intended (moodCode INT), not yet given: `intended`, whatever its active status code says.
        let planned = try mapper.mapDocument(
            Array(
                """
                <ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id root="1.2.3" extension="P1"/></patientRole></recordTarget>
                <component><structuredBody><component><section><code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
                <entry><substanceAdministration classCode="SBADM" moodCode="INT"><statusCode code="active"/>
                <consumable><manufacturedProduct><manufacturedMaterial><code code="197361" codeSystem="2.16.840.1.113883.6.88"/>
                </manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>
                </section></component></structuredBody></component></ClinicalDocument>
                """.utf8), context: MappingContext(sender: "corpus"))
        #expect(planned.resources.first { $0["resourceType"] == .string("MedicationStatement") }?["status"] == .string("intended"))
        // An immunization refused, with the reason.
        let refused = history.resources.filter { $0["resourceType"] == .string("Immunization") && $0["status"] == .string("not-done") }
        #expect(refused.count == 1 && JSONWriter().string(refused.first?["statusReason"] ?? .null).contains(#""code":"PATOBJ""#))
        // The medical equipment section's devices, each of the patient.
        let equipment = transfer.resources.filter { $0["resourceType"] == .string("Device") }
        #expect(equipment.count == 3 && equipment.allSatisfy { $0["type"] != nil && $0["patient"] != nil && $0["manufacturer"] != nil })
        #expect(equipment.contains { JSONWriter().string($0["type"] ?? .null).contains(#""code":"14106009""#) })
        // An allergy's reactions with their onset and severity; its status observation as its clinical status.
        let allergies = transfer.resources.filter { $0["resourceType"] == .string("AllergyIntolerance") }.map { JSONWriter().string(.object($0)) }
        #expect(allergies.contains { $0.contains(#""code":"422587007""#) && $0.contains(#""onset":"2008-02-26T08:05:00-08:00","severity":"mild"}"#) })
        #expect(
            allergies.contains {
                $0.contains(#""code":"56018004""#) && $0.contains(#""severity":"moderate"}"#) && $0.contains(#""criticality":"low""#)
            })
        // The diagnoses of the stay and of a procedure, as encounter diagnoses.
        let diagnoses = transfer.resources.filter { JSONWriter().string($0["category"] ?? .null).contains("encounter-diagnosis") }
        #expect(!diagnoses.isEmpty && diagnoses.allSatisfy { $0["resourceType"] == .string("Condition") && $0["code"] != nil })
        // Two from the procedures section, one from the medical equipment section (the stent's placement).
        let transferProcedures = transfer.resources.filter { $0["resourceType"] == .string("Procedure") }.map { JSONWriter().string(.object($0)) }
        #expect(transferProcedures.count == 3 && transferProcedures.contains { $0.contains(#""code":"103716009""#) })
        // A result organizer is the report of its results.
        let reports = resources.map(\.1).filter { $0["resourceType"] == .string("DiagnosticReport") }
        #expect(!reports.isEmpty && reports.allSatisfy { ($0["result"]?.arrayValue?.count ?? 0) > 0 }, "\(reports.count) reports")
        // A document with no person as author makes no Composition, and its coverage report says why.
        let direct = try mapper.mapDocument(
            Array(FileManager.default.contents(atPath: dir + "/Patient-and-Provider-Organization-Direct-Address-C-CDAR2.1.ccda")!),
            context: MappingContext(sender: "corpus"))
        #expect(!direct.resources.contains { $0["resourceType"] == .string("Composition") })
        #expect(direct.coverage?.unmapped.contains("ClinicalDocument (no Composition.author)") == true)
        // The patient's guardian, a RelatedPerson of the patient.
        let ccd = try mapper.mapDocument(Array(FileManager.default.contents(atPath: dir + "/CCD.ccda")!), context: MappingContext(sender: "corpus"))
        let guardian = try #require(ccd.resources.first { $0["resourceType"] == .string("RelatedPerson") })
        #expect(JSONWriter().string(guardian["relationship"] ?? .null).contains(#""code":"POWATT""#))
        let ccdPatient = try #require(ccd.resources.first { $0["resourceType"] == .string("Patient") })
        // The organization that cares for the patient, as a resource of its own.
        let managing = ccdPatient["managingOrganization"]?.objectValue
        #expect(managing?["display"] != nil && managing?["reference"]?.stringValue?.hasPrefix("Organization/") == true)
        // Languages as BCP 47 codes (CDA's eng is en), with the preferred one marked and how well it is spoken.
        let proficiency = #"{"url":"http://hl7.org/fhir/StructureDefinition/patient-proficiency","extension":[{"valueCoding":"#
        let spoken =
            #"{"code":"ESP","display":"Expressed spoken","system":"http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityMode"},"url":"type"}]}]}"#
        #expect(
            JSONWriter().string(ccdPatient["communication"] ?? .null)
                == #"[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"it","display":"Italian"}]},"preferred":true,"extension":["#
                + proficiency
                + #"{"code":"G","display":"Good","system":"http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityProficiency"},"url":"level"},{"valueCoding":"#
                + spoken + ","
                + #"{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en","display":"English"}]},"preferred":false,"extension":["#
                + proficiency
                + #"{"code":"P","display":"Poor","system":"http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityProficiency"},"url":"level"},{"valueCoding":"#
                + spoken + "]")
        // The birthplace and religion as FHIR's patient extensions.
        let patientExtensions = JSONWriter().string(ccdPatient["extension"] ?? .null)
        #expect(
            patientExtensions.contains(#"{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"#),
            "\(patientExtensions)")
        #expect(patientExtensions.contains("v3-ReligiousAffiliation"), "\(patientExtensions)")
        // The document's language, version, attesters with their times, and the service it documents.
        let ccdComposition = try #require(ccd.resources.first { $0["resourceType"] == .string("Composition") })
        #expect(ccdComposition["language"] == .string("en-US"))
        #expect(JSONWriter().string(ccdComposition["extension"] ?? .null).contains("composition-clinicaldocument-versionNumber"))
        let attesters = (ccdComposition["attester"]?.arrayValue ?? []).compactMap(\.objectValue)
        #expect(
            attesters.map { $0["mode"]?.stringValue ?? "" } == ["legal", "professional"]
                && attesters.allSatisfy { $0["time"] != nil && $0["party"] != nil })
        let event = try #require(ccdComposition["event"]?.arrayValue?.first?.objectValue)
        // The data enterer, a care-provider informant and the intended recipient, in C-CDA on FHIR's extensions.
        let byReference = Dictionary(
            ccd.resources.map { ("\($0["resourceType"]!.stringValue!)/\($0["id"]!.stringValue!)", $0) }, uniquingKeysWith: { a, _ in a })
        let people = (ccdComposition["extension"]?.arrayValue ?? []).compactMap(\.objectValue).compactMap { e -> String? in
            guard let url = e["url"]?.stringValue, let reference = e["valueReference"]?.objectValue?["reference"]?.stringValue else { return nil }
            let family = byReference[reference]?["name"]?.arrayValue?.first?.objectValue?["family"]?.stringValue ?? "?"
            return "\(url.split(separator: "/").last!):\(family)"
        }
        #expect(people == ["DataEntererExtension:Enter", "InformantExtension:Beaker", "InformationRecipientExtension:Specialize"], "\(people)")
        // The informant who is the patient's spouse, a RelatedPerson; the value set OID the document gives as the code's
        // system is RoleCode's.
        #expect(
            ccd.resources.contains {
                $0["resourceType"] == .string("RelatedPerson")
                    && JSONWriter().string($0["relationship"] ?? .null).contains(
                        #""code":"SPS","display":"SPOUSE","system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode""#)
            })
        #expect(event["period"]?.objectValue?["start"] != nil && event["detail"] != nil)
        #expect(guardian["patient"]?.objectValue?["reference"] == .string("Patient/\(ccdPatient["id"]!.stringValue!)"))
        // An entry's author is its recorder (a problem's, an allergy's) or performer (a result's).
        #expect(transfer.resources.filter { $0["resourceType"] == .string("Condition") && $0["recorder"] != nil }.count == 5)
        #expect(transfer.resources.filter { $0["resourceType"] == .string("AllergyIntolerance") && $0["recorder"] != nil }.count == 2)
        // A system that wrote the document is one of its authors, as a Device.
        let system = try #require(ccd.resources.first { $0["resourceType"] == .string("Device") })
        #expect(
            ccdComposition["author"]?.arrayValue?.contains { $0.objectValue?["reference"] == .string("Device/\(system["id"]!.stringValue!)") } == true
        )
        #expect(JSONWriter().string(system["deviceName"] ?? .null) == #"[{"name":"Generic EHR Clinical System 2.0.0.0.0.0","type":"model-name"}]"#)
        #expect(system["owner"] != nil && system["version"] != nil)
        // Procedures, beyond the sections the issue names.
        let procedures = ccd.resources.filter { $0["resourceType"] == .string("Procedure") }
        #expect(procedures.count == 2 && procedures.allSatisfy { $0["status"] == .string("completed") && $0["code"] != nil }, "\(procedures.count)")
        // The sections the issue names: problems, allergies, medications, results and vital signs, encounters, immunizations.
        for type in ["Patient", "Condition", "AllergyIntolerance", "MedicationStatement", "Observation", "Encounter", "Immunization"] {
            #expect((types[type] ?? 0) > 0, "no \(type) from the C-CDA corpus: \(types)")
        }
        let verdicts = try await Self.judge(resources)
        let invalid = verdicts.filter { !$0.value.valid && !$0.value.errors.allSatisfy { $0.contains("\\xa0") || $0.contains("\\u200b") } }
        #expect(invalid.isEmpty, "\(invalid.prefix(5).map { "\($0.key): \($0.value.errors)" })")
    }

    @Test("mapping is deterministic: the same message twice gives the same bundle, ids included")
    func deterministic() throws {
        let mapper = try Self.folder.load()
        for (name, message) in try Self.corpusMessages().prefix(40) {
            guard let a = try? mapper.map(message, context: MappingContext(sender: "x")) else { continue }
            let b = try mapper.map(message, context: MappingContext(sender: "x"))
            #expect(a == b, "\(name)")
        }
    }

    @Test("the guide's less obvious rules: table 0189 ethnicity as its OMB code, and the insurer as one Organization with its address and contact")
    func guideRules() throws {
        let mapper = try Self.folder.load()
        let msh = "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|C1|P|2.5.1"
        func mapped(_ segments: String...) throws -> [JSONObject] {
            let text = ([msh] + segments).joined(separator: "\r")
            return try mapper.map(try Message(parsing: text + "\r"), context: MappingContext(sender: "APP^FAC"))
        }
        func ethnicity(_ pid22: String) throws -> String {
            let resources = try mapped("PID|1||M1^^^FAC^MR||Roe^Ann||19700101|F" + String(repeating: "|", count: 14) + pid22)
            let patient = try #require(resources.first { $0["resourceType"]?.stringValue == "Patient" })
            let ext = patient["extension"]?.arrayValue?.first { $0.objectValue?["url"]?.stringValue?.hasSuffix("us-core-ethnicity") == true }
            return JSONWriter().string(ext?.objectValue?["extension"] ?? .null)
        }
        #expect(
            try ethnicity("N^Not Hispanic^HL70189")
                == #"[{"valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2186-5","display":"Not Hispanic or Latino"},"url":"ombCategory"},{"valueString":"Not Hispanic","url":"text"}]"#
        )
        #expect(try ethnicity("H").contains(#""code":"2135-2""#))
        #expect(
            try ethnicity("A^White - British^NHS") == #"[{"valueString":"White - British","url":"text"}]"#, "another system's code is no OMB category"
        )
        #expect(try ethnicity("ETHNICITY") == #"[{"valueString":"ETHNICITY","url":"text"}]"#, "a code outside table 0189 is kept as the text")

        let withInsurance = try mapped(
            "PID|1||M1^^^FAC^MR||Roe^Ann||19700101|F", "PV1|1|I|||||||||||||||||V1",
            "IN1|1|P1^Plan|IC-1^^^BCBS|Blue Cross|1 Main St^^Springfield^IL|Roth^Henry|^WPN^PH^^^217^5550100|G1"
                + String(repeating: "|", count: 41) + "SUB-49^^^BCBS^SN")
        let insurers = withInsurance.filter { $0["resourceType"]?.stringValue == "Organization" && $0["name"]?.stringValue == "Blue Cross" }
        #expect(insurers.count == 1)
        let insurer = try #require(insurers.first)
        #expect(JSONWriter().string(insurer["address"] ?? .null).contains("Springfield"))
        #expect(JSONWriter().string(insurer["contact"] ?? .null).contains(#""family":"Roth""#))
        let coverage = try #require(withInsurance.first { $0["resourceType"]?.stringValue == "Coverage" })
        #expect(JSONWriter().string(coverage["payor"] ?? .null) == #"[{"reference":"Organization/\#(insurer["id"]!.stringValue!)"}]"#)
        // IN1-49, the insured's id: R4's subscriberId (the guide's R5 extension-subscriberId), and an identifier.
        #expect(coverage["subscriberId"]?.stringValue == "SUB-49")

        // RDE: the RXO's order as placed and the RXE's encoded order, each with the route (RXR) below it.
        let rde = try mapper.map(
            try Message(
                parsing: [
                    msh.replacingOccurrences(of: "ADT^A01^ADT_A01", with: "RDE^O11^RDE_O11"), "PID|1||M1^^^FAC^MR||Roe^Ann",
                    "ORC|NW|P1", "RXO|111^Drug A^NDC", "RXR|PO^Oral^HL70162", "RXE||222^Drug B^NDC", "RXR|IV^Intravenous^HL70162",
                ].joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
        let routes = rde.filter { $0["resourceType"]?.stringValue == "MedicationRequest" }.map { r in
            "\(r["intent"]?.stringValue ?? "") \(JSONWriter().string(r["dosageInstruction"] ?? .null).contains(#""code":"PO""#) ? "PO" : "IV")"
        }
        #expect(routes.sorted() == ["order IV", "original-order PO"], "\(routes)")

        // TQ1 (the guide's TQ1[MedicationRequest] and TQ1[ServiceRequest]): after the ORC it times the RXO's order as
        // placed, after the RXE the encoded order; a second ORC's TQ1 never times the first order's RXE. Durations need
        // a unit of time (TQ1-13 `1^ann` has none), offsets are minutes (TQ1-3's `60^min` is one, `1^hr` is not).
        let timed = try mapper.map(
            try Message(
                parsing: [
                    msh.replacingOccurrences(of: "ADT^A01^ADT_A01", with: "RDE^O11^RDE_O11"), "PID|1||M1^^^FAC^MR||Roe^Ann",
                    "ORC|NW|P1", "TQ1|1||TID|||3^D&day&ISO+|||R", "RXO|111^Drug A^NDC", "RXE||222^Drug B^NDC",
                    "TQ1|1||P&Post (after)&HL70335^^^^180^min^^PCM^60^min||||20260101100000+0000|20260101110000+0000|S||||1^ann|2",
                    "ORC|NW|P2", "TQ1|1||BID", "RXE||333^Drug C^NDC",
                ].joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
        func timing(_ code: String) -> String {
            let r = timed.first { JSONWriter().string($0["medicationCodeableConcept"] ?? .null).contains(code) }
            return JSONWriter().string(r?["dosageInstruction"]?.arrayValue?.first?.objectValue?["timing"] ?? .null)
        }
        #expect(
            timing("111")
                == #"{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation","code":"TID","display":"TID"}]},"repeat":{"boundsDuration":{"value":3,"unit":"day","code":"d","system":"http://unitsofmeasure.org"}}}"#
        )
        #expect(
            timing("222")
                == #"{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0335","code":"P","display":"Post (after)"}]},"repeat":{"period":180,"periodUnit":"min","when":["PCM"],"offset":60,"boundsPeriod":{"start":"2026-01-01T10:00:00+00:00","end":"2026-01-01T11:00:00+00:00"},"countMax":2}}"#
        )
        #expect(timing("333").contains(#""code":"BID""#), "the second ORC's TQ1 times its own RXE")
        #expect(timed.first { JSONWriter().string($0["medicationCodeableConcept"] ?? .null).contains("222") }?["priority"]?.stringValue == "stat")

        // RXO-4 as the dose's unit, RXO-9 substitution, RXO-23 (RXE-19) total daily dose as maxDosePerPeriod per day,
        // RXE-23/24 as the rate.
        let dosed = try mapper.map(
            try Message(
                parsing: [
                    msh.replacingOccurrences(of: "ADT^A01^ADT_A01", with: "RDE^O11^RDE_O11"), "PID|1||M1^^^FAC^MR||Roe^Ann", "ORC|NW|P1",
                    "RXO|111^Drug A^NDC|2||cap^capsule|||||G" + String(repeating: "|", count: 14) + "4^&cap",
                    "RXE||222^Drug B^NDC|5||mg^milligram" + String(repeating: "|", count: 14) + "20^&mg" + String(repeating: "|", count: 4)
                        + "23|mL/h^milliliter per hour^UCUM",
                ].joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
        func dosage(_ code: String) -> String {
            let r = dosed.first { JSONWriter().string($0["medicationCodeableConcept"] ?? .null).contains(code) }
            return JSONWriter().string(r?["dosageInstruction"]?.arrayValue?.first ?? .null)
        }
        let perDay = #""denominator":{"value":1,"unit":"d","code":"d","system":"http://unitsofmeasure.org"}"#
        #expect(
            dosage("111")
                == #"{"doseAndRate":[{"doseQuantity":{"value":2,"code":"cap","unit":"capsule"}}],"maxDosePerPeriod":{"numerator":{"value":4,"unit":"cap"},\#(perDay)}}"#
        )
        #expect(
            dosage("222")
                == #"{"doseAndRate":[{"doseQuantity":{"value":5,"code":"mg","unit":"milligram"},"rateQuantity":{"value":23,"code":"mL/h","unit":"milliliter per hour","system":"http://unitsofmeasure.org"}}],"maxDosePerPeriod":{"numerator":{"value":20,"unit":"mg"},\#(perDay)}}"#
        )
        #expect(
            JSONWriter().string(dosed.first { $0["intent"]?.stringValue == "original-order" }?["substitution"] ?? .null)
                == #"{"allowedCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0161","code":"G","display":"Allow generic substitutions."}]}}"#
        )

        let oml = try mapper.map(
            try Message(
                parsing: [
                    msh.replacingOccurrences(of: "ADT^A01^ADT_A01", with: "OML^O21^OML_O21"), "PID|1||M1^^^FAC^MR||Roe^Ann",
                    "ORC|NW|P1", "TQ1|1|2^&cp|Once^^^^1^d&Day&ANS+^^AC^1^hr&Hour&ANS+|||1^d&Day&ANS+|||R|Pain|Fasting Sugar||15^min&minute&ANS+|1",
                    "OBR|1|P1||57698-3^Lipid panel^LN||202601011200+0000",
                ].joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
        let order = try #require(oml.first { $0["resourceType"]?.stringValue == "ServiceRequest" })
        #expect(order["occurrenceDateTime"] == nil, "TQ1's timing is the occurrence, not OBR-6's dateTime")
        #expect(
            JSONWriter().string(order["occurrenceTiming"] ?? .null)
                == #"{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0335","code":"Once","display":"one time only."}]},"repeat":{"period":1,"periodUnit":"d","when":["AC"],"boundsDuration":{"value":1,"unit":"Day","code":"d","system":"http://unitsofmeasure.org"},"duration":15,"durationUnit":"min","countMax":1}}"#
        )
        #expect(JSONWriter().string(order["quantityQuantity"] ?? .null) == #"{"value":2,"unit":"cp"}"#)
    }

    /// A segment with `fields[n]` at HL7 field n (the others empty).
    /// Every `reference` in a resource, at any depth.
    static func references(in value: JSONValue) -> [String] {
        switch value {
        case .object(let o):
            return o.members.flatMap { member in
                member.key == "reference" ? [member.value.stringValue].compactMap { $0 } : references(in: member.value)
            }
        case .array(let a): return a.flatMap(references(in:))
        default: return []
        }
    }

    /// The mapper over one message given as its segments, sent by APP^FAC.
    static func map(_ mapper: DeclarativeMapper, _ segments: [String]) throws -> [JSONObject] {
        try mapper.map(try Message(parsing: segments.joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
    }

    static func segment(_ name: String, _ fields: [Int: String]) -> String {
        var all = [String](repeating: "", count: (fields.keys.max() ?? 0) + 1)
        all[0] = name
        for (n, v) in fields { all[n] = v }
        return all.joined(separator: "|")
    }

    @Test(
        "the insured (IN1) is one RelatedPerson in every message that carries insurance (RDE's too); the Coverage's relation is R4's code and the guide's"
    )
    func insuredAndRelation() throws {
        let mapper = try Self.folder.load()
        let in1 = Self.segment(
            "IN1", [1: "1", 2: "P1^Plan", 3: "IC-1^^^BCBS", 4: "Blue Cross", 16: "Roe^Bob", 17: "SPO^Spouse", 18: "19690101", 49: "B77^^^BCBS"])
        for type in ["ADT^A01^ADT_A01", "ORM^O01^ORM_O01", "VXU^V04^VXU_V04", "RDE^O11^RDE_O11"] {
            let text = ["MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||\(type)|C1|P|2.5.1", "PID|1||M1^^^FAC^MR||Roe^Ann", in1]
            let resources = try Self.map(mapper, text)
            let insured = try #require(resources.first { $0["resourceType"] == .string("RelatedPerson") }, "\(type)")
            let coverage = try #require(resources.first { $0["resourceType"] == .string("Coverage") }, "\(type)")
            let w = JSONWriter()
            #expect(w.string(insured["relationship"] ?? .null).contains(#""code":"SPS""#), "\(type): the guide's Relationship map")
            #expect(w.string(insured["identifier"] ?? .null).contains(#""value":"B77""#), "\(type)")
            #expect(coverage["subscriber"]?.objectValue?["reference"] == .string("RelatedPerson/\(insured["id"]!.stringValue!)"), "\(type)")
            #expect(
                w.string(coverage["relationship"] ?? .null)
                    == #"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/subscriber-relationship","code":"spouse","display":"Spouse"},"#
                    + #"{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"SPS","display":"spouse"}],"text":"Spouse"}"#, "\(type)")
        }
    }

    @Test(
        "fields of the guide's typed maps: a driver's license (DLN) with its expiry, a county as a CWE or an older code, the health plan (CWE) as identifier and plan class; an absent endpoint says why; the processing id is a tag"
    )
    func typedFields() throws {
        let mapper = try Self.folder.load()
        let text = [
            "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|C1|P|2.8", "EVN|A01|20260101120000",
            Self.segment(
                "PID",
                [
                    1: "1", 3: "M1^^^FAC^MR", 5: "Roe^Ann", 11: "1 Main St^^Ann Arbor^MI^48104^USA^H^^&Washtenaw~2 Elm St^^Troy^MI^^^^^W",
                    20: "D123^MI^20300131",
                ]),
            Self.segment("IN1", [1: "1", 2: "BAV^Blue Advantage HMO^L^P7^^99ZZ", 3: "IC-1^^^BCBS", 4: "Blue Cross", 8: "G7"]),
        ]
        let resources = try Self.map(mapper, text)
        let w = JSONWriter()
        let patient = try #require(resources.first { $0["resourceType"] == .string("Patient") })
        let license = try #require(patient["identifier"]?.arrayValue?.first { $0.objectValue?["value"] == .string("D123") })
        #expect(
            w.string(license)
                == #"{"value":"D123","type":{"coding":[{"code":"DL","system":"http://terminology.hl7.org/CodeSystem/v2-0203"}]},"period":{"end":"2030-01-31"}}"#
        )
        // XAD.9 is a CWE since v2.7: its text (the guide's CWE[string]); before, a code in its first part.
        #expect((patient["address"]?.arrayValue ?? []).map { $0.objectValue?["district"]?.stringValue } == ["Washtenaw", "W"])
        let coverage = try #require(resources.first { $0["resourceType"] == .string("Coverage") })
        let identifiers = (coverage["identifier"]?.arrayValue ?? []).map { w.string($0) }
        #expect(identifiers.contains(#"{"value":"BAV","system":"urn:ledgerbridge:v2-coding-system:L"}"#), "\(identifiers)")
        #expect(identifiers.contains(#"{"value":"P7","system":"urn:ledgerbridge:v2-coding-system:99ZZ"}"#), "\(identifiers)")
        #expect(
            (coverage["class"]?.arrayValue ?? []).map {
                "\($0.objectValue?["value"]?.stringValue ?? "")/\($0.objectValue?["name"]?.stringValue ?? "")"
            }
                == ["G7/", "BAV/Blue Advantage HMO"])
        #expect(coverage["dependent"] == nil, "IN1-46 is the prior plan's id, not a dependent number")
        // No address for the sender or receiver: the required endpoints say why they are absent.
        let header = try #require(resources.first { $0["resourceType"] == .string("MessageHeader") })
        let absent = #"{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}"#
        #expect(w.string(header["source"]?.objectValue?["_endpoint"] ?? .null) == absent)
        #expect(w.string(header["destination"]?.arrayValue?.first?.objectValue?["_endpoint"] ?? .null) == absent)
        // MSH-11, the processing id, as a tag (the guide's PT[Meta]).
        #expect(
            w.string(header["meta"] ?? .null)
                == #"{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0103","code":"P","display":"Production"}]}"#)

        // OBR-13 (a CWE since v2.7) is a note in words; OBR-17 the order's callback number on the requester.
        let ordered = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ORM^O01^ORM_O01|C2|P|2.8", "PID|1||M1^^^FAC^MR||Roe^Ann", "ORC|NW|P1",
                Self.segment(
                    "OBR",
                    [1: "1", 2: "P1", 4: "24331-1^Lipid panel^LN", 13: "F1^Fasting since midnight^L", 16: "D1^Gee^Pat", 17: "^WPN^PH^^1^734^5551234"]),
                Self.segment(
                    "OBX", [1: "1", 2: "NM", 3: "2093-3^Cholesterol^LN", 5: "180", 11: "F", 23: "Main Lab^^^^^^^^^L1", 24: "1 Lab Way^^Ann Arbor^MI"]),
            ]
        )
        // OBX-24 is the address of the performing organization OBX-23 names (the guide's performer(Organization.address)).
        let lab = ordered.first { $0["resourceType"] == .string("Organization") && $0["name"] == .string("Main Lab") }
        #expect(w.string(lab?["address"] ?? .null) == #"[{"line":["1 Lab Way"],"city":"Ann Arbor","state":"MI"}]"#)
        let order = ordered.first { $0["resourceType"] == .string("ServiceRequest") }
        #expect(w.string(order?["note"] ?? .null) == #"[{"text":"Fasting since midnight"}]"#)
        let callback = order?["requester"]?.objectValue?["extension"]?.arrayValue?.first?.objectValue
        #expect(callback?["url"] == .string("http://hl7.org/fhir/StructureDefinition/servicerequest-order-callback-phone-number"))
        let number = w.string(callback?["valueContactPoint"] ?? .null)
        #expect(number.contains("734"), "\(number)")
        #expect(order?["requester"]?.objectValue?["reference"] != nil)
    }

    @Test(
        "ADT roles: the patient's primary care provider (ROL or PRT after PID) is the general practitioner, a visit's role a participant; PD1-7 is the living will Observation"
    )
    func patientRolesAndLivingWill() throws {
        let mapper = try Self.folder.load()
        func mapped(_ pd1: String) throws -> [JSONObject] {
            let text = [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|C1|P|2.8", "EVN|A01|20260101120000",
                "PID|1||M1^^^FAC^MR||Roe^Ann", Self.segment("PD1", [7: pd1]), "ROL|1|AD|PP^Primary Care Provider^HL70443|D1^Gee^Pat",
                "PRT|1|AD||PP^Primary Care Provider^HL70443|D2^Poe^Al", "PRT|2|AD||PH^Pharmacist^HL70912||||Corner Pharmacy",
                "PV1|1|I|||||||||||||||||V1",
                "ROL|2|AD|AT^Attending^HL70443|D3^Doe^Jo|20260101", "PR1|1||76164006^Biopsy^SCT", "ROL|3|AD|SP^Surgeon^HL70443|D4^Sy^Bo",
            ]
            return try Self.map(mapper, text)
        }
        let resources = try mapped("Y^Yes^HL70315")
        let byReference = Dictionary(
            uniqueKeysWithValues: resources.map { ("\($0["resourceType"]!.stringValue!)/\($0["id"]!.stringValue!)", $0) })
        func person(_ reference: JSONValue?) -> String {
            var target = byReference[reference?.objectValue?["reference"]?.stringValue ?? ""]
            if target?["resourceType"] == .string("PractitionerRole") {
                target = byReference[target?["practitioner"]?.objectValue?["reference"]?.stringValue ?? ""]
            }
            return target?["identifier"]?.arrayValue?.first?.objectValue?["value"]?.stringValue ?? "none"
        }
        let patient = try #require(resources.first { $0["resourceType"] == .string("Patient") })
        let visit = try #require(resources.first { $0["resourceType"] == .string("Encounter") })
        #expect((patient["generalPractitioner"]?.arrayValue ?? []).map(person) == ["D1", "D2"])
        let roles = (visit["participant"]?.arrayValue ?? []).compactMap(\.objectValue).filter {
            $0["individual"]?.objectValue?["reference"]?.stringValue?.hasPrefix("PractitionerRole/") == true
        }
        #expect(roles.map { person($0["individual"]) } == ["D3"], "the surgeon's ROL is the procedure's, not the visit's")
        #expect(JSONWriter().string(roles.first?["type"] ?? .null).contains(#""code":"ATND""#) && roles.first?["period"] != nil)
        let will = try [resources, mapped("N")].map { r in
            try #require(r.first { JSONWriter().string($0["code"] ?? .null).contains(#""code":"75320-2""#) })
        }
        #expect(will[0]["id"] == will[1]["id"], "one living will per patient")
        // The PRTs after the PID: one CareTeam (merge: true), each a participant.
        let teams = resources.filter { $0["resourceType"] == .string("CareTeam") }
        #expect(teams.count == 1 && teams.first?["subject"]?.objectValue?["reference"] == .string("Patient/\(patient["id"]!.stringValue!)"))
        let members = (teams.first?["participant"]?.arrayValue ?? []).compactMap(\.objectValue)
        #expect(members.count == 2 && person(members[0]["member"]) == "D2")
        #expect(JSONWriter().string(members[1]["role"] ?? .null).contains(#""code":"pharmacist""#))
        #expect(byReference[members[1]["member"]?.objectValue?["reference"]?.stringValue ?? ""]?["name"] == .string("Corner Pharmacy"))
        #expect(
            JSONWriter().string(will[0]["valueCodeableConcept"] ?? .null).contains(
                #""system":"http://terminology.hl7.org/CodeSystem/v2-0315","code":"Y""#))
        #expect(will[0]["subject"]?.objectValue?["reference"] == .string("Patient/\(patient["id"]!.stringValue!)"))
    }

    @Test("VXU: the ORC of an ORDER group gives its Immunization the placer and filler numbers and the ordering provider (ORC[Immunization])")
    func orderOnImmunization() throws {
        let mapper = try Self.folder.load()
        let text = [
            "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||VXU^V04^VXU_V04|C1|P|2.5.1", "PID|1||M1^^^FAC^MR||Roe^Ann",
            "ORC|RE|P1^EHR|F1^IIS|||||||||O1^Ord^Olga", "RXA|0|1|20260101||08^HepB^CVX|0.5|mL^mL^UCUM",
            "ORC|RE|P2^EHR|||||||20251231", "RXA|0|1|20251231||03^MMR^CVX|0.5|mL^mL^UCUM",
        ]
        let resources = try Self.map(mapper, text)
        let shots = resources.filter { $0["resourceType"] == .string("Immunization") }.map { JSONWriter().string(.object($0)) }
        #expect(shots.count == 2)
        let hepB = try #require(shots.first { $0.contains(#""code":"08""#) })
        let mmr = try #require(shots.first { $0.contains(#""code":"03""#) })
        #expect(
            hepB.contains(#""value":"P1""#) && hepB.contains(#""code":"PLAC""#) && hepB.contains(#""value":"F1""#) && hepB.contains(#""code":"FILL""#)
        )
        #expect(hepB.contains(#""function":{"coding":[{"code":"OP""#) && !hepB.contains(#""value":"P2""#))
        #expect(mmr.contains(#""value":"P2""#) && !mmr.contains(#""value":"P1""#) && mmr.contains(#""recorded":"2025-12-31""#))
    }

    @Test(
        "guide maps inside message maps: the patient in the appointment, the ORC on the report, a diagnosis of the episode, where an observation was made"
    )
    func guideMapsInMessages() throws {
        let mapper = try Self.folder.load()
        let w = JSONWriter()
        // PID[Appointment]: the patient is a participant.
        let siu = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||SIU^S12^SIU_S12|C1|P|2.5.1", "SCH|A1|F1|||||||||^^30^202601021000",
                "TQ1|||||||202601021000", "NTE|1||Fasting", "PID|1||M1^^^FAC^MR||Roe^Ann", "OBX|1|ST|X^Note^L||text", "NTE|1||About the OBX",
                "RGS|1", "AIG|1||CC1^Cell Counter^L|011^Lab Equipment^L||||202601021000", "NTE|1||Calibrate first",
            ])
        let appointment = try #require(siu.first { $0["resourceType"] == .string("Appointment") })
        let patient = try #require(siu.first { $0["resourceType"] == .string("Patient") })
        #expect(
            w.string(appointment["participant"] ?? .null).contains(
                #"{"status":"accepted","actor":{"reference":"Patient/\#(patient["id"]!.stringValue!)"}}"#),
            "\(w.string(appointment["participant"] ?? .null))")
        // NTE[Appointment-Comment]: the notes after the SCH (past its TQ1) and the AIG, not the OBX's; AIG[Appointment].
        let notes = (appointment["extension"]?.arrayValue ?? []).compactMap { $0.objectValue?["valueAnnotation"]?.objectValue?["text"]?.stringValue }
        #expect(notes == ["Fasting", "Calibrate first"], "\(notes)")
        #expect(
            w.string(appointment["participant"] ?? .null).contains(
                #""actor":{"identifier":{"value":"CC1","system":"urn:ledgerbridge:v2-coding-system:L"},"display":"Cell Counter","type":"Location"}"#))
        // ORC[DiagnosticReport]: the ORC's numbers and status reason; PRT[Observation-Location]: a PRT after the OBX.
        let oru = try Self.map(
            mapper,
            [
                "MSH|^~\\&|LAB|FAC|LB|LB|20260101120000+0000||ORU^R01^ORU_R01|C1|P|2.8", "PID|1||M1^^^FAC^MR||Roe^Ann",
                Self.segment("ORC", [1: "RE", 2: "P7^EHR", 3: "F7^LAB", 16: "X^Duplicate^L"]), "OBR|1|||24317-0^Hemogram^LN",
                "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL", Self.segment("PRT", [4: "AD", 9: "^^^LAB1"]), "OBX|2|NM|789-8^RBC^LN||4.5",
            ])
        let report = w.string(.object(try #require(oru.first { $0["resourceType"] == .string("DiagnosticReport") })))
        #expect(report.contains(#""value":"P7""#) && report.contains(#""code":"PLAC""#) && report.contains(#""value":"F7""#))
        #expect(report.contains(#""url":"http://hl7.org/fhir/StructureDefinition/event-statusReason","valueCodeableConcept""#))
        let located = oru.filter { $0["resourceType"] == .string("Observation") }.map {
            ($0["code"]?.objectValue?["coding"]?.arrayValue?.first?.objectValue?["code"]?.stringValue ?? "", w.string($0["extension"] ?? .null))
        }
        #expect(located.count == 2)
        #expect(located.allSatisfy { ($0.0 == "718-7") == $0.1.contains("event-location") }, "\(located)")
        // DG1[EpisodeOfCare]: with an episode (PV1-54), each diagnosis is the episode's too.
        let adt = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|C1|P|2.5.1", "EVN|A01|20260101120000", "PID|1||M1^^^FAC^MR||Roe^Ann",
                Self.segment("PV1", [1: "1", 2: "I", 19: "V1", 54: "E1"]), "DG1|1||I10^Hypertension^I10|||A|||||||||1",
            ])
        let episode = try #require(adt.first { $0["resourceType"] == .string("EpisodeOfCare") })
        let condition = try #require(adt.first { $0["resourceType"] == .string("Condition") })
        #expect(
            w.string(episode["diagnosis"] ?? .null)
                == #"[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/diagnosis-role","code":"AD","display":"Admission Diagnosis"}]},"rank":1,"condition":{"reference":"Condition/\#(condition["id"]!.stringValue!)"}}]"#,
            "\(w.string(episode["diagnosis"] ?? .null))")
    }

    @Test(
        "segments the maps had left out: VXU's PV2 and notes on its observations, ORU's next of kin and PV2, DFT's and ADT^A60's notes; a note about the patient is no result's"
    )
    func segmentsOnceLeftOut() throws {
        let mapper = try Self.folder.load()
        let w = JSONWriter()
        let vxu = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||VXU^V04^VXU_V04|C1|P|2.5.1", "PID|1||M1^^^FAC^MR||Roe^Ann",
                Self.segment("PV1", [1: "1", 2: "R", 19: "V1"]), Self.segment("PV2", [3: "^Flu shot"]),
                "ORC|RE|P1", "RXA|0|1|20260101||08^HepB^CVX|0.5|mL", "OBX|1|CE|64994-7^Eligibility^LN||V02^VFC^HL70064", "NTE|1||Eligible at visit",
            ])
        let visit = try #require(vxu.first { $0["resourceType"] == .string("Encounter") })
        #expect(w.string(visit["reasonCode"] ?? .null).contains("Flu shot"))
        let eligibility = try #require(vxu.first { $0["resourceType"] == .string("Observation") })
        #expect(w.string(eligibility["note"] ?? .null) == #"[{"text":"Eligible at visit"}]"#)
        let oru = try Self.map(
            mapper,
            [
                "MSH|^~\\&|LAB|FAC|LB|LB|20260101120000+0000||ORU^R01^ORU_R01|C1|P|2.5.1", "PID|1||M1^^^FAC^MR||Roe^Ann", "NTE|1||About the patient",
                "NK1|1|Roe^Bob|SPO^Spouse^HL70063", Self.segment("PV1", [1: "1", 2: "O", 19: "V2"]), Self.segment("PV2", [3: "^Check-up"]),
                "OBR|1|||24317-0^Hemogram^LN", "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL", "NTE|1||About the result",
            ])
        #expect(oru.contains { $0["resourceType"] == .string("RelatedPerson") && w.string($0["name"] ?? .null).contains("Bob") })
        let checkUp = try #require(oru.first { $0["resourceType"] == .string("Encounter") })
        #expect(w.string(checkUp["reasonCode"] ?? .null).contains("Check-up"))
        let notes = oru.compactMap { $0["note"] }.map { w.string($0) }
        #expect(notes == [#"[{"text":"About the result"}]"#], "\(notes)")
        // DFT's notes after a charge, ADT^A60's after an adverse reaction.
        let dft = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||DFT^P03^DFT_P03|C1|P|2.5.1", "EVN|P03|20260101120000", "PID|1||M1^^^FAC^MR||Roe^Ann",
                "FT1|1|T1||20260101|20260101|CG|71045^Xray^C4", "NTE|1||Bill the insurer",
            ])
        #expect(w.string(dft.first { $0["resourceType"] == .string("ChargeItem") }?["note"] ?? .null) == #"[{"text":"Bill the insurer"}]"#)
        let a60 = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A60^ADT_A60|C1|P|2.5.1", "EVN|A60|20260101120000", "PID|1||M1^^^FAC^MR||Roe^Ann",
                "IAM|1|FA^Food allergy^HL70127|227493005^Cashew nuts^SCT|SV^Severe^HL70128", "NTE|1||Seen after dinner",
            ])
        #expect(w.string(a60.first { $0["resourceType"] == .string("AllergyIntolerance") }?["note"] ?? .null) == #"[{"text":"Seen after dinner"}]"#)
    }

    @Test("more of the guide's rules: county, tribal citizenship, congregation, VIP, discharge location, producer, a deleted diagnosis")
    func guideRulesMore() throws {
        let mapper = try Self.folder.load()
        let text = [
            "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|C1|P|2.5.1",
            Self.segment("PID", [1: "1", 3: "M1^^^FAC^MR", 5: "Roe^Ann", 11: "1 Main St^^Springfield^IL", 12: "SANG", 39: "T1^Some Tribe^HL70171"]),
            Self.segment("PD1", [14: "St Mary Church"]),
            Self.segment("PV1", [1: "1", 2: "I", 16: "VIP^Very Important^L", 19: "V1", 37: "22&Homes&L^20260101"]),
            Self.segment("OBX", [1: "1", 2: "ST", 3: "K1^Note^L", 5: "text", 11: "F", 15: "ORGA^Lab A^L"]),
            Self.segment("DG1", [1: "1", 3: "I10^Hypertension^I10", 6: "A", 15: "1", 21: "D"]),
            Self.segment("DG1", [1: "2", 3: "E11^Diabetes^I10", 21: "A"]),
        ].joined(separator: "\r")
        let resources = try mapper.map(try Message(parsing: text + "\r"), context: MappingContext(sender: "APP^FAC"))
        func first(_ type: String) throws -> JSONObject { try #require(resources.first { $0["resourceType"]?.stringValue == type }) }
        let patient = try first("Patient")
        #expect(JSONWriter().string(patient["address"] ?? .null).contains(#""district":"SANG""#))
        let extensions = JSONWriter().string(patient["extension"] ?? .null)
        #expect(
            extensions.contains(
                #"{"url":"http://hl7.org/fhir/StructureDefinition/patient-citizenship","extension":[{"valueCodeableConcept":{"coding":[{"code":"T1","display":"Some Tribe","system":"http://terminology.hl7.org/CodeSystem/v2-0171"}]},"url":"code"}]}"#
            ), "\(extensions)")
        #expect(extensions.contains(#"{"url":"http://hl7.org/fhir/StructureDefinition/patient-congregation","valueString":"St Mary Church"}"#))
        #expect(
            extensions.contains(
                #""url":"http://hl7.org/fhir/StructureDefinition/patient-importance","valueCodeableConcept":{"coding":[{"code":"VIP""#))
        let encounter = try first("Encounter")
        let destination = try #require(encounter["hospitalization"]?.objectValue?["destination"]?.objectValue?["reference"]?.stringValue)
        let location = try #require(resources.first { "Location/\($0["id"]?.stringValue ?? "")" == destination })
        #expect(location["name"]?.stringValue == "Homes")
        #expect(JSONWriter().string(location["type"] ?? .null).contains(#""code":"22""#))
        let observation = try first("Observation")
        let producer = try #require(
            resources.first { r in
                JSONWriter().string(observation["performer"] ?? .null).contains("Organization/\(r["id"]?.stringValue ?? "-")")
            })
        #expect(producer["name"]?.stringValue == "Lab A")
        let conditions = resources.filter { $0["resourceType"]?.stringValue == "Condition" }
        #expect(conditions.count == 2)
        #expect(
            conditions.map { JSONWriter().string($0["verificationStatus"] ?? .null) } == [
                #"{"coding":[{"code":"entered-in-error","system":"http://terminology.hl7.org/CodeSystem/condition-ver-status"}]}"#, "null",
            ], "DG1-21 D deletes; A and U map to nothing")
        // DG1[Encounter]: each diagnosis is the visit's too, with its Condition, role and rank.
        #expect(
            JSONWriter().string(encounter["diagnosis"] ?? .null)
                == #"[{"use":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/diagnosis-role","code":"AD","display":"Admission Diagnosis"}]},"rank":1,"condition":{"reference":"Condition/\#(conditions[0]["id"]!.stringValue!)"}},{"condition":{"reference":"Condition/\#(conditions[1]["id"]!.stringValue!)"}}]"#
        )
        #expect(encounter["status"]?.stringValue == "in-progress")
        // An event that says nothing of the visit (A31, update person): the patient class decides (P, preadmit: planned).
        let a31 = try mapper.map(
            try Message(
                parsing: [
                    "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A31^ADT_A05|C2|P|2.5.1", Self.segment("PID", [1: "1", 3: "M1^^^FAC^MR"]),
                    Self.segment("PV1", [1: "1", 2: "P", 19: "V1"]),
                ].joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
        #expect(a31.first { $0["resourceType"]?.stringValue == "Encounter" }?["status"]?.stringValue == "planned")
    }

    @Test("the guide's rows of 2026-12-04: birth time, nickname, DB1 and IN2 identifiers, the observer and director roles, the device")
    func guideRulesOfTheFourth() throws {
        let mapper = try Self.folder.load()
        let text = [
            "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|C1|P|2.5.1",
            Self.segment("PID", [1: "1", 3: "M1^^^FAC^MR", 5: "Roe^Ann^^^^^L^^^^^^^^Annie", 7: "198808181126+0215"]),
            Self.segment("PV1", [1: "1", 2: "I", 19: "V1"]),
            Self.segment("DB1", [1: "1", 2: "PT", 3: "DB9^^^FAC^MR"]),
            Self.segment("OBX", [1: "1", 2: "ST", 3: "K1^Note^L", 5: "text", 11: "F", 16: "D1^Obs^Olga", 18: "EQ7^^uuid-1^GUID", 25: "D2^Dir^Dan"]),
            Self.segment("IN1", [1: "1", 2: "PLAN1", 3: "INS1^^^FAC", 4: "Insurer"]),
            Self.segment("IN2", [1: "1", 61: "MB77^^^FAC^MB"]),
        ].joined(separator: "\r")
        let resources = try mapper.map(try Message(parsing: text + "\r"), context: MappingContext(sender: "APP^FAC"))
        func all(_ type: String) -> [JSONObject] { resources.filter { $0["resourceType"]?.stringValue == type } }
        let patient = try #require(all("Patient").first)
        #expect(
            JSONWriter().string(patient["_birthDate"] ?? .null)
                == #"{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1988-08-18T11:26:00+02:15"}]}"#
        )
        #expect(JSONWriter().string(patient["name"] ?? .null).contains(#"{"given":["Annie"],"use":"nickname"}"#))
        let identifiers = Set((patient["identifier"]?.arrayValue ?? []).compactMap { $0.objectValue?["value"]?.stringValue })
        #expect(identifiers.isSuperset(of: ["M1", "DB9", "MB77"]), "\(identifiers)")
        let observation = try #require(all("Observation").first)
        let roles = all("PractitionerRole")
        let codes = roles.map { JSONWriter().string($0["code"] ?? .null) }
        #expect(
            codes.contains { $0.contains(#""code":"RO""#) && $0.contains("v2-0443") }
                && codes.contains { $0.contains(#""code":"MDIR""#) && $0.contains("v2-0912") }, "\(codes)")
        let performers = JSONWriter().string(observation["performer"] ?? .null)
        #expect(roles.allSatisfy { performers.contains("PractitionerRole/\($0["id"]!.stringValue!)") && $0["practitioner"] != nil })
        let device = try #require(all("Device").first)
        #expect(observation["device"]?.objectValue?["reference"]?.stringValue == "Device/\(device["id"]!.stringValue!)")
        #expect(JSONWriter().string(device["identifier"] ?? .null) == #"[{"value":"EQ7","system":"urn:uuid:uuid-1"}]"#)
    }

    @Test("an ORU's OBR without an SPM: its specimen fields make the report's Specimen (the guide's OBR[Specimen]); with an SPM, the SPM's")
    func specimenFromOBR() throws {
        let mapper = try Self.folder.load()
        func mapped(_ segments: [String]) throws -> [JSONObject] {
            let text = (["MSH|^~\\&|LAB|FAC|LB|LB|20260101120000+0000||ORU^R01^ORU_R01|C1|P|2.3", "PID|1||M1^^^FAC^MR||Roe^Ann"] + segments)
                .joined(separator: "\r")
            return try mapper.map(try Message(parsing: text + "\r"), context: MappingContext(sender: "LAB^FAC"))
        }
        let obr = Self.segment(
            "OBR",
            [
                1: "1", 2: "P1", 3: "F1", 4: "24317-0^Hemogram^LN", 7: "202601010800+0000", 10: "^COLLECT^JOHN", 14: "202601010930+0000",
                15: "BLD&Blood",
            ])
        let resources = try mapped([obr, "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|||||F"])
        let specimen = try #require(resources.first { $0["resourceType"]?.stringValue == "Specimen" })
        #expect(JSONWriter().string(specimen["type"] ?? .null) == #"{"coding":[{"code":"BLD","display":"Blood"}]}"#)
        #expect(JSONWriter().string(specimen["collection"] ?? .null).contains(#""collectedDateTime":"2026-01-01T08:00:00+00:00""#))
        #expect(specimen["receivedTime"]?.stringValue == "2026-01-01T09:30:00+00:00")
        #expect(specimen["collection"]?.objectValue?["collector"] != nil, "a collector with a name and no id is still the collector")
        let report = try #require(resources.first { $0["resourceType"]?.stringValue == "DiagnosticReport" })
        #expect(JSONWriter().string(report["specimen"] ?? .null) == #"[{"reference":"Specimen/\#(specimen["id"]!.stringValue!)"}]"#)

        let withSPM = try mapped([obr, "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|||||F", "SPM|1|S1||BLD^Whole blood^HL70487"])
        #expect(withSPM.filter { $0["resourceType"]?.stringValue == "Specimen" }.count == 1, "the SPM describes it: no second Specimen")
    }

    @Test("SPM's rows of 2026-12-07: amount, collection range, availability, the container's additive, accession and other ids")
    func specimenFromSPM() throws {
        let mapper = try Self.folder.load()
        let spm = Self.segment(
            "SPM",
            [
                1: "1", 2: "S1&LAB", 3: "PARENT-1&LAB", 4: "BLD^Whole blood^HL70487^C12434^Blood^NCIT", 6: "EDTK", 12: "5^mL&milliliter&UCUM",
                17: "202601010800+0000^202601010815+0000", 20: "N", 24: "CLOT^Clotted^HL70493~HEM", 27: "LAV^Lavender top^HL70785",
                30: "ACC-9^^^LAB&1.2.3&ISO", 31: "OTHER-1^^^LAB~OTHER-2^^^LAB",
            ])
        let text = [
            "MSH|^~\\&|LAB|FAC|LB|LB|20260101120000+0000||ORU^R01^ORU_R01|C1|P|2.5.1", "PID|1||M1^^^FAC^MR||Roe^Ann",
            "OBR|1|P1|F1|24317-0^Hemogram^LN", "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|||||F", spm,
        ].joined(separator: "\r")
        let resources = try mapper.map(try Message(parsing: text + "\r"), context: MappingContext(sender: "LAB^FAC"))
        let specimen = try #require(resources.first { $0["resourceType"]?.stringValue == "Specimen" })
        let w = JSONWriter()
        let collection = w.string(specimen["collection"] ?? .null)
        #expect(collection.contains(#""quantity":{"value":5,"code":"mL","unit":"milliliter","system":"http://unitsofmeasure.org"}"#), "\(collection)")
        #expect(collection.contains(#""collectedPeriod":{"start":"2026-01-01T08:00:00+00:00","end":"2026-01-01T08:15:00+00:00"}"#))
        #expect(!collection.contains("collectedDateTime"), "a range, not its start as the time")
        #expect(specimen["status"]?.stringValue == "unavailable")
        // The alternate code beside the table 0487 code (it had been dropped); NCIT (table 0396) is the NCI Thesaurus,
        // by THO's URI.
        #expect(
            w.string(specimen["type"] ?? .null)
                .contains(
                    #""code":"BLD","display":"Whole blood"},{"code":"C12434","display":"Blood","system":"http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"}]"#
                ))
        #expect(
            w.string(specimen["condition"] ?? .null).contains(#""code":"HEM""#),
            "every repetition of SPM-24: \(w.string(specimen["condition"] ?? .null))")
        let container = w.string(specimen["container"] ?? .null)
        #expect(
            container.hasPrefix(#"[{"type":"#)
                && container.contains(
                    #""additiveCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0371","code":"EDTK""#),
            "one container: \(container)")
        #expect(w.string(specimen["accessionIdentifier"] ?? .null).contains(#""value":"ACC-9","system":"urn:oid:1.2.3""#))
        let ids = specimen["identifier"]?.arrayValue?.compactMap { $0.objectValue?["value"]?.stringValue } ?? []
        #expect(ids == ["S1", "OTHER-1", "OTHER-2"], "\(ids)")
        #expect(w.string(specimen["parent"] ?? .null) == #"[{"identifier":{"value":"PARENT-1","assigner":{"display":"LAB"}},"type":"Specimen"}]"#)
        #expect(FHIRValidator().validate(specimen).filter { $0.severity == .error }.isEmpty)
    }

    @Test("the guide's rows of session 17: OBX-10/29/30, SPM-32, PRT-24, PR1-16, XPN.11, XCN.18, XAD.10, XTN.8 and SN.1 of a ratio")
    func guideRowsOfSession17() throws {
        let mapper = try Self.folder.load()
        let text = [
            "MSH|^~\\&|LAB|FAC|LB|LB|20260101120000+0000||ORU^R01^ORU_R01|C1|P|2.5.1",
            Self.segment(
                "PID", [1: "1", 3: "M1^^^FAC^MR", 5: "Roe^Ann^^^^^L^^^^F", 11: "1 Main^^Town^ST^12345^^^^^T123", 13: "^PRN^PH^^1^555^1234567^88"]),
            Self.segment("OBR", [1: "1", 2: "P1", 3: "F1", 4: "24317-0^Hemogram^LN", 16: "D1^Doe^Jo^^^^^^^^^^^^^^^F"]),
            Self.segment("OBX", [1: "1", 2: "SN", 3: "718-7^Hemoglobin^LN", 5: ">^13.5^:^2", 10: "A~S", 11: "F", 29: "RSLT", 30: "AOE"]),
            Self.segment("SPM", [1: "1", 2: "S1", 4: "BLD", 32: "SHIP-1^LAB"]),
            Self.segment("PRT", [1: "1", 2: "AD", 4: "OP^Ordering provider^HL70912", 5: "P9^Poe^Al", 24: "LIC-7^DEA^TX^20301231"]),
        ].joined(separator: "\r")
        let resources = try mapper.map(try Message(parsing: text + "\r"), context: MappingContext(sender: "LAB^FAC"))
        let w = JSONWriter()
        func first(_ type: String) -> JSONObject? { resources.first { $0["resourceType"]?.stringValue == type } }
        let observation = try #require(first("Observation"))
        let extensions = w.string(observation["extension"] ?? .null)
        #expect(extensions.contains(#""valueCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0080","code":"S","#))
        #expect(extensions.components(separatedBy: "observation-nature-of-abnormal-test").count == 3, "every repetition of OBX-10")
        #expect(
            extensions.contains(
                #""url":"http://hl7.org/fhir/StructureDefinition/observation-structure-type","valueCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0937","code":"AOE"}]}"#
            ))
        #expect(
            w.string(observation["category"] ?? .null).contains(
                #"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0936","code":"RSLT"}]}"#))
        #expect(w.string(observation["valueRatio"] ?? .null) == #"{"numerator":{"value":13.5,"comparator":">"},"denominator":{"value":2}}"#)
        let specimen = try #require(first("Specimen"))
        #expect(
            w.string(specimen["identifier"] ?? .null).contains(#""value":"SHIP-1","#)
                && w.string(specimen["identifier"] ?? .null).contains(#""code":"SHIP""#))
        let patient = try #require(first("Patient"))
        let order = #"{"url":"http://hl7.org/fhir/StructureDefinition/humanname-assembly-order","valueCode":"F"}"#
        #expect(w.string(patient["name"] ?? .null).contains(order))
        #expect(
            w.string(patient["address"] ?? .null).contains(
                #"{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-censusTract","valueString":"T123"}"#))
        #expect(
            w.string(patient["telecom"] ?? .null).contains(
                #"{"url":"http://hl7.org/fhir/StructureDefinition/contactpoint-extension","valueString":"88"}"#))
        let practitioner = try #require(
            resources.first { $0["resourceType"]?.stringValue == "Practitioner" && w.string($0["name"] ?? .null).contains("Doe") })
        #expect(w.string(practitioner["name"] ?? .null).contains(order))
        // PRT-24: the person's license (PLN) as an identifier of the role, its type through table 0338.
        let role = try #require(first("PractitionerRole"))
        #expect(
            w.string(role["identifier"] ?? .null).contains(
                #"{"value":"LIC-7","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0338","code":"DEA","display":"Drug Enforcement Agency no."}]},"period":{"end":"2030-12-31"}}"#
            ))
        // PR1-16: the procedure code with its modifier.
        let adt = try mapper.map(
            try Message(
                parsing: [
                    "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|C2|P|2.5.1", "PID|1||M1^^^FAC^MR||Roe^Ann",
                    "PV1|1|I", Self.segment("PR1", [1: "1", 3: "99213^Office visit^C4", 5: "20260101", 16: "25^Significant E/M^C4~59"]),
                ].joined(separator: "\r") + "\r"), context: MappingContext(sender: "APP^FAC"))
        let procedure = try #require(adt.first { $0["resourceType"]?.stringValue == "Procedure" })
        #expect(
            w.string(procedure["code"] ?? .null)
                == #"{"coding":[{"code":"99213:25","display":"Office visit","system":"http://www.ama-assn.org/go/cpt"}]}"#)
        for r in resources { #expect(FHIRValidator().validate(r).filter { $0.severity == .error }.isEmpty, "\(r["resourceType"]!)") }
    }

    @Test("SFT, the sending software, as the guide's SFT[Device]: version with its install date, product name, binary id as model number")
    func softwareDevice() throws {
        let mapper = try Self.folder.load()
        let text = [
            "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0100||ADT^A01^ADT_A01|C1|P|2.5.1",
            "SFT|Orion|2.4.3.52854|Rhapsody|2.4.3|Integration engine|20070725111624", "PID|1||M1^^^FAC^MR||Roe^Ann",
        ].joined(separator: "\r")
        let resources = try mapper.map(try Message(parsing: text + "\r"), context: MappingContext(sender: "APP^FAC"))
        let device = try #require(resources.first { $0["resourceType"]?.stringValue == "Device" })
        #expect(device["modelNumber"]?.stringValue == "2.4.3")
        #expect(device["identifier"] == nil, "the binary id is the model number, not an identifier of this device")
        #expect(
            JSONWriter().string(device["version"] ?? .null)
                == #"[{"value":"2.4.3.52854","extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Device.version.installDate","valueDateTime":"2007-07-25T11:16:24+01:00"}]}]"#
        )
        #expect(FHIRValidator().validate(device).filter { $0.severity == .error }.isEmpty)
    }

    @Test(
        "the guide's rows of 2026-12-07: PD1-6 (not PD1-12) as the disability, NK1-37 as an SSN, AIP's role and start, ORC-33/38 ids, parents, OBR-11, AIS-10"
    )
    func guideRowsOfDecember7() throws {
        let mapper = try Self.folder.load()
        let w = JSONWriter()
        let adt = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0100||ADT^A01^ADT_A01|C1|P|2.5.1",
                "PID|1||M1^7^M10^FAC^MR~123456789^^^USSSA&2.16.840.1.113883.4.1&ISO^SS||Roe^Ann",
                Self.segment("PD1", [6: "B^Blind^L", 12: "Y"]),
                Self.segment("NK1", [1: "1", 2: "Roe^Bob", 3: "SPO^Spouse^HL70063", 37: "123-45-6789"]),
                "PV1|1|I", Self.segment("DG1", [1: "1", 3: "I10^Hypertension^I10", 22: "DX-1^APP"]),
                Self.segment("PR1", [1: "1", 3: "76164006^Biopsy of colon^SCT", 19: "PR-2^APP", 25: "PR-1^APP"]),
            ])
        let patient = try #require(adt.first { $0["resourceType"]?.stringValue == "Patient" })
        let extensions = w.string(patient["extension"] ?? .null)
        #expect(
            extensions.contains(
                #"{"url":"http://hl7.org/fhir/StructureDefinition/patient-disability","valueCodeableConcept":{"coding":[{"code":"B","display":"Blind""#
            ),
            "\(extensions)")
        #expect(!extensions.contains(#""code":"Y""#), "PD1-12 is the protection indicator, not a disability")
        let firstIdentifier = w.string(patient["identifier"]?.arrayValue?.first ?? .null)
        #expect(
            firstIdentifier.contains(
                #""extension":[{"url":"http://hl7.org/fhir/StructureDefinition/identifier-checkDigit","valueString":"7"},{"url":"http://hl7.org/fhir/StructureDefinition/namingsystem-checkDigit","valueString":"M10"}]"#
            ), "CX-2 and CX-3, the check digit and its scheme")
        let ssn = patient["identifier"]?.arrayValue?.compactMap(\.objectValue).first { $0["value"] == .string("123456789") }
        #expect(ssn?["system"] == .string("http://hl7.org/fhir/sid/us-ssn"), "an authority in FHIR's identifier registry: its URI, not urn:oid:")
        let related = try #require(adt.first { $0["resourceType"]?.stringValue == "RelatedPerson" })
        #expect(
            w.string(related["identifier"] ?? .null)
                == #"[{"value":"123-45-6789","system":"http://hl7.org/fhir/sid/us-ssn","type":{"coding":[{"code":"SS","system":"http://terminology.hl7.org/CodeSystem/v2-0203"}]}}]"#
        )

        let siu = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0100||SIU^S12^SIU_S12|C2|P|2.5.1",
                Self.segment("SCH", [1: "A1^APP", 2: "A1^APP", 26: "P9^APP"]),
                "PID|1||M1^^^FAC^MR||Roe^Ann",
                "AIS|1||99213^Office visit^CPT|20260110093000||||||Pending", "AIP|1||1210^GE^Robert|010^Gastroenterologist^L||20260110093000",
            ])
        let appointment = try #require(siu.first { $0["resourceType"]?.stringValue == "Appointment" })
        #expect(appointment["status"] == .string("pending"), "AIS-10, over the SCH's default status")
        let participants = appointment["participant"]?.arrayValue ?? []
        let personnel = try #require(participants.first { $0.objectValue?["type"] != nil }?.objectValue)
        #expect(personnel["actor"] != nil && personnel["status"] == .string("accepted"))
        #expect(w.string(personnel["period"] ?? .null) == #"{"start":"2026-01-10T09:30:00+01:00"}"#)
        #expect(w.string(appointment["basedOn"] ?? .null).contains(#"{"identifier":{"value":"P9","#), "SCH-26: the order it is for")
        let procedure = try #require(adt.first { $0["resourceType"]?.stringValue == "Procedure" })
        #expect(w.string(procedure["partOf"] ?? .null).contains(#"{"identifier":{"value":"PR-1","#), "PR1-25, the parent procedure")
        let condition = try #require(adt.first { $0["resourceType"]?.stringValue == "Condition" })
        #expect(
            w.string(condition["extension"] ?? .null)
                == #"[{"url":"http://hl7.org/fhir/StructureDefinition/condition-dueTo","valueReference":{"identifier":{"value":"DX-1","assigner":{"display":"APP"}}}}]"#
        )

        let orm = try Self.map(
            mapper,
            [
                "MSH|^~\\&|APP|FAC|LB|LB|20260101120000+0100||ORM^O01^ORM_O01|C3|P|2.5.1", "PID|1||M1^^^FAC^MR||Roe^Ann",
                Self.segment("ORC", [1: "NW", 2: "P1^APP", 33: "ALT-7^^^APP", 38: "FG-9^LAB"]),
                Self.segment("OBR", [1: "1", 2: "P1^APP", 4: "24317-0^Hemogram^LN", 11: "G", 29: "P0&APP^F0&LAB"]),
            ])
        let order = try #require(orm.first { $0["resourceType"]?.stringValue == "ServiceRequest" })
        func typeCode(of value: String) -> String? {
            let identifier = order["identifier"]?.arrayValue?.compactMap(\.objectValue).first { $0["value"]?.stringValue == value }
            return identifier?["type"]?.objectValue?["coding"]?.arrayValue?.first?.objectValue?["code"]?.stringValue
        }
        #expect(typeCode(of: "ALT-7") == "PLAC" && typeCode(of: "FG-9") == "FGN", "\(w.string(order["identifier"] ?? .null))")
        let parents = order["basedOn"]?.arrayValue?.compactMap { $0.objectValue?["identifier"]?.objectValue?["value"]?.stringValue }
        #expect(parents == ["P0", "F0"], "OBR-29, the parent order's placer and filler numbers")
        #expect(order["intent"] == .string("reflex-order"), "OBR-11 G, over the ORC's default intent")
        for r in adt + siu + orm { #expect(FHIRValidator().validate(r).filter { $0.severity == .error }.isEmpty, "\(r)") }
    }

    struct Verdict: Decodable {
        var file: String
        var valid: Bool
        var errors: [String]
    }

    /// The official FHIR R4 JSON Schema's verdict on each resource (scripts/validate_fhir_jsonschema.py).
    static func judge(_ resources: [(String, JSONObject)]) async throws -> [String: Verdict] {
        let dir = NSTemporaryDirectory() + "lb-mapped-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var paths: [String: String] = [:]
        for (name, resource) in resources {
            let path = dir + "/" + name
            try Data(FHIRJSON().write(resource)).write(to: URL(fileURLWithPath: path))
            paths[path] = name
        }
        let schema = TestEnvironment.packageRoot + "/Tests/FHIRTests/Fixtures/fhir.schema.json"
        var verdicts: [String: Verdict] = [:]
        // In chunks: one argument list for thousands of files is too long for some systems.
        let all = paths.keys.sorted()
        for start in stride(from: 0, to: all.count, by: 500) {
            let chunk = Array(all[start..<min(start + 500, all.count)])
            let result = try await TestEnvironment.runPython(script: "scripts/validate_fhir_jsonschema.py", [schema] + chunk)
            for line in result.output.split(separator: "\n") {
                let v = try JSONDecoder().decode(Verdict.self, from: Data(line.utf8))
                verdicts[paths[v.file]!] = v
            }
        }
        return verdicts
    }
}
