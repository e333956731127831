import FHIR
import HL7v2
import Mapping
import Store

/// HL7 v2 in: ER7 bytes (one message, several, or an FHS/BHS batch) → one store unit per message → ACKs.
///
/// Every message gets a unit, so every message is kept with its outcome: mapped and `accepted`, `rejected` when it
/// does not parse (answered AR), `dead_letter` when it parses but cannot be mapped or maps to invalid FHIR (answered
/// AA with a warning ERR: the gateway holds it durably and replays it after a mapping fix, so a resend would not
/// help). The sender's identity for idempotency is MSH-3^MSH-4 and the key MSH-10.
public struct HL7Ingestor: Sendable {
    public let queue: CommitQueue
    public let mappers: MapperHolder
    public var parser = ER7Parser()
    private let messagesCounted = LabeledCounters(label: "ledgerbridge_hl7_messages_total", dimensions: ["outcome", "channel"])

    public init(queue: CommitQueue, mappers: MapperHolder) {
        self.queue = queue
        self.mappers = mappers
    }

    /// What happened to one message of the input.
    public struct MessageOutcome: Sendable {
        public var controlID: String?
        public var messageType: String?
        public var result: UnitResult
        /// The acknowledgement, ER7 (segments end with CR), without MLLP framing.
        public var ack: [UInt8]
    }

    /// Parses, maps and commits; returns after the commit with one outcome per message, in input order.
    /// Throws `IngestError` when the store could not take them: then nothing of the input was stored.
    public func ingest(
        _ body: [UInt8], channel: String, peer: String, receivedAt: Int64 = StoreTime.nowMillis()
    ) async throws(IngestError)
        -> [MessageOutcome]
    {
        let prepared = prepare(body, channel: channel, peer: peer, receivedAt: receivedAt)
        let results: [UnitResult]
        do {
            results = try await queue.submit(prepared.map(\.unit))
        } catch let error as IngestError {
            throw error
        } catch {
            throw .storeUnavailable("\(error)")
        }
        let timestamp = HL7Time.now()
        for r in results {
            messagesCounted.increment(r.outcome.rawValue, channel)
        }
        return zip(prepared, results).map { p, r in
            MessageOutcome(
                controlID: p.message?.controlID, messageType: p.unit.inbound.messageType, result: r,
                ack: Self.acknowledgement(p, result: r, timestamp: timestamp))
        }
    }

    /// One message (or unparseable stretch) of an input, ready to commit.
    public struct Prepared: Sendable {
        public var unit: IngestUnit
        public var message: Message?
        public var parseError: HL7ParseError?
    }

    /// The units for an input, pure but for reading the current mapping set.
    public func prepare(_ body: [UInt8], channel: String, peer: String, receivedAt: Int64) -> [Prepared] {
        let mapper = mappers.mapper
        var items: [(Result<Message, HL7ParseError>)] = []
        parser.forEachPart(in: body) { part in
            switch part {
            case .success(.message(let m)): items.append(.success(m))
            case .success: break  // FHS/BHS/BTS/FTS: control segments, not messages
            case .failure(let e): items.append(.failure(e))
            }
            return true
        }
        var out: [Prepared] = []
        out.reserveCapacity(items.count)
        for (n, item) in items.enumerated() {
            switch item {
            case .success(let message):
                out.append(Prepared(unit: unit(for: message, mapper: mapper, channel: channel, peer: peer, receivedAt: receivedAt), message: message))
            case .failure(let error):
                // The unparseable stretch: from the end of the previous message to the start of the next one.
                let start = n > 0 ? items[n - 1].endOffset ?? 0 : 0
                let end = items[(n + 1)...].lazy.compactMap(\.startOffset).first ?? body.count
                let bytes = start < end ? Array(body[start..<end]) : body
                out.append(
                    Prepared(
                        unit: Self.rejected(bytes, channel: channel, peer: peer, receivedAt: receivedAt, reason: error.description),
                        parseError: error))
            }
        }
        if out.isEmpty {
            let error = HL7ParseError(.emptyInput, segmentIndex: 0, byteOffset: 0, reason: "the input holds no message")
            out.append(
                Prepared(
                    unit: Self.rejected(body, channel: channel, peer: peer, receivedAt: receivedAt, reason: error.description), parseError: error))
        }
        return out
    }

    /// The unit for one parsed message: its identity, and its resources or the reason it cannot be mapped.
    public func unit(
        for message: Message, mapper: any MessageMapper, channel: String, peer: String, receivedAt: Int64, replayOf: Int64? = nil
    )
        -> IngestUnit
    {
        let sender = Self.sender(of: message)
        let type = [message.messageCode, message.triggerEvent].compactMap { $0 }.joined(separator: "^")
        // Identity fields become database text, which cannot hold NUL: refuse such a message as sent.
        if (sender + (message.controlID ?? "") + type).utf8.contains(0) {
            return Self.rejected(
                message.bytes, channel: channel, peer: peer, receivedAt: receivedAt, reason: "MSH-3, MSH-4, MSH-9 or MSH-10 contains a NUL byte",
                replayOf: replayOf)
        }
        let (disposition, coverage) = Self.disposition(message, mapper: mapper, source: "\(channel):\(peer)", sender: sender)
        if let coverage { mappers.record(coverage) }
        let inbound = InboundMessage(
            channel: channel, sender: sender, key: message.controlID.flatMap { $0.isEmpty ? nil : $0 }, contentType: HL7Media.er7,
            messageType: type.isEmpty ? nil : type, body: message.bytes, receivedAt: receivedAt, coverage: coverage.map(CoverageJSON.encode))
        return IngestUnit(inbound: inbound, disposition: disposition, replayOf: replayOf)
    }

    static func disposition(_ message: Message, mapper: any MessageMapper, source: String, sender: String) -> (Disposition, CoverageReport?) {
        let result: MappingResult
        do {
            result = try mapper.mapWithCoverage(message, context: MappingContext(sender: sender))
        } catch {
            return (.deadLetter(reason: error.description), nil)
        }
        return (
            ResourceValidation.disposition(
                result.storedResources, source: source, sourceReference: message.controlID, mappingVersion: mapper.version),
            result.coverage
        )
    }

    /// Input refused as sent: kept under the peer (its own sender fields cannot be trusted or read), with no key, so it
    /// is never taken for a duplicate.
    static func rejected(_ bytes: [UInt8], channel: String, peer: String, receivedAt: Int64, reason: String, replayOf: Int64? = nil) -> IngestUnit {
        let inbound = InboundMessage(
            channel: channel, sender: "unparsed:\(peer)", key: nil, contentType: HL7Media.er7, body: bytes, receivedAt: receivedAt)
        return IngestUnit(inbound: inbound, disposition: .reject(reason: reason), replayOf: replayOf)
    }

    /// MSH-3^MSH-4: the sending application and facility, the namespace of MSH-10.
    public static func sender(of message: Message) -> String {
        let msh = message.segment(at: 0)
        return "\(msh.value(field: 3) ?? "")^\(msh.value(field: 4) ?? "")"
    }

    static func acknowledgement(_ p: Prepared, result: UnitResult, timestamp: String) -> [UInt8] {
        let builder = ACKBuilder()
        let controlID = "LB\(result.inboundID)"
        let ack: Message
        if let message = p.message {
            var errors: [HL7AcknowledgmentError] = []
            let code: ACKBuilder.Code
            switch result.outcome {
            case .accepted:
                code = .accept
            case .duplicate:
                code = .accept
                errors.append(
                    HL7AcknowledgmentError(
                        code: .duplicateKeyIdentifier, location: HL7ErrorLocation(segmentID: "MSH", field: 10), severity: .information,
                        diagnostic:
                            "duplicate of message \(result.originalID.map(String.init) ?? "?") (\(result.originalOutcome?.rawValue ?? "accepted")); not stored again"
                    ))
            case .deadLetter:
                code = .accept
                errors.append(
                    HL7AcknowledgmentError(
                        code: .unsupportedMessageType, location: HL7ErrorLocation(segmentID: "MSH", field: 9), severity: .warning,
                        diagnostic: "held as dead letter \(result.inboundID): \(result.reason ?? "not mapped")"))
            case .rejected:
                code = .reject
                errors.append(HL7AcknowledgmentError(code: .applicationInternalError, severity: .error, diagnostic: result.reason))
            }
            ack = builder.acknowledge(message, code: code, errors: errors, controlID: controlID, timestamp: timestamp)
        } else {
            let error = p.parseError ?? HL7ParseError(.emptyInput, segmentIndex: 0, byteOffset: 0, reason: "unparseable")
            ack = builder.reject(p.unit.inbound.body, error: error, controlID: controlID, timestamp: timestamp)
        }
        return ER7Serializer().serialize(ack)
    }

    /// AE for every message of an input the store could not take (nothing was stored; the sender should resend).
    public func failureAcknowledgements(_ body: [UInt8], error: IngestError) -> [[UInt8]] {
        let builder = ACKBuilder()
        let timestamp = HL7Time.now()
        var acks: [[UInt8]] = []
        let diagnostic = error.description
        parser.forEachPart(in: body) { part in
            if case .success(.message(let m)) = part {
                let ack = builder.acknowledge(
                    m, code: .error,
                    errors: [HL7AcknowledgmentError(code: .applicationInternalError, severity: .error, diagnostic: diagnostic)],
                    controlID: "LBX\(timestamp)\(acks.count)", timestamp: timestamp)
                acks.append(ER7Serializer().serialize(ack))
            }
            return true
        }
        if acks.isEmpty {
            let e = HL7ParseError(.emptyInput, segmentIndex: 0, byteOffset: 0, reason: diagnostic)
            acks.append(ER7Serializer().serialize(builder.reject(body, error: e, code: .error, controlID: "LBX\(timestamp)", timestamp: timestamp)))
        }
        return acks
    }
}

extension Result where Success == Message, Failure == HL7ParseError {
    fileprivate var startOffset: Int? {
        if case .success(let m) = self { return m.startOffset }
        return nil
    }
    fileprivate var endOffset: Int? {
        if case .success(let m) = self { return m.startOffset + m.bytes.count }
        return nil
    }
}

/// Media types of HL7 v2 ER7.
public enum HL7Media {
    public static let er7 = "x-application/hl7-v2+er7"
}
