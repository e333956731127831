import FHIR
import Foundation
import Hummingbird
import Ingest
import Mapping
import NIOCore
import Store

/// `/admin/…`: dead letters (list, show, replay) and store status. Raw messages hold patient data: these answer only
/// with the admin key, or, when none is configured, only to the loopback interface.
struct AdminRoutes: Sendable {
    let services: GatewayServices

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/admin/status") { request, context in
            try await guarded(request, context) { try await status() }
        }
        router.get("/integrity/report") { request, context in
            try await guarded(request, context) {
                guard let scanner = services.integrity else {
                    return Reply.outcome(.notFound, code: "not-found", "no legacy sources are scanned (configure sources and integrityScanMinutes)")
                }
                let (report, error) = scanner.latest
                guard let report else {
                    return Reply.outcome(
                        .serviceUnavailable, code: "transient", error.map { "the last scan failed: \($0)" } ?? "the first scan is running")
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                var body = (try? JSONParser().parse(Array(try encoder.encode(report)))) ?? .null
                if case .object(var o) = body {
                    o["problems"] = .number(String(report.problems))
                    if let error { o["lastError"] = .string(error) }
                    body = .object(o)
                }
                return Reply.json(body)
            }
        }
        router.get("/admin/mappings") { request, context in
            try await guarded(request, context) { mappings() }
        }
        router.get("/admin/dead-letters") { request, context in
            try await guarded(request, context) {
                let limit = request.uri.queryParameters.get("_count", as: Int.self) ?? 100
                let letters = try await services.store.inbound(outcome: .deadLetter, limit: min(max(limit, 1), 1000))
                return Reply.json(.object(JSONObject([("deadLetters", .array(letters.map { summary($0, body: false) }))])))
            }
        }
        router.get("/admin/dead-letters/:id") { request, context in
            try await guarded(request, context) {
                guard let id = context.parameters.get("id", as: Int64.self), let m = try await services.store.inbound(id: id),
                    m.outcome == .deadLetter
                else { return Reply.outcome(.notFound, code: "not-found", "no such dead letter") }
                return Reply.json(summary(m, body: true))
            }
        }
        router.post("/admin/dead-letters/:id/replay") { request, context in
            try await guarded(request, context) {
                guard let id = context.parameters.get("id", as: Int64.self) else {
                    return Reply.outcome(.badRequest, code: "invalid", "the id is a number")
                }
                return try await replay(ids: [id])
            }
        }
        router.post("/admin/dead-letters/replay") { request, context in
            try await guarded(request, context) { try await replay(ids: nil) }
        }
    }

    /// Admin endpoints show raw messages (patient data): every request is an AuditEvent too.
    func guarded(_ request: Request, _ context: GatewayRequestContext, _ body: () async throws -> Response) async throws -> Response {
        let response = try await admitted(request, context, body)
        services.audit?.record(
            AuditTrail.Access(
                subject: services.configuration.adminKey == nil ? "loopback" : "admin key", address: context.remoteAddress?.ipAddress,
                interaction: "operation", entities: [],
                query: nil, path: request.uri.path, status: Int(response.status.code)))
        return response
    }

    private func admitted(_ request: Request, _ context: GatewayRequestContext, _ body: () async throws -> Response) async throws -> Response {
        if let key = services.configuration.adminKey {
            guard let presented = bearerToken(request), constantTimeEqual(presented, key) else {
                return Reply.outcome(.unauthorized, code: "login", "the admin key is required (Authorization: Bearer KEY)")
            }
        } else if !context.isLoopback {
            return Reply.outcome(.forbidden, code: "forbidden", "admin endpoints answer the loopback interface only when no admin key is set")
        }
        do {
            return try await body()
        } catch let error as StoreError {
            return Reply.unavailable(error.description)
        }
    }

    private func replay(ids: [Int64]?) async throws -> Response {
        do {
            let outcomes = try await services.replayer.replay(ids: ids)
            let list: [JSONValue] = outcomes.map { o in
                var m = JSONObject([
                    ("id", .number(String(o.id))), ("outcome", .string(o.outcome.rawValue)), ("resources", .number(String(o.resources))),
                ])
                if let reason = o.reason { m["reason"] = .string(reason) }
                return .object(m)
            }
            return Reply.json(.object(JSONObject([("replayed", .array(list))])))
        } catch let error as DeadLetterReplayer.ReplayError {
            return Reply.outcome(.notFound, code: "not-found", error.description)
        }
    }

    /// The mapping set in force, the last refused edit (with its errors), and coverage summed since start: how often
    /// each place went unmapped, most often first.
    private func mappings() -> Response {
        var out = JSONObject()
        out["version"] = .string(services.hl7.mappers.mapper.version)
        if let status = services.mappingWatcher?.status {
            out["folder"] = .string(status.folder)
            out["files"] = .number(String(status.files))
            out["loadedAt"] = .string(status.loadedAt)
            out["messageTypes"] = .array(status.messageTypes.map(JSONValue.string))
            out["warnings"] = .array(status.warnings.map(JSONValue.string))
            if let errors = status.rejectedErrors {
                out["rejected"] = .object(
                    JSONObject([("at", .string(status.rejectedAt ?? "")), ("errors", .array(errors.map(JSONValue.string)))]))
            }
        }
        let c = services.hl7.mappers.coverage
        let top = c.unmapped.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(200)
        out["coverage"] = .object(
            JSONObject([
                ("messages", .number(String(c.inputs))), ("values", .number(String(c.values))), ("mappedValues", .number(String(c.mappedValues))),
                ("unmapped", .array(top.map { .object(JSONObject([("place", .string($0.key)), ("messages", .number(String($0.value)))])) })),
            ]))
        return Reply.json(.object(out))
    }

    private func status() async throws -> Response {
        let counts = try await services.store.counts()
        let inbound = JSONObject(counts.inbound.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) })
        return Reply.json(
            .object(
                JSONObject([
                    ("inbound", .object(inbound)), ("resources", .number(String(counts.resources))),
                    ("versions", .number(String(counts.versions))), ("ledgerEntries", .number(String(counts.ledgerEntries))),
                    ("queueDepth", .number(String(await services.hl7.queue.depth))),
                ])))
    }

    private func summary(_ m: StoredInbound, body: Bool) -> JSONValue {
        var o = JSONObject([
            ("id", .number(String(m.id))), ("channel", .string(m.channel)), ("sender", .string(m.sender)),
            ("receivedAt", .string(StoreTime.instant(m.receivedAt))), ("contentType", .string(m.contentType)),
        ])
        if let t = m.messageType { o["messageType"] = .string(t) }
        if let k = m.key { o["key"] = .string(k) }
        if let r = m.reason { o["reason"] = .string(r) }
        if body { o["body"] = .string(String(decoding: m.body, as: UTF8.self)) }
        return .object(o)
    }
}
