import HL7v2
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
            } else if let table = RowMapping.table(fromMessageType: letter.messageType), let row = RowMapping.row(fromBody: letter.body) {
                // A legacy table row: mapped again, as the poller maps it, by the table's mapping in force.
                let disposition = RowMapping.disposition(
                    row, table: table, rowKey: RowMapping.rowKey(fromKey: letter.key), source: letter.channel, sender: letter.sender,
                    mapper: mapper)
                unit = IngestUnit(inbound: letter.message, disposition: disposition, replayOf: letter.id)
            } else {
                unit = IngestUnit(inbound: letter.message, disposition: .deadLetter(reason: letter.reason ?? "not replayable"), replayOf: letter.id)
            }
            batch.append(unit)
            if batch.count >= 200 { try await flush() }
        }
        try await flush()
        return outcomes
    }
}
