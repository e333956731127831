import FHIR
import HL7v2
import Mapping
import Store

/// Replays dead letters through the mapping set in force now (after a mapping fix). A replayed message keeps its
/// row: it turns `accepted`, or stays a dead letter with the new reason.
public struct DeadLetterReplayer: Sendable {
    public let ingestor: HL7Ingestor

    public init(ingestor: HL7Ingestor) {
        self.ingestor = ingestor
    }

    public struct Outcome: Sendable, Hashable, Codable {
        public var id: Int64
        public var outcome: InboundOutcome
        public var reason: String?
        public var resources: Int
    }

    /// A stored row: a JSON object whose members are the columns, as text.
    static func row(_ body: [UInt8]) -> [String: String]? {
        guard let object = try? JSONParser().parse(body).objectValue else { return nil }
        var row: [String: String] = [:]
        for (key, value) in object.members {
            guard let text = value.stringValue else { return nil }
            row[key] = text
        }
        return row
    }

    public enum ReplayError: Error, CustomStringConvertible {
        case notADeadLetter(Int64)
        case notFound(Int64)
        public var description: String {
            switch self {
            case .notADeadLetter(let id): "message \(id) is not a dead letter"
            case .notFound(let id): "no inbound message \(id)"
            }
        }
    }

    /// Replays the given dead letters (all of them, oldest first, when `ids` is nil).
    public func replay(ids: [Int64]? = nil, progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> [Outcome] {
        let store = ingestor.queue.store
        var letters: [StoredInbound] = []
        if let ids {
            for id in ids {
                guard let m = try await store.inbound(id: id) else { throw ReplayError.notFound(id) }
                guard m.outcome == .deadLetter else { throw ReplayError.notADeadLetter(id) }
                letters.append(m)
            }
        } else {
            letters = try await store.inbound(outcome: .deadLetter, limit: 1_000_000).reversed()
        }
        let mapper = ingestor.mappers.mapper
        var outcomes: [Outcome] = []
        var batch: [IngestUnit] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            let results = try await ingestor.queue.submit(batch)
            for r in results {
                outcomes.append(Outcome(id: r.inboundID, outcome: r.outcome, reason: r.reason, resources: r.versions.count))
            }
            batch = []
            progress?(outcomes.count, letters.count)
        }
        for letter in letters {
            let unit: IngestUnit
            if letter.contentType == HL7Media.er7, let message = try? Message(parsing: letter.body) {
                unit = ingestor.unit(
                    for: message, mapper: mapper, channel: letter.channel, peer: "replay", receivedAt: letter.receivedAt, replayOf: letter.id)
            } else if let table = letter.messageType.flatMap({ $0.hasPrefix("row:") ? String($0.dropFirst(4)) : nil }),
                let row = Self.row(letter.body)
            {
                // A legacy table row, kept as a JSON object of its columns: mapped again by the table's mapping.
                let inbound = InboundMessage(
                    channel: letter.channel, sender: letter.sender, key: letter.key, contentType: letter.contentType,
                    messageType: letter.messageType, body: letter.body, receivedAt: letter.receivedAt)
                // The key is `rowKey@watermark` (see LegacySourcePoller); provenance names the row.
                let rowKey = letter.key.map { key in key.lastIndex(of: "@").map { String(key[..<$0]) } ?? key } ?? ""
                let disposition: Disposition
                do {
                    let resources = try mapper.map(row: row, table: table, context: MappingContext(sender: letter.sender))
                    disposition = ResourceValidation.disposition(
                        resources, source: letter.channel, sourceReference: "\(table):\(rowKey)", mappingVersion: mapper.version)
                } catch {
                    disposition = .deadLetter(reason: error.description)
                }
                unit = IngestUnit(inbound: inbound, disposition: disposition, replayOf: letter.id)
            } else {
                let inbound = InboundMessage(
                    channel: letter.channel, sender: letter.sender, key: letter.key, contentType: letter.contentType, body: letter.body,
                    receivedAt: letter.receivedAt)
                unit = IngestUnit(inbound: inbound, disposition: .deadLetter(reason: letter.reason ?? "not replayable"), replayOf: letter.id)
            }
            batch.append(unit)
            if batch.count >= 200 { try await flush() }
        }
        try await flush()
        return outcomes
    }
}
