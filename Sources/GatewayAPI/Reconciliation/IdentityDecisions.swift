import FHIR
import Foundation
import Ingest
import Mapping
import Store

/// Operators' decisions that two Patient records are not the same person ("unlink"), kept as FHIR `Basic` resources
/// in the store: versioned, logged in the ledger and anchored like any record, so who decided what, and when, is on
/// record and tamper-evident. Taking a decision back (relinking) deletes its resource (a deletion version).
///
/// The decisions join the configured `reconciliation.unlinked` pairs; both keep two records from being linked to each
/// other directly.
enum IdentityDecisions {
    static let codeSystem = "https://ledgerbridge.org/fhir/CodeSystem/identity-decision"
    static let recordExtension = "https://ledgerbridge.org/fhir/StructureDefinition/unlinked-record"
    static let reasonExtension = "https://ledgerbridge.org/fhir/StructureDefinition/identity-decision-reason"

    struct Decision: Sendable {
        var id: String
        /// The two records, sorted.
        var pair: [String]
        var by: String
        var reason: String?
        var created: String
    }

    /// One id per pair, whichever order it was given in.
    static func id(_ pair: [String]) -> String {
        let sorted = pair.sorted()
        return StableID.make(type: "Basic", namespace: "unlink", value: sorted.joined(separator: "|"))
    }

    static func resource(pair: [String], by: String, reason: String?, at millis: Int64) -> JSONObject {
        let sorted = pair.sorted()
        var extensions: [JSONValue] = sorted.map {
            .object(JSONObject([("url", .string(recordExtension)), ("valueReference", .object(JSONObject([("reference", .string($0))])))]))
        }
        if let reason, !reason.isEmpty {
            extensions.append(.object(JSONObject([("url", .string(reasonExtension)), ("valueString", .string(reason))])))
        }
        return JSONObject([
            ("resourceType", .string("Basic")), ("id", .string(id(sorted))), ("extension", .array(extensions)),
            ("code", .object(JSONObject.concept(system: codeSystem, code: "unlink", display: "Not the same person"))),
            ("created", .string(String(StoreTime.instant(millis).prefix(10)))),
            ("author", .object(JSONObject([("display", .string(by))]))),
        ])
    }

    static func decision(_ resource: JSONObject) -> Decision? {
        guard resource["resourceType"]?.stringValue == "Basic", let id = resource["id"]?.stringValue,
            resource["code"]?.objectValue?["coding"]?.arrayValue?.contains(where: {
                $0.objectValue?["system"]?.stringValue == codeSystem && $0.objectValue?["code"]?.stringValue == "unlink"
            }) == true
        else { return nil }
        let extensions = resource["extension"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let pair = extensions.filter { $0["url"]?.stringValue == recordExtension }.compactMap {
            $0["valueReference"]?.objectValue?["reference"]?.stringValue
        }
        guard pair.count == 2 else { return nil }
        return Decision(
            id: id, pair: pair.sorted(), by: resource["author"]?.objectValue?["display"]?.stringValue ?? "",
            reason: extensions.first { $0["url"]?.stringValue == reasonExtension }?["valueString"]?.stringValue,
            created: resource["created"]?.stringValue ?? "")
    }

    /// Every decision in force (the current version of each, deletions left out).
    static func all(in store: any RecordStore) async throws -> [Decision] {
        var out: [Decision] = []
        var query = SearchQuery(type: "Basic")
        query.clauses = [SearchQuery.Clause(parameters: ["code"], anyOf: [.exact(system: codeSystem, value: "unlink")])]
        query.count = 1000
        while true {
            let page = try await store.search(query)
            for id in page.ids {
                if let v = try await store.currentVersion(type: "Basic", id: id), !v.isDelete, let d = decision(try v.resource()) { out.append(d) }
            }
            query.offset += query.count
            if query.offset >= page.total || page.ids.isEmpty { break }
        }
        return out
    }

    /// Stores a decision (or its withdrawal) through the commit queue, like a feed: acknowledged once committed.
    static func commit(_ write: ResourceWrite, by: String, queue: CommitQueue) async throws {
        let inbound = InboundMessage(
            channel: "admin", sender: by, key: nil, contentType: "application/fhir+json", messageType: "Basic",
            body: Array("{\"identityDecision\":\"\(write.id)\"}".utf8), receivedAt: StoreTime.nowMillis())
        _ = try await queue.submit([IngestUnit(inbound: inbound, disposition: .accept([write]))])
    }
}
