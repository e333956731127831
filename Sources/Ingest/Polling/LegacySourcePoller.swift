import FHIR
import Foundation
import HL7v2
import Logging
import Mapping
import PostgresNIO
import ServiceLifecycle
import Store
import Synchronization

/// One legacy PostgreSQL table (or query) to poll (`sources:` in the config file).
///
/// The query takes `$1`, the last watermark (text), and `$2`, the batch size, and returns rows in watermark order
/// with at least a `watermark` column (any type; compared as the query compares it). For message formats it also
/// returns `payload` (text or bytea); for `rows`, every other column goes to the mapping. An optional `row_key`
/// column names the row in provenance (else the watermark does).
public struct LegacySourceConfiguration: Sendable, Hashable, Codable {
    public enum Format: String, Sendable, Hashable, Codable {
        case hl7v2
        case fhirJSON = "fhir-json"
        case fhirXML = "fhir-xml"
        case ccda
        case rows
    }

    public var name: String
    /// `postgres://user:password@host:port/database?sslmode=…`
    public var url: String
    public var query: String
    public var format: Format
    /// For `rows`: the table name the mapping is chosen by.
    public var table: String?
    /// The watermark before the first row (`0`, or a timestamp).
    public var initialWatermark: String
    public var pollIntervalSeconds: Double
    public var batchSize: Int
    /// A channel the legacy database NOTIFYs on insert, to poll at once instead of waiting for the interval.
    public var notifyChannel: String?

    public init(
        name: String, url: String, query: String, format: Format, table: String? = nil, initialWatermark: String = "0",
        pollIntervalSeconds: Double = 5, batchSize: Int = 500, notifyChannel: String? = nil
    ) {
        self.name = name
        self.url = url
        self.query = query
        self.format = format
        self.table = table
        self.initialWatermark = initialWatermark
        self.pollIntervalSeconds = pollIntervalSeconds
        self.batchSize = batchSize
        self.notifyChannel = notifyChannel
    }

    enum CodingKeys: String, CodingKey {
        case name, url, query, format, table, initialWatermark, pollIntervalSeconds, batchSize, notifyChannel
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), url: try c.decode(String.self, forKey: .url),
            query: try c.decode(String.self, forKey: .query), format: try c.decode(Format.self, forKey: .format),
            table: try c.decodeIfPresent(String.self, forKey: .table),
            initialWatermark: try c.decodeIfPresent(String.self, forKey: .initialWatermark) ?? "0",
            pollIntervalSeconds: try c.decodeIfPresent(Double.self, forKey: .pollIntervalSeconds) ?? 5,
            batchSize: try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 500,
            notifyChannel: try c.decodeIfPresent(String.self, forKey: .notifyChannel))
        if let channel = notifyChannel, !Self.isIdentifier(channel) {
            throw DecodingError.dataCorruptedError(
                forKey: .notifyChannel, in: c, debugDescription: "notifyChannel must match ^[a-z_][a-z0-9_]*$")
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == UInt8(ascii: "_") || (first >= 0x61 && first <= 0x7A) else { return false }
        return s.utf8.allSatisfy { $0 == UInt8(ascii: "_") || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}

/// Polls one legacy source and stores what it finds, advancing the watermark in the same store transaction as the
/// rows it covers: a crash or a restart never skips a row and never stores one twice. When the legacy database goes
/// away the poller keeps trying (backoff up to 30 s) and carries on by itself when it is back.
public final class LegacySourcePoller: Service, Sendable {
    public let configuration: LegacySourceConfiguration
    let queue: CommitQueue
    let ingestor: HL7Ingestor
    let logger: Logger
    private let wakeup = Wakeup()
    private let stopping = Mutex(false)
    private let stats = Mutex<(polls: Int, rows: Int, errors: Int, lastError: String?)>((0, 0, 0, nil))

    public init(
        configuration: LegacySourceConfiguration, queue: CommitQueue, ingestor: HL7Ingestor, logger: Logger = Logger(label: "ledgerbridge.poller")
    ) {
        self.configuration = configuration
        self.queue = queue
        self.ingestor = ingestor
        var logger = logger
        logger[metadataKey: "lb.source"] = "\(configuration.name)"
        self.logger = logger
    }

    /// Rows stored so far by this poller (for status and tests).
    public var rowsStored: Int { stats.withLock { $0.rows } }
    public var lastError: String? { stats.withLock { $0.lastError } }

    public func run() async throws {
        var pg = try PostgresStoreConfiguration(url: configuration.url)
        pg.maximumConnections = 2
        let client = PostgresClient(configuration: pg.clientConfiguration, backgroundLogger: logger)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                if let channel = configuration.notifyChannel {
                    group.addTask { await self.listen(client, channel: channel) }
                }
                await self.pollLoop(client)
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
            self.wakeup.signal()
        }
    }

    private func pollLoop(_ client: PostgresClient) async {
        var backoff = 0.5
        while !stopping.withLock({ $0 }) && !Task.isCancelled {
            do {
                let watermark = try await queue.store.watermark(source: configuration.name) ?? configuration.initialWatermark
                let count = try await pollOnce(client, after: watermark)
                backoff = 0.5
                if count >= configuration.batchSize { continue }
                await wakeup.wait(timeout: .milliseconds(Int64(configuration.pollIntervalSeconds * 1000)))
            } catch {
                stats.withLock {
                    $0.errors += 1
                    $0.lastError = "\(error)"
                }
                logger.warning(
                    "poll failed; retrying", metadata: ["error": "\(String(describing: error).prefix(300))", "lb.retry_in_s": "\(backoff)"])
                await wakeup.wait(timeout: .milliseconds(Int64(backoff * 1000)))
                backoff = min(backoff * 2, 30)
            }
        }
    }

    /// One batch: read rows after the watermark, store them with the new watermark; returns how many rows it read.
    func pollOnce(_ client: PostgresClient, after watermark: String) async throws -> Int {
        var query = PostgresQuery(unsafeSQL: configuration.query)
        try query.binds.append(watermark, context: .default)
        try query.binds.append(configuration.batchSize, context: .default)
        let rows = try await client.query(query, logger: logger)
        var units: [IngestUnit] = []
        var lastWatermark: String? = nil
        var count = 0
        let now = StoreTime.nowMillis()
        for try await row in rows {
            count += 1
            let random = row.makeRandomAccess()
            var columns: [String: String] = [:]
            var payload: [UInt8]? = nil
            for cell in random {
                if cell.columnName == "payload", let bytes = cell.bytes { payload = Array(buffer: bytes) }
                if let text = Self.text(cell) { columns[cell.columnName] = text }
            }
            guard let mark = columns["watermark"] else { throw PollError.missingColumn("watermark") }
            lastWatermark = mark
            let rowKey = columns["row_key"] ?? mark
            units += try self.units(row: columns, payload: payload, rowKey: rowKey, watermark: mark, receivedAt: now)
        }
        guard count > 0, let lastWatermark else { return 0 }
        // The watermark rides on the last unit: it commits with the rows it covers, or not at all.
        units[units.count - 1].watermark = Watermark(source: configuration.name, value: lastWatermark)
        _ = try await queue.submit(units)
        stats.withLock {
            $0.polls += 1
            $0.rows += count
            $0.lastError = nil
        }
        logger.debug("polled", metadata: ["lb.rows": "\(count)"])
        return count
    }

    enum PollError: Error, CustomStringConvertible {
        case missingColumn(String)
        var description: String {
            switch self {
            case .missingColumn(let c): "the source query returns no \(c) column"
            }
        }
    }

    private func units(row: [String: String], payload: [UInt8]?, rowKey: String, watermark: String, receivedAt: Int64) throws -> [IngestUnit] {
        let channel = "poll:\(configuration.name)"
        let sender = configuration.name
        let key = RowMapping.key(rowKey: rowKey, watermark: watermark)
        func inbound(_ body: [UInt8], contentType: String, type: String?) -> InboundMessage {
            InboundMessage(
                channel: channel, sender: sender, key: key, contentType: contentType, messageType: type, body: body, receivedAt: receivedAt)
        }
        switch configuration.format {
        case .hl7v2:
            guard let payload else { throw PollError.missingColumn("payload") }
            // A payload may hold several messages; each is its own unit, keyed by its sender and MSH-10 as on any channel.
            return ingestor.prepare(payload, channel: channel, peer: "\(configuration.name) row \(rowKey)", receivedAt: receivedAt).map(\.unit)
        case .fhirJSON, .fhirXML:
            guard let payload else { throw PollError.missingColumn("payload") }
            let media = configuration.format == .fhirJSON ? "application/fhir+json" : "application/fhir+xml"
            let format: FHIRIngestor.Format = configuration.format == .fhirJSON ? .json : .xml
            let r: JSONObject
            do {
                r = FHIRIngestor.withContentID(try format.parse(payload))
            } catch {
                return [IngestUnit(inbound: inbound(payload, contentType: media, type: nil), disposition: .reject(reason: error.description))]
            }
            let disposition = ResourceValidation.disposition([r], source: channel, sourceReference: rowKey, mappingVersion: nil)
            return [IngestUnit(inbound: inbound(payload, contentType: media, type: r["resourceType"]?.stringValue), disposition: disposition)]
        case .ccda:
            guard let payload else { throw PollError.missingColumn("payload") }
            let mapper = ingestor.mappers.mapper
            let (disposition, result) = RowMapping.mapped(source: channel, sourceReference: rowKey, mapper: mapper) { () throws(MappingError) in
                try mapper.mapDocument(payload, context: MappingContext(sender: sender))
            }
            var message = inbound(payload, contentType: "application/xml", type: "C-CDA")
            if let c = result?.coverage {
                ingestor.mappers.record(c)
                message.coverage = CoverageJSON.encode(c)
            }
            return [IngestUnit(inbound: message, disposition: disposition)]
        case .rows:
            var fields = row
            fields["watermark"] = nil
            let table = configuration.table ?? configuration.name
            let disposition = RowMapping.disposition(
                fields, table: table, rowKey: rowKey, source: channel, sender: sender, mapper: ingestor.mappers.mapper)
            return [
                IngestUnit(
                    inbound: inbound(RowMapping.body(fields), contentType: "application/json", type: RowMapping.messageType(table: table)),
                    disposition: disposition)
            ]
        }
    }

    /// A cell as text, by its SQL type (NULL: nil). Results come in binary format, so the type decides the decoding.
    static func text(_ cell: PostgresCell) -> String? {
        guard let bytes = cell.bytes else { return nil }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return (try? cell.decode(Int64.self)).map(String.init)
        case .float4, .float8:
            return (try? cell.decode(Double.self)).map { String($0) }
        case .bool:
            return (try? cell.decode(Bool.self)).map { $0 ? "true" : "false" }
        case .uuid:
            return (try? cell.decode(UUID.self)).map { $0.uuidString.lowercased() }
        case .date:
            return (try? cell.decode(Date.self)).map { isoFormatter([.withFullDate]).string(from: $0) }
        case .timestamp, .timestamptz:
            return (try? cell.decode(Date.self)).map { isoFormatter([.withInternetDateTime, .withFractionalSeconds]).string(from: $0) }
        case .bytea:
            return String(decoding: bytes.readableBytesView, as: UTF8.self)
        default:
            // text, varchar, char, name, json, numeric as text, and anything else a query casts with ::text.
            if let s = try? cell.decode(String.self), !s.utf8.contains(0) { return s }
            return nil
        }
    }

    private static func isoFormatter(_ options: ISO8601DateFormatter.Options) -> ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = options
        f.timeZone = TimeZone(identifier: "UTC")
        return f
    }

    private func listen(_ client: PostgresClient, channel: String) async {
        while !stopping.withLock({ $0 }) && !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    for try await _ in try await connection.listen(channel) {
                        self.wakeup.signal()
                    }
                }
            } catch {
                if Task.isCancelled { return }
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }
}

/// A wake-up signal with a timeout: `signal()` ends the current (or next) `wait`.
final class Wakeup: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Waits for a signal, the timeout, or the task's cancellation, whichever comes first.
    func wait(timeout: Duration) async {
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self.signal() }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.pending {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            self.signal()
        }
        timer.cancel()
    }
}
