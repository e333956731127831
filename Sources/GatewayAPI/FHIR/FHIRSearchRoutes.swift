import FHIR
import Foundation
import Hummingbird
import Store

/// FHIR search (`GET /fhir/{type}?…`) over the search keys indexed at write time, with paging (`_count`, `_offset`,
/// next links), and `GET /fhir/Patient/{id}/$everything`. Reads need what reads need (FHIRReadRoutes); a `patient/`
/// scope sees only its patient's compartment, so a search is narrowed to it before it runs (totals included).
struct FHIRSearchRoutes: Sendable {
    let services: GatewayServices

    enum Kind: String, Sendable {
        case token, string, date, reference
    }

    /// The search parameters served, by resource type (issue #7's list, plus identifier and status where indexed).
    static let parameters: [String: [String: Kind]] = {
        let clinical: [String: Kind] = [
            "patient": .reference, "subject": .reference, "code": .token, "date": .date, "identifier": .token, "status": .token,
        ]
        var out: [String: [String: Kind]] = [
            "Patient": ["identifier": .token, "name": .string, "family": .string, "given": .string, "birthdate": .date, "gender": .token],
            "Observation": clinical.merging(["category": .token]) { a, _ in a },
            "Encounter": ["patient": .reference, "subject": .reference, "date": .date, "status": .token, "class": .token, "identifier": .token],
        ]
        for type in ["Condition", "MedicationRequest", "DiagnosticReport", "DocumentReference", "Procedure", "ServiceRequest"] {
            out[type] = clinical
        }
        for type in ["AllergyIntolerance", "Immunization"] {
            out[type] = clinical.filter { $0.key != "subject" }
        }
        return out
    }()

    /// Resource types `$everything` collects for a patient (those whose subject or patient is indexed).
    static let compartment = [
        "Encounter", "Observation", "Condition", "AllergyIntolerance", "MedicationRequest", "MedicationStatement", "Immunization",
        "DiagnosticReport", "DocumentReference", "Procedure", "ServiceRequest", "RelatedPerson", "Coverage", "Specimen", "Appointment",
        "Account", "EpisodeOfCare", "ChargeItem", "MedicationDispense", "Provenance",
    ]

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/fhir/:type") { request, context in
            try await services.reading(request, context) { caller, type, xml in
                let query: SearchQuery
                do throws(SearchError) {
                    query = try Self.query(type: type, parameters: Self.pairs(request), caller: caller)
                } catch {
                    return Reply.outcome(.badRequest, code: "invalid", error.description, xml: xml)
                }
                let page = try await services.store.search(query)
                return try await searchset(page, query: query, request: request, caller: caller, xml: xml)
            }
        }
        // Registered with a :type parameter: a literal Patient step would shadow /fhir/:type for Patient searches.
        router.get("/fhir/:type/:id/$everything") { request, context in
            let xml = FHIRReadRoutes.wantsXML(request)
            return try await services.authorized(request, context, xml: xml) { caller in
                guard context.parameters.get("type") == "Patient", let id = context.parameters.get("id") else {
                    return Reply.outcome(.notFound, code: "not-supported", "$everything is served for Patient", xml: xml)
                }
                guard let patient = try await services.store.currentVersion(type: "Patient", id: id), !patient.isDelete else {
                    return Reply.outcome(.notFound, code: "not-found", "Patient/\(id) is not known", xml: xml)
                }
                let resource = try patient.resource()
                guard caller.mayRead(resource) else { return FHIRReadRoutes.forbidden("Patient", xml: xml) }
                var entries: [JSONValue] = [Self.entry(resource, base: Self.base(request))]
                for type in Self.compartment where caller.mayReadType(type) {
                    var q = SearchQuery(type: type)
                    q.clauses = [SearchQuery.Clause(parameters: ["patient", "subject"], anyOf: [.exact(system: nil, value: "Patient/\(id)")])]
                    q.count = 1000
                    for other in try await services.store.search(q).ids {
                        guard let v = try await services.store.currentVersion(type: type, id: other) else { continue }
                        let r = try v.resource()
                        if caller.mayRead(r) { entries.append(Self.entry(r, base: Self.base(request))) }
                    }
                }
                let bundle = JSONObject([
                    ("resourceType", .string("Bundle")), ("type", .string("searchset")), ("total", .number(String(entries.count))),
                    ("entry", .array(entries)),
                ])
                return Reply.fhir(bundle, status: .ok, xml: xml)
            }
        }
    }

    struct SearchError: Error, CustomStringConvertible {
        var description: String
    }

    /// The query's name=value pairs in order (repeated names stay repeated).
    static func pairs(_ request: Request) -> [(String, String)] {
        guard let query = request.uri.query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { part in
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let raw = kv.count > 1 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
            return (name, raw.removingPercentEncoding ?? raw)
        }
    }

    /// The store query for a search: parameters checked against what is served, values parsed by kind.
    static func query(type: String, parameters: [(String, String)], caller: Caller) throws(SearchError) -> SearchQuery {
        var q = SearchQuery(type: type)
        let served = Self.parameters[type] ?? [:]
        for (rawName, value) in parameters {
            let parts = rawName.split(separator: ":", maxSplits: 1)
            let name = String(parts[0])
            let modifier = parts.count > 1 ? String(parts[1]) : nil
            switch name {
            case "_format", "_pretty", "_summary", "_elements":
                continue
            case "_count":
                guard let n = Int(value), n >= 0 else { throw SearchError(description: "_count is a number") }
                q.count = min(n, 1000)
            case "_offset":
                guard let n = Int(value), n >= 0 else { throw SearchError(description: "_offset is a number") }
                q.offset = n
            case "_id":
                let ids = value.split(separator: ",").map(String.init)
                q.ids = q.ids.map { Array(Set($0).intersection(ids)) } ?? ids
            case "_lastUpdated":
                let (lower, upper) = try dateRange(value)
                if let lower { q.lastUpdatedLower = max(q.lastUpdatedLower ?? .min, try millis(lower)) }
                if let upper { q.lastUpdatedUpper = min(q.lastUpdatedUpper ?? .max, try millis(upper)) }
            default:
                guard let kind = served[name] else {
                    let known = (served.keys.sorted() + ["_id", "_lastUpdated", "_count"]).joined(separator: ", ")
                    throw SearchError(description: "\(type) has no search parameter '\(name)' here; supported: \(known)")
                }
                let values = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                var matches: [SearchQuery.Match] = []
                for v in values {
                    switch kind {
                    case .token:
                        if let bar = v.firstIndex(of: "|") {
                            matches.append(.exact(system: String(v[..<bar]), value: String(v[v.index(after: bar)...])))
                        } else {
                            matches.append(.exact(system: nil, value: v))
                        }
                    case .string:
                        matches.append(modifier == "exact" ? .exact(system: nil, value: v.lowercased()) : .prefix(v.lowercased()))
                    case .reference:
                        matches.append(.exact(system: nil, value: v.contains("/") ? v : "Patient/\(v)"))
                    case .date:
                        let (lower, upper) = try dateRange(v)
                        matches.append(.range(lower: lower, upper: upper))
                    }
                }
                q.clauses.append(SearchQuery.Clause(parameters: SearchKeys.storedParameters(name), anyOf: matches))
            }
        }
        // A patient/ scope sees its patient's compartment only: narrow the search itself, so totals do not tell more.
        let readers = caller.scopes.filter { $0.read && $0.covers(type) }
        if !caller.isAdmin && !readers.contains(where: { $0.context != .patient }) {
            guard let patient = caller.patient else { throw SearchError(description: "the token names no patient") }
            if type == "Patient" {
                q.ids = (q.ids ?? [patient]).filter { $0 == patient }
            } else {
                q.clauses.append(SearchQuery.Clause(parameters: ["patient", "subject"], anyOf: [.exact(system: nil, value: "Patient/\(patient)")]))
            }
        }
        return q
    }

    /// A FHIR date search value (`eq` by default; `lt`, `le`, `gt`, `ge`) as a text range over ISO 8601 values.
    /// A partial date means its whole span (`2026-03` is March 2026); offsets are compared as written.
    static func dateRange(_ raw: String) throws(SearchError) -> (String?, String?) {
        var prefix = "eq"
        var value = raw
        if raw.count > 2, let p = ["eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap"].first(where: { raw.hasPrefix($0) }) {
            prefix = p
            value = String(raw.dropFirst(2))
        }
        guard FHIRValidator.isValidPrimitive(value, type: "dateTime") || FHIRValidator.isValidPrimitive(value, type: "date") else {
            throw SearchError(description: "'\(raw)' is not a date search value (2026, 2026-03-02, ge2026-01-01, lt2026-03-02T10:00:00Z)")
        }
        let end = next(value)
        switch prefix {
        case "eq": return (value, end)
        case "lt": return (nil, value)
        case "le": return (nil, end)
        case "gt": return (end, nil)
        case "ge": return (value, nil)
        default: throw SearchError(description: "the date prefix '\(prefix)' is not supported (eq, lt, le, gt, ge are)")
        }
    }

    /// The first text after every value the partial date or time covers: 2026 → 2027, 2026-12 → 2027-01,
    /// 2026-03-02 → 2026-03-03, a time → the time followed by the highest character.
    static func next(_ value: String) -> String {
        let parts = value.split(separator: "-").map(String.init)
        if value.contains("T") { return value + "\u{10FFFF}" }
        switch parts.count {
        case 1: return String(format: "%04d", (Int(parts[0]) ?? 0) + 1)
        case 2:
            let (y, m) = (Int(parts[0]) ?? 0, Int(parts[1]) ?? 0)
            return m == 12 ? String(format: "%04d-01", y + 1) : String(format: "%04d-%02d", y, m + 1)
        default:
            var c = DateComponents()
            (c.year, c.month, c.day) = (Int(parts[0]), Int(parts[1]), Int(parts[2]))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            guard let d = calendar.date(from: c), let n = calendar.date(byAdding: .day, value: 1, to: d) else { return value + "\u{10FFFF}" }
            let f = DateFormatter()
            f.calendar = calendar
            f.timeZone = calendar.timeZone
            f.locale = Locale(identifier: "en_US_POSIX")
            f.dateFormat = "yyyy-MM-dd"
            return f.string(from: n)
        }
    }

    /// An ISO 8601 date or time (partial dates at their start, UTC) as milliseconds since 1970.
    static func millis(_ text: String) throws(SearchError) -> Int64 {
        var t = text
        if t.hasSuffix("\u{10FFFF}") { t.removeLast() }
        let parts = t.split(separator: "T", maxSplits: 1)
        let datePart = parts[0].split(separator: "-").map { Int($0) ?? 1 }
        if parts.count == 1 {
            var c = DateComponents()
            c.year = datePart[0]
            c.month = datePart.count > 1 ? datePart[1] : 1
            c.day = datePart.count > 2 ? datePart[2] : 1
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            guard let d = calendar.date(from: c) else { throw SearchError(description: "'\(text)' is not a date") }
            return Int64(d.timeIntervalSince1970 * 1000)
        }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: t) { return Int64(d.timeIntervalSince1970 * 1000) }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: t) { return Int64(d.timeIntervalSince1970 * 1000) }
        throw SearchError(description: "'\(text)' is not a time with an offset (2026-03-02T10:00:00Z)")
    }

    static func base(_ request: Request) -> String {
        "http://\(request.head.authority ?? "localhost")/fhir"
    }

    static func entry(_ r: JSONObject, base: String) -> JSONValue {
        .object(
            JSONObject([
                ("fullUrl", .string("\(base)/\(r["resourceType"]?.stringValue ?? "")/\(r["id"]?.stringValue ?? "")")), ("resource", .object(r)),
                ("search", .object(JSONObject([("mode", .string("match"))]))),
            ]))
    }

    private func searchset(_ page: SearchPage, query: SearchQuery, request: Request, caller: Caller, xml: Bool) async throws -> Response {
        let base = Self.base(request)
        var entries: [JSONValue] = []
        for id in page.ids {
            guard let v = try await services.store.currentVersion(type: query.type, id: id), !v.isDelete else { continue }
            let r = try v.resource()
            guard caller.mayRead(r) else { continue }
            entries.append(Self.entry(r, base: base))
        }
        let kept = Self.pairs(request).filter { $0.0 != "_offset" }
        func link(_ relation: String, offset: Int) -> JSONValue {
            var items = kept.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }
            items.append("_offset=\(offset)")
            if !kept.contains(where: { $0.0 == "_count" }) { items.append("_count=\(query.count)") }
            return .object(JSONObject([("relation", .string(relation)), ("url", .string("\(base)/\(query.type)?\(items.joined(separator: "&"))"))]))
        }
        var links = [link("self", offset: query.offset)]
        if query.offset + query.count < page.total { links.append(link("next", offset: query.offset + query.count)) }
        if query.offset > 0 { links.append(link("previous", offset: max(0, query.offset - query.count))) }
        let bundle = JSONObject([
            ("resourceType", .string("Bundle")), ("type", .string("searchset")), ("total", .number(String(page.total))), ("link", .array(links)),
            ("entry", .array(entries)),
        ])
        return Reply.fhir(bundle, status: .ok, xml: xml)
    }

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:"))) ?? s
    }
}
