import FHIR
import Hummingbird
import Ingest
import LedgerAnchors
import Mapping
import Store

/// `GET /reconciliation/Patient/{id}`: one person's records across sources, merged, with where each value came from
/// and every conflict; `GET /reconciliation/conflicts`: the open conflicts of every linked group. Reads need what FHIR
/// reads need; a `patient/` token sees only the records it may read.
struct ReconciliationRoutes: Sendable {
    let services: GatewayServices

    func register(on router: Router<GatewayRequestContext>) {
        registerDecisions(on: router)
        router.get("/reconciliation/Patient/:id") { request, context in
            try await services.authorized(request, context, xml: false) { caller in
                guard let id = context.parameters.get("id") else { return Reply.outcome(.badRequest, code: "invalid", "no id") }
                guard caller.mayReadType("Patient") else { return FHIRReadRoutes.forbidden("Patient", xml: false) }
                guard let start = try await record(type: "Patient", id: id) else {
                    return Reply.outcome(.notFound, code: "not-found", "Patient/\(id) is not known")
                }
                guard caller.mayRead(start.resource) else { return FHIRReadRoutes.forbidden("Patient", xml: false) }
                let configuration = try await configuration()
                let group = try await linked(from: start, configuration: configuration).filter { caller.mayRead($0.resource) }
                let view = PatientReconciler.view(group, configuration: configuration)
                return Reply.json(.object(Self.json(view, records: group)))
            }
        }
        router.get("/reconciliation/conflicts") { request, context in
            try await services.authorized(request, context, xml: false) { caller in
                let readers = caller.scopes.filter { $0.read && $0.covers("Patient") }
                guard caller.isAdmin || readers.contains(where: { $0.context != .patient }) else {
                    return Reply.outcome(
                        .forbidden, code: "forbidden", "listing conflicts needs a user/ or system/ Patient read scope, or the admin key")
                }
                var records: [PatientReconciler.Record] = []
                var query = SearchQuery(type: "Patient")
                query.count = 1000
                while true {
                    let page = try await services.store.search(query)
                    for id in page.ids { if let r = try await record(type: "Patient", id: id) { records.append(r) } }
                    query.offset += query.count
                    if query.offset >= page.total || page.ids.isEmpty { break }
                }
                var list: [JSONValue] = []
                let configuration = try await configuration()
                for group in PatientReconciler.groups(records, configuration: configuration) where group.count > 1 {
                    let view = PatientReconciler.view(group, configuration: configuration)
                    for c in view.conflicts {
                        var o = Self.conflictJSON(c)
                        o["patients"] = .array(group.map { .string($0.reference) })
                        list.append(.object(o))
                    }
                }
                return Reply.json(.object(JSONObject([("total", .number(String(list.count))), ("conflicts", .array(list))])))
            }
        }
    }

    /// The configured reconciliation with the operators' stored decisions added.
    private func configuration() async throws -> PatientReconciler.Configuration {
        var c = services.reconciliation
        for d in try await IdentityDecisions.all(in: services.store) { c.unlinked.insert(d.pair) }
        return c
    }

    /// `/reconciliation/unlinks`: the operators' "not the same person" decisions (admin only): list, make, withdraw.
    private func registerDecisions(on router: Router<GatewayRequestContext>) {
        let admin = AdminRoutes(services: services)
        router.get("/reconciliation/unlinks") { request, context in
            try await admin.guarded(request, context) {
                var list: [JSONValue] = services.reconciliation.unlinked.sorted { $0.lexicographicallyPrecedes($1) }.map { pair in
                    .object(JSONObject([("patients", .array(pair.map { .string($0) })), ("source", .string("configuration"))]))
                }
                for d in try await IdentityDecisions.all(in: services.store) {
                    var o = JSONObject([
                        ("id", .string(d.id)), ("patients", .array(d.pair.map { .string($0) })), ("source", .string("operator")),
                        ("by", .string(d.by)), ("created", .string(d.created)),
                    ])
                    if let reason = d.reason { o["reason"] = .string(reason) }
                    list.append(.object(o))
                }
                return Reply.json(.object(JSONObject([("total", .number(String(list.count))), ("unlinks", .array(list))])))
            }
        }
        router.post("/reconciliation/unlinks") { request, context in
            let body = try await request.body.collect(upTo: 64 * 1024)
            return try await admin.guarded(request, context) {
                guard let json = try? JSONParser().parse(Array(buffer: body)), let o = json.objectValue,
                    let patients = o["patients"]?.arrayValue?.compactMap(\.stringValue), patients.count == 2, Set(patients).count == 2,
                    patients.allSatisfy({ $0.hasPrefix("Patient/") && $0.count > 8 })
                else {
                    return Reply.outcome(
                        .badRequest, code: "invalid",
                        #"the body is {"patients": ["Patient/a", "Patient/b"], "reason": "…"}: two different Patient records"#)
                }
                for p in patients where try await services.store.currentVersion(type: "Patient", id: String(p.dropFirst(8)))?.isDelete != false {
                    return Reply.outcome(.notFound, code: "not-found", "\(p) is not known")
                }
                let by = services.configuration.adminKey == nil ? "loopback" : "admin key"
                let resource = IdentityDecisions.resource(pair: patients, by: by, reason: o["reason"]?.stringValue, at: StoreTime.nowMillis())
                let write = try ResourceWrite(resource: resource, source: "admin", sourceReference: nil, mappingVersion: nil)
                try await IdentityDecisions.commit(write, by: by, queue: services.hl7.queue)
                var r = Reply.fhir(resource, status: .created, xml: false)
                r.headers[.location] = "/fhir/Basic/\(write.id)"
                return r
            }
        }
        router.delete("/reconciliation/unlinks/:id") { request, context in
            try await admin.guarded(request, context) {
                guard let id = context.parameters.get("id"), let v = try await services.store.currentVersion(type: "Basic", id: id), !v.isDelete,
                    IdentityDecisions.decision(try v.resource()) != nil
                else { return Reply.outcome(.notFound, code: "not-found", "no such unlink decision") }
                let write = try ResourceWrite(
                    resource: JSONObject([("resourceType", .string("Basic")), ("id", .string(id))]), source: "admin", sourceReference: nil,
                    mappingVersion: nil, isDelete: true)
                try await IdentityDecisions.commit(
                    write, by: services.configuration.adminKey == nil ? "loopback" : "admin key", queue: services.hl7.queue)
                return Response(status: .noContent)
            }
        }
    }

    /// The current version of a resource as a reconciliation record: its sender, message, time, mapping, integrity.
    private func record(type: String, id: String) async throws -> PatientReconciler.Record? {
        guard let v = try await services.store.currentVersion(type: type, id: id), !v.isDelete else { return nil }
        var sender = v.source
        if let inbound = v.inboundID, let m = try await services.store.inbound(id: inbound) { sender = m.sender }
        let integrity = try await services.ledger?.proofs.integrity(of: v).code
        return PatientReconciler.Record(
            reference: "\(type)/\(id)", resource: try v.resource(), sender: sender, sourceReference: v.sourceReference,
            storedAt: StoreTime.instant(v.lastUpdated), mappingVersion: v.mappingVersion, integrity: integrity, lastUpdated: v.lastUpdated)
    }

    /// Every Patient linked to `start`, by shared identifiers and Patient.link, followed until nothing new is found.
    private func linked(
        from start: PatientReconciler.Record, configuration: PatientReconciler.Configuration
    ) async throws -> [PatientReconciler.Record] {
        var found: [String: PatientReconciler.Record] = [start.reference: start]
        var queue = [start]
        while let r = queue.popLast(), found.count < 200 {
            var candidates: [String] = []
            for identifier in r.resource["identifier"]?.arrayValue ?? [] {
                guard let o = identifier.objectValue, let value = o["value"]?.stringValue else { continue }
                var q = SearchQuery(type: "Patient")
                q.clauses = [SearchQuery.Clause(parameters: ["identifier"], anyOf: [.exact(system: o["system"]?.stringValue, value: value)])]
                q.count = 50
                candidates += try await services.store.search(q).ids
            }
            for link in r.resource["link"]?.arrayValue ?? [] {
                if let other = link.objectValue?["other"]?.objectValue?["reference"]?.stringValue, other.hasPrefix("Patient/") {
                    candidates.append(String(other.dropFirst("Patient/".count)))
                }
            }
            for id in candidates where found["Patient/\(id)"] == nil {
                guard let c = try await record(type: "Patient", id: id) else { continue }
                // Only what the identity rules link (a shared value under another system is not the same person).
                let pair = PatientReconciler.groups([r, c], configuration: configuration)
                guard pair.count == 1 else { continue }
                found[c.reference] = c
                queue.append(c)
            }
        }
        return found.values.sorted { $0.reference < $1.reference }
    }

    /// The same provenance as FHIR `Provenance` resources, one per source record: the reconciled Patient is the
    /// target, with a targetElement extension for each element that record gave a value of; the record is the source
    /// entity; the sender is the author; `recorded` is when it was stored; the policy names the mapping set.
    static func provenanceResources(_ view: PatientReconciler.View, records: [PatientReconciler.Record]) -> [JSONObject] {
        let target = "Patient/\(view.patient["id"]?.stringValue ?? "")"
        return records.map { r in
            let elements = view.elements.filter { _, values in values.contains { $0.records.contains(r.reference) } }.map(\.element)
            var reference = JSONObject([("reference", .string(target))])
            reference["extension"] = .array(
                elements.map {
                    .object(JSONObject([("url", .string("http://hl7.org/fhir/StructureDefinition/targetElement")), ("valueUri", .string($0))]))
                })
            var p = JSONObject()
            p["resourceType"] = .string("Provenance")
            p["id"] = .string(StableID.make(type: "Provenance", namespace: target, value: r.reference))
            p["target"] = .array([.object(reference)])
            p["recorded"] = .string(r.storedAt)
            if let m = r.mappingVersion { p["policy"] = .array([.string("urn:ledgerbridge:mapping-set:\(m)")]) }
            p["agent"] = .array([MappingBundle.agent(role: "author", who: r.sender)])
            var what = JSONObject([("reference", .string(r.reference))])
            if let message = r.sourceReference { what["display"] = .string("message \(message)") }
            p["entity"] = .array([.object(JSONObject([("role", .string("source")), ("what", .object(what))]))])
            return p
        }
    }

    static func conflictJSON(_ c: PatientReconciler.Conflict) -> JSONObject {
        JSONObject([
            ("element", .string(c.element)),
            (
                "values",
                .array(c.values.map { .object(JSONObject([("value", $0.value), ("records", .array($0.records.map(JSONValue.string)))])) })
            ),
            ("chosen", c.chosen), ("rule", .string(c.rule)),
        ])
    }

    static func json(_ view: PatientReconciler.View, records: [PatientReconciler.Record]) -> JSONObject {
        let sources: [JSONValue] = records.map { r in
            var o = JSONObject([("record", .string(r.reference)), ("sender", .string(r.sender)), ("storedAt", .string(r.storedAt))])
            if let m = r.sourceReference { o["message"] = .string(m) }
            if let m = r.mappingVersion { o["mappingVersion"] = .string(m) }
            if let i = r.integrity { o["integrity"] = .string(i) }
            return .object(o)
        }
        let provenance = JSONObject(
            view.elements.map { element, values in
                (element, .array(values.map { .object(JSONObject([("value", $0.value), ("records", .array($0.records.map(JSONValue.string)))])) }))
            })
        return JSONObject([
            ("patient", .object(view.patient)), ("records", .array(sources)), ("provenance", .object(provenance)),
            ("conflicts", .array(view.conflicts.map { .object(conflictJSON($0)) })),
            ("provenanceResources", .array(provenanceResources(view, records: records).map(JSONValue.object))),
        ])
    }
}
