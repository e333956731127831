import FHIR

/// One search key of a resource's current version, indexed at write time so reads never re-parse bodies.
public struct SearchKey: Sendable, Hashable {
    /// The search parameter's code (`identifier`, `patient`, `code`, `date`, …).
    public var parameter: String
    /// Token system, or nil.
    public var system: String?
    /// Token code, string (lower-cased), reference (`Patient/123`) or date (as written, ISO 8601).
    public var value: String

    public init(parameter: String, system: String? = nil, value: String) {
        self.parameter = parameter
        self.system = system
        self.value = value
    }
}

/// The search keys the FHIR API needs, by resource type (issue #7's parameter list).
public enum SearchKeys {
    /// Elements whose codings are indexed as `code`, by resource type.
    static let codeElements: [String: [String]] = [
        "Observation": ["code"], "Condition": ["code"], "AllergyIntolerance": ["code"], "Procedure": ["code"],
        "DiagnosticReport": ["code"], "MedicationRequest": ["medicationCodeableConcept"],
        "Immunization": ["vaccineCode"], "DocumentReference": ["type"], "ServiceRequest": ["code"],
        // The gateway's own records: operators' identity decisions (GatewayAPI's IdentityDecisions) are found by code.
        "Basic": ["code"],
    ]
    /// Elements that give `date`, first present wins, by resource type.
    static let dateElements: [String: [String]] = [
        "Observation": ["effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"],
        "Encounter": ["period.start"], "Condition": ["onsetDateTime", "recordedDate"],
        "AllergyIntolerance": ["recordedDate", "onsetDateTime"], "MedicationRequest": ["authoredOn"],
        "Immunization": ["occurrenceDateTime"], "DiagnosticReport": ["effectiveDateTime", "effectivePeriod.start", "issued"],
        "DocumentReference": ["date"], "Procedure": ["performedDateTime", "performedPeriod.start"],
        "ServiceRequest": ["authoredOn"],
    ]

    /// The stored parameters a search parameter reads: `name` is any of family, given and text; `patient` is the
    /// `patient` element or a `subject` that is a Patient. Stored once, found under either name.
    public static func storedParameters(_ parameter: String) -> [String] {
        switch parameter {
        case "name": ["name", "family", "given"]
        case "patient": ["patient", "subject"]
        default: [parameter]
        }
    }

    public static func extract(_ r: JSONObject) -> [SearchKey] {
        guard let type = r["resourceType"]?.stringValue else { return [] }
        var keys: [SearchKey] = []
        for identifier in r["identifier"]?.arrayValue ?? [] {
            guard let o = identifier.objectValue, let value = o["value"]?.stringValue else { continue }
            keys.append(SearchKey(parameter: "identifier", system: o["system"]?.stringValue, value: value))
        }
        if let status = r["status"]?.stringValue { keys.append(SearchKey(parameter: "status", value: status)) }
        for element in ["subject", "patient"] {
            if let ref = r[element]?.objectValue?["reference"]?.stringValue {
                keys.append(SearchKey(parameter: element, value: ref))
            }
        }
        for element in codeElements[type] ?? [] {
            keys += codings(r[element]).map { SearchKey(parameter: "code", system: $0.system, value: $0.code) }
        }
        for category in r["category"]?.arrayValue ?? [] {
            keys += codings(category).map { SearchKey(parameter: "category", system: $0.system, value: $0.code) }
        }
        if let date = (dateElements[type] ?? []).lazy.compactMap({ path(r, $0)?.stringValue }).first {
            keys.append(SearchKey(parameter: "date", value: date))
        }
        switch type {
        case "Patient":
            if let g = r["gender"]?.stringValue { keys.append(SearchKey(parameter: "gender", value: g)) }
            if let b = r["birthDate"]?.stringValue { keys.append(SearchKey(parameter: "birthdate", value: b)) }
            for name in r["name"]?.arrayValue ?? [] {
                guard let n = name.objectValue else { continue }
                if let family = n["family"]?.stringValue { keys.append(SearchKey(parameter: "family", value: family.lowercased())) }
                for given in n["given"]?.arrayValue ?? [] {
                    if let g = given.stringValue { keys.append(SearchKey(parameter: "given", value: g.lowercased())) }
                }
                // `name` matches family, given or text: only the text is stored under it (see `storedParameters`).
                if let text = n["text"]?.stringValue { keys.append(SearchKey(parameter: "name", value: text.lowercased())) }
            }
        case "Encounter":
            if let c = r["class"]?.objectValue, let code = c["code"]?.stringValue {
                keys.append(SearchKey(parameter: "class", system: c["system"]?.stringValue, value: code))
            }
        default:
            break
        }
        var seen = Set<SearchKey>()
        return keys.filter { seen.insert($0).inserted }
    }

    private static func codings(_ value: JSONValue?) -> [(system: String?, code: String)] {
        guard let concept = value?.objectValue else { return [] }
        return (concept["coding"]?.arrayValue ?? []).compactMap { coding in
            guard let c = coding.objectValue, let code = c["code"]?.stringValue else { return nil }
            return (c["system"]?.stringValue, code)
        }
    }

    private static func path(_ r: JSONObject, _ dotted: String) -> JSONValue? {
        var current: JSONValue = .object(r)
        for part in dotted.split(separator: ".") {
            guard let next = current.objectValue?[String(part)] else { return nil }
            current = next
        }
        return current
    }
}
