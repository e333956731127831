import FHIR
import Foundation
import HTTPTypes
import Hummingbird
import Ingest
import NIOCore
import Store

/// `POST /feeds/hl7v2` and `POST /feeds/fhir`: EHR change feeds. A 2xx (or an AA) is sent only after the commit.
struct FeedRoutes: Sendable {
    let services: GatewayServices

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/feeds/hl7v2") { request, context in try await audited(request, context) { try await hl7(request, context) } }
        router.post("/feeds/fhir") { request, context in try await audited(request, context) { try await fhir(request, context) } }
    }

    /// Every feed request is an AuditEvent (a create, by the feed client, with its outcome).
    private func audited(_ request: Request, _ context: GatewayRequestContext, _ body: () async throws -> Response) async throws -> Response {
        let response = try await body()
        services.audit?.record(
            AuditTrail.Access(
                subject: client(request, context) ?? "unknown feed client", address: context.remoteAddress?.ipAddress, interaction: "create",
                entities: [], query: nil, path: request.uri.path, status: Int(response.status.code)))
        return response
    }

    /// The feed client's name from its API key, or nil when the key is missing or wrong. Open when no keys are set.
    private func client(_ request: Request, _ context: GatewayRequestContext) -> String? {
        let keys = services.configuration.feedKeys
        if keys.isEmpty { return context.peer }
        let presented = bearerToken(request) ?? request.headers[HTTPField.Name("X-API-Key")!]
        guard let presented else { return nil }
        return keys.first { constantTimeEqual($0.value, presented) }?.key
    }

    private func body(_ request: Request) async throws -> [UInt8]? {
        var r = request
        guard let buffer = try? await r.collectBody(upTo: services.configuration.maxBodyBytes) else { return nil }
        return Array(buffer: buffer)
    }

    private func hl7(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        guard let client = client(request, context) else {
            return Reply.outcome(.unauthorized, code: "login", "a feed API key is required (Authorization: Bearer KEY or X-API-Key)")
        }
        let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard ["x-application/hl7-v2+er7", "application/hl7-v2", "text/plain", "application/edi-hl7", ""].contains(type) else {
            return Reply.outcome(.unsupportedMediaType, code: "not-supported", "HL7 v2 feeds take ER7 as x-application/hl7-v2+er7 or text/plain")
        }
        guard let body = try await body(request) else {
            return Reply.outcome(.contentTooLarge, code: "too-costly", "the body exceeds \(services.configuration.maxBodyBytes) bytes")
        }
        let wantsJSON = request.headers[.accept]?.contains("json") ?? false
        let outcomes: [HL7Ingestor.MessageOutcome]
        do {
            outcomes = try await services.hl7.ingest(body, channel: "http-hl7v2", peer: client)
        } catch {
            if wantsJSON { return Reply.unavailable(error) }
            var r = Response(
                status: .serviceUnavailable, headers: [.contentType: "x-application/hl7-v2+er7"],
                body: .init(byteBuffer: ByteBuffer(bytes: services.hl7.failureAcknowledgements(body, error: error).flatMap { $0 })))
            r.headers[.retryAfter] = "5"
            return r
        }
        // 200 when every message was taken (accepted, duplicate or held as a dead letter); 400 when any was rejected.
        let status: HTTPResponse.Status = outcomes.contains { $0.result.outcome == .rejected } ? .badRequest : .ok
        if wantsJSON {
            let messages: [JSONValue] = outcomes.map { o in
                var m = JSONObject()
                if let id = o.controlID { m["controlId"] = .string(id) }
                if let t = o.messageType { m["messageType"] = .string(t) }
                m["outcome"] = .string(o.result.outcome.rawValue)
                m["inboundId"] = .number(String(o.result.inboundID))
                if let reason = o.result.reason { m["reason"] = .string(reason) }
                if let original = o.result.originalID { m["duplicateOf"] = .number(String(original)) }
                m["resources"] = .array(
                    o.result.versions.map { v in
                        .object(
                            JSONObject([
                                ("reference", .string("\(v.resourceType)/\(v.id)")), ("versionId", .number(String(v.versionId))),
                                ("created", .bool(v.created)),
                            ]))
                    })
                return .object(m)
            }
            return Reply.json(.object(JSONObject([("messages", .array(messages))])), status: status)
        }
        return Response(
            status: status, headers: [.contentType: "x-application/hl7-v2+er7"],
            body: .init(byteBuffer: ByteBuffer(bytes: outcomes.flatMap(\.ack))))
    }

    private func fhir(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let wantsXML = request.headers[.accept]?.contains("xml") ?? false
        guard let client = client(request, context) else {
            return Reply.outcome(.unauthorized, code: "login", "a feed API key is required (Authorization: Bearer KEY or X-API-Key)", xml: wantsXML)
        }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        let format: FHIRIngestor.Format
        if type.contains("json") {
            format = .json
        } else if type.contains("xml") {
            format = .xml
        } else {
            return Reply.outcome(.unsupportedMediaType, code: "not-supported", "send application/fhir+json or application/fhir+xml", xml: wantsXML)
        }
        guard let body = try await body(request) else {
            return Reply.outcome(.contentTooLarge, code: "too-costly", "the body exceeds \(services.configuration.maxBodyBytes) bytes", xml: wantsXML)
        }
        let replyXML = request.headers[.accept].map { $0.contains("xml") } ?? (format == .xml)
        do {
            let result = try await services.fhir.ingest(body, format: format, channel: "http-fhir", sender: client)
            var response = Reply.fhir(result.body, status: HTTPResponse.Status(code: result.status), xml: replyXML)
            if let location = result.location { response.headers[.location] = location }
            if let v = result.versionId { response.headers[.eTag] = "W/\"\(v)\"" }
            return response
        } catch {
            return Reply.unavailable(error.description, xml: replyXML)
        }
    }
}

/// The token of an `Authorization: Bearer …` header, if there is one.
func bearerToken(_ request: Request) -> String? {
    // On the UTF-8 bytes: String's prefix test and drop compare by grapheme, which a JWT's length made noticeable.
    guard let header = request.headers[.authorization], header.utf8.starts(with: "Bearer ".utf8) else { return nil }
    return String(Substring(header.utf8.dropFirst(7)))
}

/// Compares secrets in time that does not depend on where they differ.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            var diff = UInt8(x.count == y.count ? 0 : 1)
            for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
            return diff == 0
        }
    }
}
