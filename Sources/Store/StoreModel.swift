import Crypto
import FHIR
import Foundation
import Ledger

/// What happened to one inbound message. Stored with the raw message.
public enum InboundOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// Parsed, mapped and stored.
    case accepted
    /// The same message (sender + key) was already accepted or dead-lettered; nothing new stored.
    case duplicate
    /// Refused as sent (unparseable, invalid FHIR); kept for the record, never replayed.
    case rejected
    /// Could not be mapped (no mapping for its type, a mapping error); kept with the reason and replayable.
    case deadLetter = "dead_letter"
}

/// The raw message as it arrived, and where from.
public struct InboundMessage: Sendable, Hashable {
    /// How it came in: `http-hl7v2`, `http-fhir`, `mllp`, `poll:<source>`, `import`.
    public var channel: String
    /// Who sent it: MSH-3^MSH-4 for HL7 v2, the feed's client or source name otherwise.
    public var sender: String
    /// The sender's idempotency key: MSH-10, a FHIR body hash, a table row key. Nil: never a duplicate.
    public var key: String?
    /// The message's media type (`x-application/hl7-v2+er7`, `application/fhir+json`, …).
    public var contentType: String
    /// Message type for listings (`ADT^A01`, `Bundle`, `row`).
    public var messageType: String?
    public var body: [UInt8]
    /// Milliseconds since 1970.
    public var receivedAt: Int64
    /// The mapping's coverage report (JSON: values, mapped values, the places no rule read), when it was mapped.
    public var coverage: String?

    public init(
        channel: String, sender: String, key: String?, contentType: String, messageType: String? = nil, body: [UInt8],
        receivedAt: Int64, coverage: String? = nil
    ) {
        self.coverage = coverage
        self.channel = channel
        self.sender = sender
        self.key = key
        self.contentType = contentType
        self.messageType = messageType
        self.body = body
        self.receivedAt = receivedAt
    }
}

/// One resource version to store: the mapped (or received) resource and where it came from.
///
/// Its canonical body, record hash and search keys are computed once, when the write is made: in the caller's task,
/// in parallel with other callers, not inside the store's one-at-a-time commit.
public struct ResourceWrite: Sendable, Hashable {
    public let resourceType: String
    public let id: String
    /// A delete: the version has an empty body.
    public let isDelete: Bool
    /// feed, MLLP peer, file or table: the same text as the inbound channel plus detail.
    public var source: String
    /// MSH-10, file path, table + primary key.
    public var sourceReference: String?
    /// SHA-256 of the mapping files that produced it (nil for FHIR received as FHIR).
    public var mappingVersion: String?
    /// The canonical bytes stored as the body (empty for a delete): the record hash is SHA-256 of exactly these.
    public let canonicalBody: [UInt8]
    /// Hex SHA-256 of `canonicalBody`.
    public let recordHash: String
    /// What the search index keeps for this version (none for a delete).
    public let searchKeys: [SearchKey]
    /// The id was just drawn at random (an AuditEvent's): no earlier version can exist, so the store does not look
    /// for one. Were one there, the commit would fail on the version's key rather than overwrite anything.
    public let freshID: Bool

    public init(
        resource: JSONObject, source: String, sourceReference: String?, mappingVersion: String?, isDelete: Bool = false
    ) throws(StoreError) {
        guard let type = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue, !id.isEmpty else {
            throw StoreError.invalidRecord("a stored resource needs resourceType and id")
        }
        self.resourceType = type
        self.id = id
        self.isDelete = isDelete
        self.source = source
        self.sourceReference = sourceReference
        self.mappingVersion = mappingVersion
        canonicalBody = isDelete ? [] : FHIRCanonicalForm.bytes(resource)
        recordHash = Hash(SHA256.hash(data: canonicalBody)).hex
        searchKeys = isDelete ? [] : SearchKeys.extract(resource)
        freshID = false
    }

    /// A new resource already in canonical form (the caller's bytes must be `FHIRCanonicalForm.bytes` of it, and
    /// `searchKeys` what `SearchKeys.extract` gives): for records the gateway writes itself, built without a JSON tree.
    public init(
        canonical: [UInt8], type: String, id: String, searchKeys: [SearchKey], freshID: Bool, source: String, sourceReference: String? = nil,
        mappingVersion: String? = nil
    ) {
        self.resourceType = type
        self.id = id
        self.isDelete = false
        self.source = source
        self.sourceReference = sourceReference
        self.mappingVersion = mappingVersion
        canonicalBody = canonical
        recordHash = Hash(SHA256.hash(data: canonical)).hex
        self.searchKeys = searchKeys
        self.freshID = freshID
    }

    /// The bytes an idempotency key is made of: the canonical body (the resource's type and id for a delete).
    public var contentBytes: [UInt8] { isDelete ? Array("DELETE \(resourceType)/\(id)".utf8) : canonicalBody }
}

/// What ingest decided for one inbound message. The store writes it in one transaction with everything else in the
/// same commit.
public enum Disposition: Sendable, Hashable {
    case accept([ResourceWrite])
    case deadLetter(reason: String)
    case reject(reason: String)
}

/// A poller's position in a legacy table, advanced with the rows it covers.
public struct Watermark: Sendable, Hashable {
    public var source: String
    public var value: String
    public init(source: String, value: String) {
        self.source = source
        self.value = value
    }
}

/// One inbound message and what to store for it.
public struct IngestUnit: Sendable, Hashable {
    public var inbound: InboundMessage
    public var disposition: Disposition
    /// Set by a poller on the last row of a poll: stored in the same transaction.
    public var watermark: Watermark?
    /// A dead letter being replayed: its row turns accepted (or stays a dead letter with the new reason).
    public var replayOf: Int64?

    public init(inbound: InboundMessage, disposition: Disposition, watermark: Watermark? = nil, replayOf: Int64? = nil) {
        self.inbound = inbound
        self.disposition = disposition
        self.watermark = watermark
        self.replayOf = replayOf
    }
}

/// A version the store wrote (or found unchanged) for one resource of a unit.
public struct VersionOutcome: Sendable, Hashable, Codable {
    public var resourceType: String
    public var id: String
    public var versionId: Int
    /// False when the content equalled the current version: no new version, no ledger entry.
    public var created: Bool
    public var recordHash: String
    /// The ledger leaf of the new version.
    public var leafIndex: Int64?
    /// When the new version was stored (ms): with the fields above, its ledger entry.
    public var storedAt: Int64?

    public init(
        resourceType: String, id: String, versionId: Int, created: Bool, recordHash: String, leafIndex: Int64?, storedAt: Int64? = nil
    ) {
        self.resourceType = resourceType
        self.id = id
        self.versionId = versionId
        self.created = created
        self.recordHash = recordHash
        self.leafIndex = leafIndex
        self.storedAt = storedAt
    }

    /// The ledger entry of a created version, with its leaf index.
    public var ledgerEntry: (leafIndex: Int64, entry: LedgerEntry)? {
        guard created, let leafIndex, let storedAt,
            let entry = LedgerEntry(type: resourceType, id: id, versionId: versionId, recordHash: recordHash, storedAt: storedAt)
        else { return nil }
        return (leafIndex, entry)
    }
}

/// What the store did with one unit.
public struct UnitResult: Sendable, Hashable {
    /// The inbound row written for this unit.
    public var inboundID: Int64
    public var outcome: InboundOutcome
    /// For a duplicate: the first message's row and outcome.
    public var originalID: Int64?
    public var originalOutcome: InboundOutcome?
    /// The reason of a dead letter or reject (the original's, for a duplicate).
    public var reason: String?
    public var versions: [VersionOutcome]
}

/// One stored resource version as read back.
public struct StoredVersion: Sendable, Hashable {
    public var resourceType: String
    public var id: String
    public var versionId: Int
    /// Milliseconds since 1970.
    public var lastUpdated: Int64
    public var isDelete: Bool
    public var source: String
    public var sourceReference: String?
    public var mappingVersion: String?
    public var inboundID: Int64?
    /// Hex SHA-256 of the canonical body at the time it was stored.
    public var recordHash: String
    /// The canonical body as stored now (a tampered database shows here).
    public var body: [UInt8]
    public var leafIndex: Int64?

    /// The version's ledger entry as its row gives it now (a record hash rewritten in the database shows here);
    /// nil when the stored hash is not valid hex.
    public var ledgerEntry: LedgerEntry? {
        LedgerEntry(type: resourceType, id: id, versionId: versionId, recordHash: recordHash, storedAt: lastUpdated)
    }

    /// True when the stored body still hashes to the recorded hash.
    public var bodyMatchesHash: Bool { Hash(SHA256.hash(data: body)).hex == recordHash }

    /// `resource()` written as compact JSON, without parsing the body, when the body has no `meta` of its own (the
    /// common case): the stored body is canonical JSON, so the served form is the body with a `meta` member appended.
    /// Nil when the body has a `meta` or is not an object; `FHIRJSON().write(resource())` then gives the same bytes.
    public func servedJSON() -> [UInt8]? {
        guard body.count >= 2, body.first == UInt8(ascii: "{"), body.last == UInt8(ascii: "}"), !Self.hasTopLevelMeta(body) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 80)
        out.append(contentsOf: body[..<(body.count - 1)])
        if body.count > 2 { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: #""meta":{"versionId":""#.utf8)
        out.append(contentsOf: String(versionId).utf8)
        out.append(contentsOf: #"","lastUpdated":""#.utf8)
        out.append(contentsOf: StoreTime.instant(lastUpdated).utf8)
        out.append(contentsOf: #""}}"#.utf8)
        return out
    }

    /// Whether a compact JSON object has a member named `meta` (a key right after `{` or `,` at depth 1).
    static func hasTopLevelMeta(_ json: [UInt8]) -> Bool {
        json.withUnsafeBufferPointer { bytes in
            // Most bodies have no `"meta":` anywhere (in a string it would be escaped as `\"meta\":`): a search for
            // those bytes, one comparison per byte, says so without the walk below.
            guard containsMetaKey(bytes) else { return false }
            var depth = 0
            var inString = false
            var escaped = false
            var previous: UInt8 = 0
            for i in bytes.indices {
                let b = bytes[i]
                if inString {
                    if escaped {
                        escaped = false
                    } else if b == UInt8(ascii: "\\") {
                        escaped = true
                    } else if b == UInt8(ascii: "\"") {
                        inString = false
                        previous = b
                    }
                    continue
                }
                switch b {
                case UInt8(ascii: "\""):
                    if depth == 1, previous == UInt8(ascii: "{") || previous == UInt8(ascii: ","),
                        bytes[i...].starts(with: metaKey)
                    {
                        return true
                    }
                    inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                default: break
                }
                previous = b
            }
            return false
        }
    }

    private static let metaKey = Array(#""meta":"#.utf8)

    private static func containsMetaKey(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = metaKey.count
        guard bytes.count >= n else { return false }
        for i in 0...(bytes.count - n) where bytes[i] == metaKey[0] {
            if bytes[i..<(i + n)].elementsEqual(metaKey) { return true }
        }
        return false
    }

    /// The resource with `meta.versionId` and `meta.lastUpdated` filled in, as served.
    public func resource() throws -> JSONObject {
        var r = try FHIRJSON().parse(body)
        var meta = r["meta"]?.objectValue ?? JSONObject()
        meta["versionId"] = .string(String(versionId))
        meta["lastUpdated"] = .string(StoreTime.instant(lastUpdated))
        r["meta"] = .object(meta)
        return r
    }
}

/// An inbound message as listed (dead letters, audits).
public struct StoredInbound: Sendable, Hashable {
    public var id: Int64
    public var channel: String
    public var sender: String
    public var key: String?
    public var contentType: String
    public var messageType: String?
    public var receivedAt: Int64
    public var outcome: InboundOutcome
    public var reason: String?
    /// Empty once retention purged it.
    public var body: [UInt8]
    public var replayedAt: Int64?
    /// The mapping's coverage report (JSON), when the message was mapped.
    public var coverage: String? = nil

    /// The message as it arrived (for replaying it).
    public var message: InboundMessage {
        InboundMessage(
            channel: channel, sender: sender, key: key, contentType: contentType, messageType: messageType, body: body, receivedAt: receivedAt)
    }
}

/// One row of the ledger table: the entry and its leaf index.
///
/// The store keeps no second copy of entries: a version row holds every field of its entry (type, id, versionId,
/// record hash, the time it was stored) and its leaf index, so entries are read from the versions.
public struct StoredLedgerEntry: Sendable, Hashable {
    public var leafIndex: Int64
    public var entry: LedgerEntry

    init(leafIndex: Int64, type: String, id: String, versionId: Int, recordHash: String, storedAt: Int64) throws(StoreError) {
        guard let entry = LedgerEntry(type: type, id: id, versionId: versionId, recordHash: recordHash, storedAt: storedAt) else {
            throw StoreError.invalidRecord("version \(type)/\(id)/\(versionId) has a malformed record hash")
        }
        self.leafIndex = leafIndex
        self.entry = entry
    }
}

extension LedgerEntry {
    /// A version's entry from its stored columns (hex record hash, numeric version, ms time); nil for a bad hash.
    init?(type: String, id: String, versionId: Int, recordHash: String, storedAt: Int64) {
        guard let hash = Hash(hex: recordHash) else { return nil }
        self.init(resourceType: type, id: id, versionId: String(versionId), recordHash: hash, storedAt: UInt64(storedAt))
    }
}

/// Counts for status pages and tests.
public struct StoreCounts: Sendable, Hashable, Codable {
    public var inbound: [String: Int]
    public var resources: Int
    public var versions: Int
    public var ledgerEntries: Int
}

public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database cannot be reached or refused the transaction; nothing was committed.
    case unavailable(String)
    /// A concurrent commit (another caller, another gateway) wrote the same records first; nothing was committed,
    /// and the same units committed again, alone, see what it wrote.
    case conflict(String)
    case invalidRecord(String)
    case migration(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .unavailable(let s): "store unavailable: \(s)"
        case .conflict(let s): "conflict with a concurrent commit: \(s)"
        case .invalidRecord(let s): "invalid record: \(s)"
        case .migration(let s): "migration failed: \(s)"
        case .notFound(let s): "not found: \(s)"
        }
    }
}

/// Time helpers shared by both stores.
public enum StoreTime {
    public static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// A UTC time broken into its calendar fields (proleptic Gregorian), by arithmetic: Foundation's `Calendar` cost
    /// more per call than the rest of a FHIR read.
    public struct Civil: Sendable, Equatable {
        public var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, millisecond: Int64
        /// 0 = Sunday.
        public var weekday: Int
    }

    public static func civil(_ millis: Int64) -> Civil {
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        var days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let weekday = Int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday
        // Civil from days (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return Civil(
            year: yoe + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60,
            second: secondOfDay % 60, millisecond: millis - seconds * 1000, weekday: weekday)
    }

    /// FHIR instant with milliseconds, UTC.
    public static func instant(_ millis: Int64) -> String {
        let c = civil(millis)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        return
            "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).\(pad(c.millisecond, 3))Z"
    }
}
