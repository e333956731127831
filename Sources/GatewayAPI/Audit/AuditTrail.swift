import Crypto
import FHIR
import Foundation
import Hummingbird
import Ingest
import Ledger
import Logging
import ServiceLifecycle
import Store
import Synchronization

/// Every access to patient data, as FHIR `AuditEvent`s stored and anchored like any other record: who (the token's
/// subject or the admin key, and their address), what (the resources or the search), when, and the outcome.
///
/// Events are buffered and written every `interval` (50 ms), in commits of at most `batch` events, so a read does not
/// wait for a disk write; the events of the last interval before a crash can be lost (documented in Deploy/README.md).
/// Small, frequent batches keep the work of turning accesses into records (a few microseconds each) from holding one
/// of the few threads that serve requests for long: under load a one-second batch made the reads' slowest 1% wait.
/// They are written through the same commit queue as the feeds, so they get versions, ledger entries and anchors.
public final class AuditTrail: Service, Sendable {
    /// One access.
    public struct Access: Sendable {
        public var subject: String
        public var address: String?
        /// `read`, `vread`, `history-instance`, `search-type`, `operation`, `create` (feeds), `admin`.
        public var interaction: String
        /// The resources touched (`Patient/123`), or nothing for a search (the query is kept instead).
        public var entities: [String]
        public var query: String?
        public var path: String
        public var status: Int
        public var at: Int64

        public init(
            subject: String, address: String?, interaction: String, entities: [String], query: String?, path: String, status: Int,
            at: Int64 = StoreTime.nowMillis()
        ) {
            self.subject = subject
            self.address = address
            self.interaction = interaction
            self.entities = entities
            self.query = query
            self.path = path
            self.status = status
            self.at = at
        }
    }

    private let queue: CommitQueue
    private let interval: Duration
    private let batch: Int
    private let capacity: Int
    private let logger: Logger
    private let buffer = Mutex<[Access]>([])
    private let written = Atomic<Int>(0)

    /// `capacity`: accesses kept waiting for the store at most (while it is down, or slower than the API); beyond
    /// that the API refuses requests (`accepting`) instead of serving them unaudited or growing without bound.
    public init(queue: CommitQueue, interval: Duration = .milliseconds(50), batch: Int = 100, capacity: Int = 100_000, logger: Logger) {
        self.queue = queue
        self.interval = interval
        self.batch = batch
        self.capacity = capacity
        self.logger = logger
    }

    /// How many AuditEvents this trail has stored since start.
    public var stored: Int { written.load(ordering: .relaxed) }

    /// Whether another access can be audited: false while `capacity` accesses wait to be stored.
    public var accepting: Bool { buffer.withLock { $0.count < capacity } }

    public func record(_ access: Access) {
        buffer.withLock { $0.append(access) }
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            await flush()
        }
        await flush()
    }

    /// Writes what is buffered (also called by tests and at shutdown).
    public func flush() async {
        while true {
            let taken: [Access] = buffer.withLock { pending in
                let n = min(pending.count, batch)
                let out = Array(pending.prefix(n))
                pending.removeFirst(n)
                return out
            }
            if taken.isEmpty { return }
            do {
                // One read of the system's random source for the batch's ids, not two per event.
                let random = Self.randomBytes(10 * taken.count)
                let writes = taken.indices.map { i in
                    let id = Self.timeOrderedID(at: taken[i].at, random: random[(10 * i)..<(10 * i + 10)])
                    // A fresh random id: no earlier version to look up. An AuditEvent has no search keys (none of
                    // SearchKeys' elements).
                    return ResourceWrite(
                        canonical: Self.canonicalEvent(taken[i], id: id), type: "AuditEvent", id: id, searchKeys: [], freshID: true,
                        source: "audit")
                }
                let inbound = InboundMessage(
                    channel: "audit", sender: "ledgerbridge", key: nil, contentType: "application/fhir+json", messageType: "AuditEvent",
                    body: Array("{\"auditEvents\":\(taken.count)}".utf8), receivedAt: StoreTime.nowMillis())
                _ = try await queue.submit([IngestUnit(inbound: inbound, disposition: .accept(writes))])
                written.add(taken.count, ordering: .relaxed)
                await Task.yield()
            } catch {
                // Put them back in front and try again at the next interval: an access is not forgotten while the
                // store is down.
                buffer.withLock { $0.insert(contentsOf: taken, at: 0) }
                logger.warning("audit events not stored yet; retrying", metadata: ["lb.count": "\(taken.count)", "lb.error": "\(error)"])
                return
            }
        }
    }

    /// What a FHIR API request touched, from its path: `/fhir/Patient/1` is a read of Patient/1, `/fhir/Observation?…`
    /// a search (its query kept), `…/$everything` an operation on the patient.
    static func access(_ request: Request, _ context: GatewayRequestContext, subject: String, status: Int) -> Access {
        let parts = request.uri.path.split(separator: "/")
        var interaction = "operation"
        var entities: [String] = []
        var query: String? = nil
        if parts.first == "fhir" {
            switch parts.count {
            case 2:
                interaction = "search-type"
                query = request.uri.query ?? ""
            case 3:
                interaction = "read"
                entities = ["\(parts[1])/\(parts[2])"]
            case 4 where parts[3] == "_history":
                interaction = "history-instance"
                entities = ["\(parts[1])/\(parts[2])"]
            case 5 where parts[3] == "_history":
                interaction = "vread"
                entities = ["\(parts[1])/\(parts[2])/_history/\(parts[4])"]
            default:
                entities = parts.count >= 3 ? ["\(parts[1])/\(parts[2])"] : []
            }
        }
        return Access(
            subject: subject, address: context.remoteAddress?.ipAddress, interaction: interaction, entities: entities, query: query,
            path: request.uri.path, status: status)
    }

    /// A time-ordered id, as UUIDv7 orders them: the millisecond clock (48 bits) then 80 random bits, as 32 lower-case
    /// hex digits. Ids in time order go in at the end of the store's indexes, so a commit of a hundred events touches
    /// a few index pages instead of a hundred scattered ones (random ids had made the audit trail the largest cost
    /// of a FHIR read: its commits' page writes and fsyncs).
    static func timeOrderedID(at millis: Int64, random: ArraySlice<UInt8>) -> String {
        let time = UInt64(max(0, millis))
        var bytes = (0..<6).map { UInt8(truncatingIfNeeded: time >> (40 - 8 * UInt64($0))) }
        bytes += random.prefix(10)
        return Hex.encode(bytes)
    }

    /// `count` random bytes in one draw from swift-crypto's generator (BoringSSL's, seeded from the system), rather
    /// than a system call per eight bytes.
    static func randomBytes(_ count: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: 8 * count)).withUnsafeBytes { Array($0) }
    }

    /// A value FHIR allows in a string: a token's subject claim may be empty or hold control characters, which are
    /// shown as U+FFFD.
    static func fhirString(_ s: String) -> String {
        if s.isEmpty { return "(no subject)" }
        guard s.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 && ![0x09, 0x0A, 0x0D].contains($0.value) ? "\u{FFFD}" : $0 }))
    }

    /// The AuditEvent of one access, as its canonical bytes (docs/canonical-form.md): written member by member in the
    /// canonical order, with no JSON tree built, sorted and freed. Every read makes one, so this is on the hot path of
    /// the FHIR API; the bytes are the stored body and the record hash is SHA-256 of them, as for any record. A test
    /// checks that they are a fixed point of the canonical form and valid R4.
    static func canonicalEvent(_ a: Access, id: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(640 + a.path.utf8.count + a.subject.utf8.count + (a.query?.utf8.count ?? 0) * 2)
        func raw(_ s: StaticString) { s.withUTF8Buffer { out.append(contentsOf: $0) } }
        func string(_ s: String) { JSONWriter.appendString(s, to: &out) }
        // Members in UTF-16 order: action, agent, entity, id, outcome, outcomeDesc, recorded, resourceType, source,
        // subtype, type; and within them likewise (code < display < system, network < requestor < type < who).
        raw(#"{"action":"#)
        string(a.interaction == "create" ? "C" : "R")
        raw(#","agent":[{"#)
        if let address = a.address {
            raw(#""network":{"address":"#)
            string(address)
            raw(#","type":"2"},"#)
        }
        raw(#""requestor":true,"type":{"coding":[{"code":"IRCP","system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType"}]},"#)
        raw(#""who":{"display":"#)
        string(Self.fhirString(a.subject))
        raw("}}]")
        // A search without parameters has no query to keep (a base64Binary may not be empty).
        let query = a.query.flatMap { $0.isEmpty ? nil : $0 }
        if !a.entities.isEmpty || query != nil {
            raw(#","entity":["#)
            var first = true
            for entity in a.entities {
                if !first { raw(",") }
                first = false
                raw(#"{"what":{"reference":"#)
                string(entity)
                raw("}}")
            }
            if let query {
                if !first { raw(",") }
                raw(#"{"query":"#)
                string(Data(query.utf8).base64EncodedString())
                raw("}")
            }
            raw("]")
        }
        raw(#","id":"#)
        string(id)
        raw(#","outcome":"#)
        raw(a.status < 400 ? #""0""# : a.status < 500 ? #""4""# : #""8""#)
        raw(#","outcomeDesc":"#)
        string("HTTP \(a.status) \(a.path)")
        raw(#","recorded":"#)
        string(StoreTime.instant(a.at))
        raw(#","resourceType":"AuditEvent","source":{"observer":{"display":"Ledgerbridge gateway"}},"subtype":[{"code":"#)
        string(a.interaction)
        raw(#","system":"http://hl7.org/fhir/restful-interaction"}],"#)
        raw(#""type":{"code":"rest","display":"RESTful Operation","system":"http://terminology.hl7.org/CodeSystem/audit-event-type"}}"#)
        return out
    }
}
