import FHIR
import Foundation
import HTTPTypes
import Hummingbird
import LedgerAnchors
import NIOCore
import Store

/// The FHIR R4 read side so far: `metadata`, read, vread and instance history, JSON or XML by `_format` or
/// `Accept`, with ETag and Last-Modified. Every version served carries its integrity status, outside the resource
/// (so the record served still hashes to its ledger entry): the `X-Integrity-Status` header and a `Link` to its
/// proof on reads, an extension on each entry of a history Bundle.
///
/// Access: `metadata` is open; everything else needs `Authorization: Bearer` with a JWT whose SMART scopes allow
/// reading the type (`patient/` scopes only within the token's patient compartment), or the admin key. Without
/// either the answer is 401, with a token that does not allow it 403.
struct FHIRReadRoutes: Sendable {
    let services: GatewayServices
    static let integrityExtension = "https://ledgerbridge.org/fhir/StructureDefinition/integrity-status"

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/fhir/metadata") { request, _ in
            Self.wantsXML(request) ? Reply.fhir(Self.capability, status: .ok, xml: true) : Reply.fhirJSON(Self.capabilityJSON)
        }
        router.get("/fhir/:type/:id") { request, context in
            try await services.reading(request, context) { caller, type, xml in
                let id = try context.parameters.require("id")
                guard let version = try await services.store.currentVersion(type: type, id: id) else {
                    return Reply.outcome(.notFound, code: "not-found", "\(type)/\(id) is not known", xml: xml)
                }
                return try await serve(version, to: caller, xml: xml)
            }
        }
        router.get("/fhir/:type/:id/_history/:vid") { request, context in
            try await services.reading(request, context) { caller, type, xml in
                let id = try context.parameters.require("id")
                guard let vid = context.parameters.get("vid", as: Int.self) else {
                    return Reply.outcome(.badRequest, code: "invalid", "the version id is a number", xml: xml)
                }
                guard let version = try await services.store.version(type: type, id: id, versionId: vid) else {
                    return Reply.outcome(.notFound, code: "not-found", "\(type)/\(id)/_history/\(vid) is not known", xml: xml)
                }
                return try await serve(version, to: caller, xml: xml)
            }
        }
        router.get("/fhir/:type/_history") { request, context in
            try await services.reading(request, context) { caller, type, xml in
                let count = min(max(request.uri.queryParameters.get("_count", as: Int.self) ?? 100, 1), 1000)
                var since: Int64? = nil
                if let text = request.uri.queryParameters.get("_since") {
                    do throws(FHIRSearchRoutes.SearchError) {
                        since = try FHIRSearchRoutes.millis(String(text))
                    } catch {
                        return Reply.outcome(.badRequest, code: "invalid", "_since is an instant: \(error.description)", xml: xml)
                    }
                }
                // A patient/ scope sees the versions in its compartment only (deletions, which show no content, not at all).
                let wide = caller.mayReadEvery(type)
                var entries: [JSONValue] = []
                for v in try await services.store.history(type: type, since: since, limit: count) {
                    if v.isDelete ? !wide : !caller.mayRead(try v.resource()) { continue }
                    entries.append(try await historyEntry(v))
                }
                let bundle = JSONObject([
                    ("resourceType", .string("Bundle")), ("type", .string("history")), ("total", .number(String(entries.count))),
                    ("entry", .array(entries)),
                ])
                return Reply.fhir(bundle, status: .ok, xml: xml)
            }
        }
        router.get("/fhir/:type/:id/_history") { request, context in
            try await services.reading(request, context) { caller, type, xml in
                let id = try context.parameters.require("id")
                let versions = try await services.store.history(type: type, id: id)
                guard !versions.isEmpty else { return Reply.outcome(.notFound, code: "not-found", "\(type)/\(id) is not known", xml: xml) }
                // Every version shown must be readable by the caller (a version may have left the compartment).
                for v in versions where !v.isDelete {
                    guard caller.mayRead(try v.resource()) else { return Self.forbidden(type, xml: xml) }
                }
                var entries: [JSONValue] = []
                for v in versions { entries.append(try await historyEntry(v)) }
                let bundle = JSONObject([
                    ("resourceType", .string("Bundle")), ("type", .string("history")), ("total", .number(String(entries.count))),
                    ("entry", .array(entries)),
                ])
                return Reply.fhir(bundle, status: .ok, xml: xml)
            }
        }
    }

    /// One version as a history Bundle entry: the request that made it, its response, and its integrity status.
    private func historyEntry(_ v: StoredVersion) async throws -> JSONValue {
        let (type, id) = (v.resourceType, v.id)
        var entry = JSONObject([("fullUrl", .string("\(type)/\(id)/_history/\(v.versionId)"))])
        if !v.isDelete { entry["resource"] = .object(try v.resource()) }
        entry["request"] = .object(
            JSONObject([
                ("method", .string(v.isDelete ? "DELETE" : v.versionId == 1 ? "POST" : "PUT")),
                ("url", .string(v.versionId == 1 && !v.isDelete ? type : "\(type)/\(id)")),
            ]))
        entry["response"] = .object(
            JSONObject([
                ("status", .string(v.isDelete ? "204" : v.versionId == 1 ? "201" : "200")), ("etag", .string("W/\"\(v.versionId)\"")),
                ("lastModified", .string(StoreTime.instant(v.lastUpdated))),
            ]))
        if let status = try await integrity(v) {
            entry["extension"] = .array([
                .object(JSONObject([("url", .string(Self.integrityExtension)), ("valueCode", .string(status.code))]))
            ])
        }
        return .object(entry)
    }

    private func integrity(_ v: StoredVersion) async throws -> IntegrityStatus? {
        guard let ledger = services.ledger else { return nil }
        return try await ledger.proofs.integrity(of: v)
    }

    static func forbidden(_ type: String, xml: Bool) -> Response {
        Reply.outcome(.forbidden, code: "forbidden", "the token's scopes do not allow reading this \(type)", xml: xml)
    }

    /// One version as FHIR read and vread answer it: 410 for a deletion, else the resource with its headers.
    private func serve(_ v: StoredVersion, to caller: Caller, xml: Bool) async throws -> Response {
        if v.isDelete {
            var r = Reply.outcome(.gone, code: "deleted", "\(v.resourceType)/\(v.id) was deleted in version \(v.versionId)", xml: xml)
            r.headers[.eTag] = "W/\"\(v.versionId)\""
            return r
        }
        var response: Response
        if !xml, caller.mayReadEvery(v.resourceType), let bytes = v.servedJSON() {
            // The stored bytes with meta appended: no parse and no rewrite of the body.
            response = Reply.fhirJSON(bytes)
        } else {
            let resource = try v.resource()
            guard caller.mayRead(resource) else { return Self.forbidden(v.resourceType, xml: xml) }
            response = Reply.fhir(resource, status: .ok, xml: xml)
        }
        response.headers[.eTag] = "W/\"\(v.versionId)\""
        response.headers[.lastModified] = Self.httpDate(v.lastUpdated)
        if let status = try await integrity(v) {
            response.headers[HTTPField.Name("X-Integrity-Status")!] = status.code
            response.headers[HTTPField.Name("Link")!] = "</fhir/\(v.resourceType)/\(v.id)/_history/\(v.versionId)/$proof>; rel=\"proof\""
        }
        return response
    }

    static func unknownType(_ context: GatewayRequestContext, xml: Bool) -> Response {
        Reply.outcome(.notFound, code: "not-supported", "\(context.parameters.get("type") ?? "?") is not a FHIR R4 resource type", xml: xml)
    }

    /// `_format` (json, xml, or a FHIR MIME type) wins over `Accept`; JSON is the default.
    static func wantsXML(_ request: Request) -> Bool {
        if let format = request.uri.queryParameters.get("_format") { return format.contains("xml") }
        let accept = request.headers[.accept] ?? ""
        return accept.contains("xml") && !accept.contains("json")
    }

    /// RFC 7231 IMF-fixdate (`Tue, 01 Dec 2026 15:20:00 GMT`).
    static func httpDate(_ millis: Int64) -> String {
        let c = StoreTime.civil(millis)
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(names[c.weekday]), \(two(c.day)) \(months[Int(c.month) - 1]) \(c.year) \(two(c.hour)):\(two(c.minute)):\(two(c.second)) GMT"
    }

    static let capability = capabilityStatement()
    static let capabilityJSON = FHIRJSON().write(capability)

    /// What this server does, and nothing more: read, vread and instance history of every R4 resource type; search
    /// (with the parameters listed) on the types FHIRSearchRoutes serves; Patient $everything.
    static func capabilityStatement() -> JSONObject {
        let interactions: [JSONValue] = ["read", "vread", "history-instance", "history-type"].map { .object(JSONObject([("code", .string($0))])) }
        let operations: [JSONValue] = [
            ("proof", "the version's ledger proof bundle (docs/ledger.md)"), ("integrity", "the version's integrity status"),
        ].map { name, doc in
            .object(
                JSONObject([
                    ("name", .string(name)), ("definition", .string("https://ledgerbridge.org/fhir/OperationDefinition/\(name)")),
                    ("documentation", .string(doc)),
                ]))
        }
        let resource = JSONObject([
            ("type", .string("Resource")), ("interaction", .array(interactions)), ("versioning", .string("versioned")),
            ("readHistory", .bool(true)), ("operation", .array(operations)),
        ])
        // The types that can be searched, with their parameters (FHIRSearchRoutes).
        var resources: [JSONValue] = [.object(resource)]
        for (type, parameters) in FHIRSearchRoutes.parameters.sorted(by: { $0.key < $1.key }) {
            let searchInteractions = interactions + [.object(JSONObject([("code", .string("search-type"))]))]
            var params: [JSONValue] = parameters.sorted(by: { $0.key < $1.key }).map { name, kind in
                .object(JSONObject([("name", .string(name)), ("type", .string(kind.rawValue))]))
            }
            params.append(.object(JSONObject([("name", .string("_id")), ("type", .string("token"))])))
            params.append(.object(JSONObject([("name", .string("_lastUpdated")), ("type", .string("date"))])))
            var entry = JSONObject([
                ("type", .string(type)), ("interaction", .array(searchInteractions)), ("versioning", .string("versioned")),
                ("readHistory", .bool(true)), ("searchParam", .array(params)),
            ])
            var typeOperations = operations
            if type == "Patient" {
                typeOperations.append(
                    .object(
                        JSONObject([
                            ("name", .string("everything")), ("definition", .string("http://hl7.org/fhir/OperationDefinition/Patient-everything")),
                        ])))
            }
            entry["operation"] = .array(typeOperations)
            resources.append(.object(entry))
        }
        return JSONObject([
            ("resourceType", .string("CapabilityStatement")), ("status", .string("active")), ("date", .string("2026-12-01")),
            ("publisher", .string("Ledgerbridge")), ("kind", .string("instance")),
            ("software", .object(JSONObject([("name", .string("Ledgerbridge"))]))),
            (
                "implementation",
                .object(JSONObject([("description", .string("Ledgerbridge gateway: read, vread, history, search, Patient $everything"))]))
            ),
            ("fhirVersion", .string("4.0.1")), ("format", .array([.string("json"), .string("xml")])),
            (
                "rest",
                .array([
                    .object(
                        JSONObject([
                            ("mode", .string("server")),
                            (
                                "documentation",
                                .string("Every resource type of FHIR R4; each version served carries its integrity status (X-Integrity-Status)")
                            ),
                            ("resource", .array(resources)),
                        ]))
                ])
            ),
        ])
    }
}

extension GatewayServices {
    /// A FHIR read: `authorized`, then the path's `:type` checked before `body` runs: a name that is no R4 resource
    /// type is 404, a type the caller's scopes never read 403. `body` gets the caller, the type and whether the
    /// answer is XML.
    func reading(
        _ request: Request, _ context: GatewayRequestContext, _ body: (_ caller: Caller, _ type: String, _ xml: Bool) async throws -> Response
    ) async throws -> Response {
        let xml = FHIRReadRoutes.wantsXML(request)
        return try await authorized(request, context, xml: xml) { caller in
            guard let type = context.parameters.get("type"), FHIRTypeTable.r4.isResource(type) else {
                return FHIRReadRoutes.unknownType(context, xml: xml)
            }
            guard caller.mayReadType(type) else { return FHIRReadRoutes.forbidden(type, xml: xml) }
            return try await body(caller, type, xml)
        }
    }
}
