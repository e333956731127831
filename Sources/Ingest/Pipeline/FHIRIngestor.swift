import Crypto
import FHIR
import Ledger
import Mapping
import Store

/// FHIR in: a resource or a Bundle, JSON or XML, with the specification's batch and transaction semantics.
///
/// - A resource is stored as sent. Without an id it gets one derived from its content (so a resend addresses the same
///   resource, never a duplicate).
/// - A `transaction` Bundle is all or nothing: every entry is checked first, and its resources are written in one
///   store unit; `urn:uuid:` fullUrls are given ids and references to them rewritten.
/// - A `batch` Bundle is processed entry by entry: each entry is its own unit and gets its own status.
/// - Any other Bundle type (document, collection, message, …) is a resource like any other.
///
/// The idempotency key of a unit is the SHA-256 of its canonical content, so the same version sent again is a
/// duplicate: acknowledged, not stored twice.
public struct FHIRIngestor: Sendable {
    public enum Format: String, Sendable {
        case json, xml
        public var mediaType: String { self == .json ? "application/fhir+json" : "application/fhir+xml" }

        /// Reads a resource in this format.
        public func parse(_ bytes: [UInt8]) throws(FHIRCodecError) -> JSONObject {
            self == .json ? try FHIRJSON().parse(bytes) : try FHIRXMLParser().parse(bytes)
        }
    }

    /// The HTTP answer: status, and a resource (a Bundle response, the stored resource, or an OperationOutcome).
    public struct Response: Sendable {
        public var status: Int
        public var body: JSONObject
        /// `Type/id/_history/vid` for a single resource created or updated.
        public var location: String?
        public var versionId: Int?
    }

    public let queue: CommitQueue

    public init(queue: CommitQueue) {
        self.queue = queue
    }

    public func ingest(
        _ body: [UInt8], format: Format, channel: String, sender: String, receivedAt: Int64 = StoreTime.nowMillis()
    )
        async throws(IngestError) -> Response
    {
        let resource: JSONObject
        do {
            resource = try format.parse(body)
        } catch {
            try await storeReject(body, format: format, channel: channel, sender: sender, receivedAt: receivedAt, reason: error.description)
            return Response(status: 400, body: Self.outcome(code: "structure", error.description))
        }
        let issues = ResourceValidation.validator.validate(resource).filter { $0.severity == .error }
        if !issues.isEmpty {
            try await storeReject(
                body, format: format, channel: channel, sender: sender, receivedAt: receivedAt,
                reason: "invalid FHIR R4 at " + issues.prefix(5).map(\.path).joined(separator: ", "))
            return Response(status: 422, body: FHIRValidator.operationOutcome(issues))
        }
        let type = resource["resourceType"]?.stringValue ?? ""
        let bundleType = resource["type"]?.stringValue
        if type == "Bundle", bundleType == "transaction" {
            return try await transaction(resource, body: body, format: format, channel: channel, sender: sender, receivedAt: receivedAt)
        }
        if type == "Bundle", bundleType == "batch" {
            return try await batch(resource, format: format, channel: channel, sender: sender, receivedAt: receivedAt)
        }
        let stored = Self.withContentID(resource)
        let write: ResourceWrite
        do {
            write = try ResourceWrite(resource: stored, source: "\(channel):\(sender)", sourceReference: nil, mappingVersion: nil)
        } catch {
            return Response(status: 400, body: Self.outcome(code: "required", error.description))
        }
        let unit = IngestUnit(
            inbound: InboundMessage(
                channel: channel, sender: sender, key: Self.key(write.canonicalBody), contentType: format.mediaType, messageType: type,
                body: body, receivedAt: receivedAt),
            disposition: .accept([write]))
        let result = try await submit([unit])[0]
        let version = try await versionOf(write, in: result)
        var served = stored
        var meta = served["meta"]?.objectValue ?? JSONObject()
        meta["versionId"] = .string(String(version.versionId))
        served["meta"] = .object(meta)
        return Response(
            status: version.created ? 201 : 200, body: served, location: "\(write.resourceType)/\(write.id)/_history/\(version.versionId)",
            versionId: version.versionId)
    }

    // MARK: - Transaction

    private struct EntryWrite {
        var write: ResourceWrite
        var method: String
    }

    private func transaction(
        _ bundle: JSONObject, body: [UInt8], format: Format, channel: String, sender: String, receivedAt: Int64
    ) async throws(IngestError) -> Response {
        let entries = bundle["entry"]?.arrayValue ?? []
        // Ids for every entry first, so references between entries can be rewritten before anything is stored.
        var planned: [(resource: JSONObject?, method: String, type: String, id: String)] = []
        var rewrites: [String: String] = [:]
        for (n, entry) in entries.enumerated() {
            let (e, method, url, resource) = Self.request(of: entry)
            guard let target = Self.target(method: method, url: url, resource: resource) else {
                let message =
                    "entry \(n): \(method) \(url.isEmpty ? "without a url" : "to an unsupported url") (supported: PUT Type/id, POST Type, DELETE Type/id)"
                try await storeReject(body, format: format, channel: channel, sender: sender, receivedAt: receivedAt, reason: message)
                return Response(status: 400, body: Self.outcome(code: "not-supported", message))
            }
            if let fullUrl = e["fullUrl"]?.stringValue { rewrites[fullUrl] = "\(target.type)/\(target.id)" }
            planned.append((resource, method, target.type, target.id))
        }
        var writes: [EntryWrite] = []
        for p in planned {
            var resource = p.resource ?? JSONObject([("resourceType", .string(p.type)), ("id", .string(p.id))])
            resource["id"] = .string(p.id)
            if !rewrites.isEmpty { resource = Self.rewriteReferences(resource, rewrites) }
            do {
                writes.append(
                    EntryWrite(
                        write: try ResourceWrite(
                            resource: resource, source: "\(channel):\(sender)", sourceReference: nil, mappingVersion: nil,
                            isDelete: p.method == "DELETE"), method: p.method))
            } catch {
                return Response(status: 400, body: Self.outcome(code: "invalid", error.description))
            }
        }
        var keyBytes: [UInt8] = []
        for w in writes { keyBytes += Array("\(w.method) \(w.write.resourceType)/\(w.write.id)\n".utf8) + w.write.canonicalBody }
        let unit = IngestUnit(
            inbound: InboundMessage(
                channel: channel, sender: sender, key: Self.key(keyBytes), contentType: format.mediaType, messageType: "Bundle/transaction",
                body: body, receivedAt: receivedAt),
            disposition: .accept(writes.map(\.write)))
        let result = try await submit([unit])[0]
        var responseEntries: [JSONValue] = []
        for w in writes {
            let version = try await versionOf(w.write, in: result)
            responseEntries.append(Self.responseEntry(w.write, version: version))
        }
        return Response(
            status: 200,
            body: JSONObject([
                ("resourceType", .string("Bundle")), ("type", .string("transaction-response")), ("entry", .array(responseEntries)),
            ]))
    }

    // MARK: - Batch

    private func batch(
        _ bundle: JSONObject, format: Format, channel: String, sender: String, receivedAt: Int64
    ) async throws(IngestError)
        -> Response
    {
        let entries = bundle["entry"]?.arrayValue ?? []
        var units: [IngestUnit] = []
        var slots: [(unitIndex: Int?, write: ResourceWrite?, error: String?)] = []
        for (n, entry) in entries.enumerated() {
            let (_, method, url, resource) = Self.request(of: entry)
            guard let target = Self.target(method: method, url: url, resource: resource) else {
                slots.append((nil, nil, "entry \(n): \(method) \(url) is not supported"))
                continue
            }
            var r = resource ?? JSONObject([("resourceType", .string(target.type)), ("id", .string(target.id))])
            r["id"] = .string(target.id)
            guard
                let write = try? ResourceWrite(
                    resource: r, source: "\(channel):\(sender)", sourceReference: nil, mappingVersion: nil, isDelete: method == "DELETE")
            else {
                slots.append((nil, nil, "entry \(n): the resource has no type"))
                continue
            }
            let entryBody = FHIRJSON().write(r)
            units.append(
                IngestUnit(
                    inbound: InboundMessage(
                        channel: channel, sender: sender, key: Self.key(Array("\(method)\n".utf8) + write.contentBytes),
                        contentType: "application/fhir+json", messageType: "Bundle/batch-entry", body: entryBody, receivedAt: receivedAt),
                    disposition: .accept([write])))
            slots.append((units.count - 1, write, nil))
        }
        let results = try await submit(units)
        var responseEntries: [JSONValue] = []
        for slot in slots {
            if let i = slot.unitIndex, let write = slot.write {
                let version = try await versionOf(write, in: results[i])
                responseEntries.append(Self.responseEntry(write, version: version))
            } else {
                responseEntries.append(
                    .object(
                        JSONObject([
                            (
                                "response",
                                .object(
                                    JSONObject([
                                        ("status", .string("400 Bad Request")),
                                        ("outcome", .object(Self.outcome(code: "not-supported", slot.error ?? "invalid entry"))),
                                    ]))
                            )
                        ])))
            }
        }
        return Response(
            status: 200,
            body: JSONObject([("resourceType", .string("Bundle")), ("type", .string("batch-response")), ("entry", .array(responseEntries))]))
    }

    // MARK: - Helpers

    private func submit(_ units: [IngestUnit]) async throws(IngestError) -> [UnitResult] {
        do {
            return try await queue.submit(units)
        } catch let error as IngestError {
            throw error
        } catch {
            throw .storeUnavailable("\(error)")
        }
    }

    private func storeReject(
        _ body: [UInt8], format: Format, channel: String, sender: String, receivedAt: Int64, reason: String
    )
        async throws(IngestError)
    {
        let unit = IngestUnit(
            inbound: InboundMessage(
                channel: channel, sender: sender, key: nil, contentType: format.mediaType, messageType: nil, body: body, receivedAt: receivedAt),
            disposition: .reject(reason: reason))
        _ = try await submit([unit])
    }

    /// The version a write ended up as: from the commit, or, for a duplicate message, the resource's current version.
    private func versionOf(_ write: ResourceWrite, in result: UnitResult) async throws(IngestError) -> VersionOutcome {
        if let v = result.versions.first(where: { $0.resourceType == write.resourceType && $0.id == write.id }) { return v }
        let current: StoredVersion?
        do {
            current = try await queue.store.currentVersion(type: write.resourceType, id: write.id)
        } catch {
            throw .storeUnavailable("\(error)")
        }
        return VersionOutcome(
            resourceType: write.resourceType, id: write.id, versionId: current?.versionId ?? 0, created: false,
            recordHash: current?.recordHash ?? "", leafIndex: current?.leafIndex)
    }

    static func responseEntry(_ write: ResourceWrite, version: VersionOutcome) -> JSONValue {
        let status = write.isDelete ? "204 No Content" : version.created ? (version.versionId == 1 ? "201 Created" : "200 OK") : "200 OK"
        var response = JSONObject([("status", .string(status))])
        if !write.isDelete {
            response["location"] = .string("\(write.resourceType)/\(write.id)/_history/\(version.versionId)")
            response["etag"] = .string("W/\"\(version.versionId)\"")
        }
        return .object(JSONObject([("response", .object(response))]))
    }

    /// A Bundle entry's parts: the entry, its request method (PUT when absent) and URL, and its resource.
    static func request(of entry: JSONValue) -> (entry: JSONObject, method: String, url: String, resource: JSONObject?) {
        let e = entry.objectValue ?? JSONObject()
        let request = e["request"]?.objectValue
        return (e, request?["method"]?.stringValue ?? "PUT", request?["url"]?.stringValue ?? "", e["resource"]?.objectValue)
    }

    /// The resource type and id an entry's request addresses, or nil when it is not supported.
    static func target(method: String, url: String, resource: JSONObject?) -> (type: String, id: String)? {
        let path = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let parts = path.split(separator: "/").map(String.init)
        switch method {
        case "PUT", "DELETE":
            guard parts.count == 2, FHIRTypeTable.r4.isResource(parts[0]),
                FHIRValidator.isValidPrimitive(parts[1], type: "id")
            else { return nil }
            if method == "PUT", resource?["resourceType"]?.stringValue != parts[0] { return nil }
            return (parts[0], parts[1])
        case "POST":
            guard let resource, let type = resource["resourceType"]?.stringValue, parts.first == type || parts.isEmpty else { return nil }
            return (type, contentID(resource))
        default:
            return nil
        }
    }

    /// The resource, with an id from its content when it has none.
    static func withContentID(_ resource: JSONObject) -> JSONObject {
        guard resource["id"]?.stringValue == nil else { return resource }
        var r = resource
        r["id"] = .string(contentID(r))
        return r
    }

    /// An id from the resource's content (without id and meta), so a re-sent create addresses the same resource.
    static func contentID(_ resource: JSONObject) -> String {
        var r = resource
        r["id"] = nil
        r["meta"] = nil
        return String(Hash(SHA256.hash(data: FHIRCanonicalForm.bytes(r))).hex.prefix(32))
    }

    static func key(_ bytes: [UInt8]) -> String { "sha256:" + Hash(SHA256.hash(data: bytes)).hex }

    static func rewriteReferences(_ object: JSONObject, _ map: [String: String]) -> JSONObject {
        func rewrite(_ value: JSONValue, key: String?) -> JSONValue {
            switch value {
            case .string(let s) where key == "reference": return .string(map[s] ?? s)
            case .object(let o):
                return .object(JSONObject(o.members.map { ($0.key, rewrite($0.value, key: $0.key)) }))
            case .array(let a): return .array(a.map { rewrite($0, key: key) })
            default: return value
            }
        }
        return JSONObject(object.members.map { ($0.key, rewrite($0.value, key: $0.key)) })
    }

    static func outcome(code: String, _ message: String) -> JSONObject {
        JSONObject([
            ("resourceType", .string("OperationOutcome")),
            (
                "issue",
                .array([
                    .object(JSONObject([("severity", .string("error")), ("code", .string(code)), ("diagnostics", .string(message))]))
                ])
            ),
        ])
    }
}
