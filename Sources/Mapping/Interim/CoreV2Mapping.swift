import Crypto
import FHIR
import HL7v2

/// The built-in mapping the gateway uses until the declarative engine of issue #4 reads `Mappings/`: the core of the
/// HL7 v2-to-FHIR guide for the segments every feed has.
///
/// - PID → Patient (identifiers, names, birth date, gender by table 0001, addresses, phones), for every message with a PID;
/// - PV1 → Encounter (class by table 0004, status by trigger event, visit number), subject → the Patient;
/// - OBR → DiagnosticReport and each OBX after it → Observation (value by OBX-2, status by OBX-11), for ORU/OUL/MDM-like
///   messages; result and subject references connect them.
///
/// Message types without a PID are not mapped (dead-lettered with the reason), as are messages whose PID has no
/// identifier: without one there is no stable id, and inventing one would create duplicates.
public struct CoreV2Mapping: MessageMapper {
    public static let name = "interim-core-v2"
    /// Bumped whenever the rules below change, so stored records name the rules that produced them.
    public static let revision = 1

    public let version: String

    public init() {
        let digest = SHA256.hash(data: Array("\(Self.name)/\(Self.revision)".utf8))
        version = digest.map { b in String(b, radix: 16).count == 1 ? "0" + String(b, radix: 16) : String(b, radix: 16) }.joined()
    }

    public func map(_ message: Message, context: MappingContext) throws(MappingError) -> [JSONObject] {
        let type = [message.messageCode, message.triggerEvent].compactMap { $0 }.joined(separator: "^")
        guard let pid = message.segment("PID") else {
            throw MappingError(.unmappedType, location: "MSH-9", reason: "no mapping for \(type.isEmpty ? "this message" : type) (it has no PID)")
        }
        let sendingFacility = message.segment(at: 0).value(field: 4) ?? ""
        let namespaceFallback = sendingFacility.isEmpty ? context.sender : sendingFacility
        let zone = V2Time.zone(of: message.segment(at: 0).value(field: 7))

        var patient = try self.patient(pid, namespaceFallback: namespaceFallback)
        let patientID = patient["id"]!.stringValue!
        let patientReference = JSONValue.object(JSONObject([("reference", .string("Patient/\(patientID)"))]))
        var resources: [JSONObject] = []

        if message.triggerEvent == "A04" || message.triggerEvent == "A28" || message.triggerEvent == "A31" {
            patient["active"] = .bool(true)
        }
        resources.append(patient)

        if let pv1 = message.segment("PV1") {
            if let encounter = encounter(pv1, message: message, subject: patientReference, namespaceFallback: namespaceFallback, zone: zone) {
                resources.append(encounter)
            }
        }
        resources += try results(message, subject: patientReference, namespaceFallback: namespaceFallback, zone: zone)
        return resources
    }

    // MARK: - Patient

    private func patient(_ pid: Segment, namespaceFallback: String) throws(MappingError) -> JSONObject {
        var identifiers: [JSONValue] = []
        var idSource: (namespace: String, value: String)? = nil
        for rep in 1...max(1, pid.repetitionCount(field: 3)) {
            guard let value = nonEmpty(pid.value(field: 3, repetition: rep, component: 1)) else { continue }
            let namespace = nonEmpty(pid.value(field: 3, repetition: rep, component: 4, subcomponent: 1))
            let universal = nonEmpty(pid.value(field: 3, repetition: rep, component: 4, subcomponent: 2))
            let universalType = nonEmpty(pid.value(field: 3, repetition: rep, component: 4, subcomponent: 3))
            var identifier = JSONObject()
            if let typeCode = nonEmpty(pid.value(field: 3, repetition: rep, component: 5)) {
                identifier["type"] = .object(
                    JSONObject([("coding", .array([coding(system: "http://terminology.hl7.org/CodeSystem/v2-0203", code: typeCode)]))]))
            }
            if let universal, universalType == "ISO", universal.allSatisfy({ $0.isNumber || $0 == "." }) {
                identifier["system"] = .string("urn:oid:\(universal)")
            }
            identifier["value"] = .string(value)
            if let assigner = namespace ?? universal {
                identifier["assigner"] = .object(JSONObject([("display", .string(assigner))]))
            }
            identifiers.append(.object(identifier))
            if idSource == nil { idSource = (namespace ?? universal ?? namespaceFallback, value) }
        }
        // v2.3 and earlier messages often carry the MRN in PID-2 (external id) only.
        if idSource == nil, let external = nonEmpty(pid.value(field: 2)) {
            identifiers.append(.object(JSONObject([("value", .string(external))])))
            idSource = (namespaceFallback, external)
        }
        guard let idSource else {
            throw MappingError(.missingRequired, location: "PID-3", reason: "the patient has no identifier to derive a stable id from")
        }
        var patient = JSONObject()
        patient["resourceType"] = .string("Patient")
        patient["id"] = .string(StableID.make(type: "Patient", namespace: idSource.namespace, value: idSource.value))
        patient["identifier"] = .array(identifiers)

        var names: [JSONValue] = []
        for rep in 1...max(1, pid.repetitionCount(field: 5)) {
            var name = JSONObject()
            if let family = nonEmpty(pid.value(field: 5, repetition: rep, component: 1)) { name["family"] = .string(family) }
            let given = [2, 3].compactMap { nonEmpty(pid.value(field: 5, repetition: rep, component: $0)) }
            if !given.isEmpty { name["given"] = .array(given.map(JSONValue.string)) }
            if let prefix = nonEmpty(pid.value(field: 5, repetition: rep, component: 5)) { name["prefix"] = .array([.string(prefix)]) }
            if let suffix = nonEmpty(pid.value(field: 5, repetition: rep, component: 4)) { name["suffix"] = .array([.string(suffix)]) }
            if let use = nonEmpty(pid.value(field: 5, repetition: rep, component: 7)), let fhirUse = Self.nameUse[use] {
                name["use"] = .string(fhirUse)
            }
            if name.count > 0 { names.append(.object(name)) }
        }
        if !names.isEmpty { patient["name"] = .array(names) }

        var telecoms: [JSONValue] = []
        for (field, use) in [(13, "home"), (14, "work")] {
            for rep in 1...max(1, pid.repetitionCount(field: field)) {
                let email = nonEmpty(pid.value(field: field, repetition: rep, component: 4))
                guard let value = nonEmpty(pid.value(field: field, repetition: rep, component: 1)) ?? email else { continue }
                let system = email != nil && value == email ? "email" : "phone"
                telecoms.append(.object(JSONObject([("system", .string(system)), ("value", .string(value)), ("use", .string(use))])))
            }
        }
        if !telecoms.isEmpty { patient["telecom"] = .array(telecoms) }

        if let sex = nonEmpty(pid.value(field: 8)) { patient["gender"] = .string(Self.gender[sex] ?? "unknown") }
        if let birth = V2Time.date(pid.value(field: 7)) { patient["birthDate"] = .string(birth) }
        if let deceased = nonEmpty(pid.value(field: 30)), deceased == "Y" || deceased == "N" {
            patient["deceasedBoolean"] = .bool(deceased == "Y")
        }

        var addresses: [JSONValue] = []
        for rep in 1...max(1, pid.repetitionCount(field: 11)) {
            var address = JSONObject()
            let lines = [1, 2].compactMap { nonEmpty(pid.value(field: 11, repetition: rep, component: $0)) }
            if !lines.isEmpty { address["line"] = .array(lines.map(JSONValue.string)) }
            for (component, key) in [(3, "city"), (4, "state"), (5, "postalCode"), (6, "country")] {
                if let v = nonEmpty(pid.value(field: 11, repetition: rep, component: component)) { address[key] = .string(v) }
            }
            if address.count > 0 { addresses.append(.object(address)) }
        }
        if !addresses.isEmpty { patient["address"] = .array(addresses) }
        return patient
    }

    // MARK: - Encounter

    private func encounter(
        _ pv1: Segment, message: Message, subject: JSONValue, namespaceFallback: String, zone: String?
    ) -> JSONObject? {
        let classCode = nonEmpty(pv1.value(field: 2))
        let visitNumber = nonEmpty(pv1.value(field: 19))
        // PV1 with neither a class nor a visit number (common in ORU) says nothing about an encounter.
        guard classCode != nil || visitNumber != nil else { return nil }
        let idValue: (String, String)
        if let visitNumber {
            let authority = nonEmpty(pv1.value(field: 19, component: 4, subcomponent: 1)) ?? namespaceFallback
            idValue = (authority, visitNumber)
        } else {
            idValue = ("message:\(namespaceFallback)", message.controlID ?? "")
        }
        var encounter = JSONObject()
        encounter["resourceType"] = .string("Encounter")
        encounter["id"] = .string(StableID.make(type: "Encounter", namespace: idValue.0, value: idValue.1))
        if let visitNumber { encounter["identifier"] = .array([.object(JSONObject([("value", .string(visitNumber))]))]) }
        encounter["status"] = .string(Self.encounterStatus[message.triggerEvent ?? ""] ?? "unknown")
        let actClass = classCode.flatMap { Self.encounterClass[$0] }
        encounter["class"] = .object(
            JSONObject([
                (
                    "system",
                    .string(actClass == nil ? "http://terminology.hl7.org/CodeSystem/v2-0004" : "http://terminology.hl7.org/CodeSystem/v3-ActCode")
                ),
                ("code", .string(actClass?.code ?? classCode ?? "UNK")),
                ("display", .string(actClass?.display ?? "unknown")),
            ]))
        encounter["subject"] = subject
        var period = JSONObject()
        if let start = V2Time.dateTime(pv1.value(field: 44), zone: zone) { period["start"] = .string(start) }
        if let end = V2Time.dateTime(pv1.value(field: 45), zone: zone) { period["end"] = .string(end) }
        if period.count > 0 { encounter["period"] = .object(period) }
        return encounter
    }

    // MARK: - Results

    private func results(_ message: Message, subject: JSONValue, namespaceFallback: String, zone: String?) throws(MappingError) -> [JSONObject] {
        var out: [JSONObject] = []
        var report: JSONObject? = nil
        var reportID = ""
        var resultRefs: [JSONValue] = []
        var observationIDs = Set<String>()
        var obxCount = 0
        func closeReport() {
            guard var r = report else { return }
            if !resultRefs.isEmpty { r["result"] = .array(resultRefs) }
            out.append(r)
            report = nil
            resultRefs = []
        }
        var obrCount = 0
        for segment in message.segments {
            switch segment.id {
            case "OBR":
                closeReport()
                obrCount += 1
                let order = nonEmpty(segment.value(field: 3)) ?? nonEmpty(segment.value(field: 2))
                let authority =
                    nonEmpty(segment.value(field: 3, component: 2)) ?? nonEmpty(segment.value(field: 2, component: 2)) ?? namespaceFallback
                reportID = StableID.make(
                    type: "DiagnosticReport", namespace: order == nil ? "message:\(namespaceFallback)|\(message.controlID ?? "")" : authority,
                    value: order ?? String(obrCount))
                var r = JSONObject()
                r["resourceType"] = .string("DiagnosticReport")
                r["id"] = .string(reportID)
                if let order { r["identifier"] = .array([.object(JSONObject([("value", .string(order))]))]) }
                r["status"] = .string(Self.reportStatus[segment.value(field: 25) ?? ""] ?? "unknown")
                guard let code = codeableConcept(segment, field: 4) else {
                    throw MappingError(.missingRequired, location: "OBR[\(obrCount)]-4", reason: "the report has no service code")
                }
                r["code"] = .object(code)
                r["subject"] = subject
                if let when = V2Time.dateTime(segment.value(field: 7), zone: zone) { r["effectiveDateTime"] = .string(when) }
                if let issued = V2Time.instant(segment.value(field: 22), zone: zone) { r["issued"] = .string(issued) }
                report = r
            case "OBX":
                obxCount += 1
                guard let code = codeableConcept(segment, field: 3) else {
                    throw MappingError(.missingRequired, location: "OBX[\(obxCount)]-3", reason: "the observation has no code")
                }
                let codeKey = segment.value(field: 3) ?? ""
                var key =
                    "\(reportID.isEmpty ? "message:\(namespaceFallback)|\(message.controlID ?? "")" : reportID)|\(codeKey)|\(segment.value(field: 4) ?? "")"
                var id = StableID.make(type: "Observation", namespace: namespaceFallback, value: key)
                if observationIDs.contains(id) {
                    key += "|\(obxCount)"
                    id = StableID.make(type: "Observation", namespace: namespaceFallback, value: key)
                }
                observationIDs.insert(id)
                var o = JSONObject()
                o["resourceType"] = .string("Observation")
                o["id"] = .string(id)
                o["status"] = .string(Self.observationStatus[segment.value(field: 11) ?? ""] ?? "unknown")
                o["code"] = .object(code)
                o["subject"] = subject
                if let when = V2Time.dateTime(segment.value(field: 14), zone: zone) { o["effectiveDateTime"] = .string(when) }
                if let (key, value) = observationValue(segment) { o[key] = value }
                if let flag = nonEmpty(segment.value(field: 8)) {
                    o["interpretation"] = .array([
                        .object(
                            JSONObject([("coding", .array([coding(system: "http://terminology.hl7.org/CodeSystem/v2-0078", code: flag)]))]))
                    ])
                }
                if let range = nonEmpty(segment.value(field: 7)) {
                    o["referenceRange"] = .array([.object(JSONObject([("text", .string(range))]))])
                }
                out.append(o)
                if report != nil { resultRefs.append(.object(JSONObject([("reference", .string("Observation/\(id)"))]))) }
            default:
                continue
            }
        }
        closeReport()
        return out
    }

    private func observationValue(_ obx: Segment) -> (String, JSONValue)? {
        let valueType = obx.value(field: 2) ?? ""
        guard let raw = nonEmpty(obx.value(field: 5)) else { return nil }
        switch valueType {
        case "NM":
            guard FHIRValidator.isValidPrimitive(raw, type: "decimal") else { return ("valueString", .string(raw)) }
            var quantity = JSONObject([("value", .number(raw))])
            if let unit = nonEmpty(obx.value(field: 6)) {
                quantity["unit"] = .string(unit)
                if obx.value(field: 6, component: 3) == "UCUM" {
                    quantity["system"] = .string("http://unitsofmeasure.org")
                    quantity["code"] = .string(unit)
                }
            }
            return ("valueQuantity", .object(quantity))
        case "CE", "CWE", "CNE", "CF":
            return codeableConcept(obx, field: 5).map { ("valueCodeableConcept", .object($0)) }
        default:
            // ST, TX, FT and anything else: the text, components joined as sent.
            let reps = (1...max(1, obx.repetitionCount(field: 5))).compactMap { nonEmpty(obx.value(field: 5, repetition: $0)) }
            return ("valueString", .string(reps.joined(separator: "\n")))
        }
    }

    // MARK: - Datatypes

    private func codeableConcept(_ segment: Segment, field: Int) -> JSONObject? {
        var codings: [JSONValue] = []
        for (code, display, system) in [(1, 2, 3), (4, 5, 6)] {
            guard let c = nonEmpty(segment.value(field: field, component: code)) else { continue }
            var coding = JSONObject()
            if let s = nonEmpty(segment.value(field: field, component: system)) { coding["system"] = .string(Self.codeSystem(s)) }
            coding["code"] = .string(c)
            if let d = nonEmpty(segment.value(field: field, component: display)) { coding["display"] = .string(d) }
            codings.append(.object(coding))
        }
        var concept = JSONObject()
        if !codings.isEmpty { concept["coding"] = .array(codings) }
        if let text = nonEmpty(segment.value(field: field, component: 9)) ?? nonEmpty(segment.value(field: field, component: 2)) {
            concept["text"] = .string(text)
        }
        return concept.count > 0 ? concept : nil
    }

    private func coding(system: String, code: String) -> JSONValue {
        .object(JSONObject([("system", .string(system)), ("code", .string(code))]))
    }

    /// HL7 table 0396 names of the common code systems, as FHIR URIs; others stay as a v2 system name URI.
    static func codeSystem(_ v2: String) -> String {
        switch v2 {
        case "LN": "http://loinc.org"
        case "SCT", "SNM", "SNM3": "http://snomed.info/sct"
        case "I10", "I10C", "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm"
        case "I9", "I9C", "ICD9CM": "http://hl7.org/fhir/sid/icd-9-cm"
        case "CPT", "C4": "http://www.ama-assn.org/go/cpt"
        case "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm"
        case "CVX": "http://hl7.org/fhir/sid/cvx"
        case "UCUM": "http://unitsofmeasure.org"
        case "NDC": "http://hl7.org/fhir/sid/ndc"
        default:
            if v2.hasPrefix("HL7"), v2.count == 7 {
                "http://terminology.hl7.org/CodeSystem/v2-\(v2.dropFirst(3))"
            } else {
                "urn:ledgerbridge:v2-coding-system:\(v2.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." })"
            }
        }
    }

    // MARK: - Vocabularies (tables 0001, 0004, 0085, 0123, 0200; trigger events)

    static let gender = ["M": "male", "F": "female", "O": "other", "A": "other", "N": "other", "U": "unknown"]
    static let nameUse = ["L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous", "B": "old", "S": "temp"]
    static let encounterClass: [String: (code: String, display: String)] = [
        "E": ("EMER", "emergency"), "I": ("IMP", "inpatient encounter"), "O": ("AMB", "ambulatory"),
        "P": ("PRENC", "pre-admission"), "R": ("IMP", "inpatient encounter"), "B": ("IMP", "inpatient encounter"),
    ]
    static let encounterStatus = [
        "A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "arrived", "A05": "planned", "A06": "in-progress",
        "A07": "in-progress", "A08": "in-progress", "A11": "cancelled", "A13": "in-progress", "A14": "planned", "A27": "cancelled",
        "A38": "cancelled",
    ]
    static let observationStatus = [
        "F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled", "D": "entered-in-error", "R": "preliminary",
        "I": "registered", "S": "preliminary", "W": "entered-in-error", "A": "amended",
    ]
    static let reportStatus = [
        "F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled", "R": "preliminary", "I": "registered",
        "S": "partial", "A": "partial", "O": "registered",
    ]
}

@inline(__always)
func nonEmpty(_ s: String?) -> String? {
    guard let s, !s.isEmpty, s != "\"\"" else { return nil }
    return s
}
