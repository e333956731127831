import FHIR
import Foundation
import Hummingbird
import Ledger
import LedgerAnchors
import NIOCore
import Store

/// The ledger over HTTP. Public, because anyone must be able to check proofs: `/ledger/key` (the gateway's
/// Ed25519 public key), `/ledger/tree-heads` (sealed heads with their anchor receipts) and `/ledger/consistency`.
/// A version's `$proof` and `$integrity` name a record (type, id, version, hash): they need what reading that
/// version needs (a bearer token whose scopes allow it, or the admin key).
struct LedgerRoutes: Sendable {
    let services: GatewayServices

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/ledger/key") { _, _ in
            guard let ledger = services.ledger else { return Self.noLedger }
            let raw = ledger.proofs.publicKeyBytes
            return Reply.json(
                .object(
                    JSONObject([
                        ("algorithm", .string("Ed25519")), ("publicKey", .string(Hex.encode(raw))),
                        ("keyID", .string(Hash.sha256(raw).hex)),
                    ])))
        }
        router.get("/ledger/tree-heads") { request, _ in
            guard let ledger = services.ledger else { return Self.noLedger }
            let count = min(max(request.uri.queryParameters.get("_count", as: Int.self) ?? 50, 1), 500)
            let before = request.uri.queryParameters.get("before", as: Int64.self)
            let heads = try await services.store.treeHeads(before: before, limit: count)
            var list: [JSONValue] = []
            for head in heads {
                var o = Self.headJSON(head)
                o["anchors"] = try Self.receiptsJSON(try await ledger.proofs.receipts(head.treeSize))
                list.append(.object(o))
            }
            var body = JSONObject([("treeHeads", .array(list))])
            if heads.count == count, let last = heads.last { body["next"] = .string("/ledger/tree-heads?before=\(last.treeSize)&_count=\(count)") }
            return Reply.json(.object(body))
        }
        router.get("/ledger/consistency") { request, _ in
            guard let ledger = services.ledger else { return Self.noLedger }
            guard let first = request.uri.queryParameters.get("first", as: Int.self),
                let second = request.uri.queryParameters.get("second", as: Int.self), first >= 0, first <= second
            else { return Reply.outcome(.badRequest, code: "invalid", "give first and second tree sizes, first <= second") }
            guard try await services.store.treeHead(size: Int64(second)) != nil else {
                return Reply.outcome(.notFound, code: "not-found", "no sealed tree head of size \(second)")
            }
            let proof = try await ledger.proofs.tree.consistencyProof(from: first, to: second)
            return Reply.json(
                .object(
                    JSONObject([
                        ("first", .number(String(first))), ("second", .number(String(second))),
                        ("path", .array(proof.path.map { .string($0.hex) })),
                    ])))
        }
        router.get("/ledger/status") { request, context in
            try await AdminRoutes(services: services).guarded(request, context) {
                guard let ledger = services.ledger else { return Self.noLedger }
                var o = JSONObject([("entries", .number(String(try await services.store.ledgerSize())))])
                if let head = try await services.store.latestTreeHead() { o["latestTreeHead"] = .object(Self.headJSON(head)) }
                o["backends"] = .array(try await services.store.anchorSummary().map(Self.summaryJSON))
                if let problem = await ledger.anchoring?.integrityProblem { o["integrityProblem"] = .string(problem) }
                return Reply.json(.object(o))
            }
        }
        router.get("/fhir/:type/:id/_history/:vid/$proof") { request, context in
            try await services.authorized(request, context, xml: false) { caller in
                guard let ledger = services.ledger else { return Self.noLedger }
                guard let (type, id, vid) = Self.versionParameters(context) else {
                    return Reply.outcome(.badRequest, code: "invalid", "the version id is a number")
                }
                if let refusal = try await refusal(caller, type: type, id: id, versionId: vid) { return refusal }
                do {
                    let bundle = try await ledger.proofs.bundle(type: type, id: id, versionId: vid)
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    return Response(
                        status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(bundle))))
                } catch let error as ProofBuilder.ProofError {
                    switch error {
                    case .pending:
                        var r = Reply.outcome(.conflict, code: "incomplete", error.description)
                        r.headers[.retryAfter] = "10"
                        return r
                    case .noSuchVersion, .noEntry: return Reply.outcome(.notFound, code: "not-found", error.description)
                    }
                }
            }
        }
        router.get("/fhir/:type/:id/_history/:vid/$integrity") { request, context in
            try await services.authorized(request, context, xml: false) { caller in
                guard let ledger = services.ledger else { return Self.noLedger }
                guard let (type, id, vid) = Self.versionParameters(context) else {
                    return Reply.outcome(.badRequest, code: "invalid", "the version id is a number")
                }
                if let refusal = try await refusal(caller, type: type, id: id, versionId: vid) { return refusal }
                guard let version = try await services.store.version(type: type, id: id, versionId: vid) else {
                    return Reply.outcome(.notFound, code: "not-found", "no stored version \(type)/\(id)/_history/\(vid)")
                }
                let status = try await ledger.proofs.integrity(of: version)
                var o = JSONObject([("status", .string(status.code)), ("detail", .string(status.detail))])
                if case .anchored = status { o["proof"] = .string("/fhir/\(type)/\(id)/_history/\(vid)/$proof") }
                return Reply.json(.object(o))
            }
        }
    }

    /// 403 when the caller may not read the version (a deleted version: when it may read the type); nil to go on.
    private func refusal(_ caller: Caller, type: String, id: String, versionId: Int) async throws -> Response? {
        guard caller.mayReadType(type) else { return FHIRReadRoutes.forbidden(type, xml: false) }
        guard let version = try await services.store.version(type: type, id: id, versionId: versionId), !version.isDelete else { return nil }
        return caller.mayRead(try version.resource()) ? nil : FHIRReadRoutes.forbidden(type, xml: false)
    }

    static var noLedger: Response { Reply.outcome(.notFound, code: "not-supported", "this gateway runs without a ledger") }

    static func versionParameters(_ context: GatewayRequestContext) -> (String, String, Int)? {
        guard let type = context.parameters.get("type"), let id = context.parameters.get("id"), let vid = context.parameters.get("vid", as: Int.self)
        else { return nil }
        return (type, id, vid)
    }

    static func headJSON(_ h: StoredTreeHead) -> JSONObject {
        JSONObject([
            ("treeSize", .number(String(h.treeSize))), ("root", .string(h.root)), ("timestamp", .number(String(h.timestamp))),
            ("signature", .string(h.signature)), ("keyID", .string(h.keyID)),
        ])
    }

    static func receiptsJSON(_ receipts: [AnchorReceipt]) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(receipts)
        return .array(try JSONParser().parse(Array(data)).arrayValue ?? [])
    }

    static func summaryJSON(_ s: AnchorBackendSummary) -> JSONValue {
        var o = JSONObject([
            ("backend", .string(s.backend)), ("pending", .number(String(s.pending))), ("submitted", .number(String(s.submitted))),
            ("anchored", .number(String(s.anchored))),
        ])
        if let v = s.lastAnchoredTreeSize { o["lastAnchoredTreeSize"] = .number(String(v)) }
        if let v = s.oldestWaitingTreeSize { o["oldestWaitingTreeSize"] = .number(String(v)) }
        if let v = s.lastError { o["lastError"] = .string(v) }
        if let v = s.nextAttemptAt { o["nextAttemptAt"] = .string(StoreTime.instant(v)) }
        return .object(o)
    }
}
