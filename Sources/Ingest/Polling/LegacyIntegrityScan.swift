import FHIR
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Store
import Synchronization

/// Whether a hospital's legacy tables still hold what the gateway took from them: a full scan of each source,
/// compared with the rows stored. A row whose content changed while its watermark did not (so no poll will ever see
/// it), a row that vanished, and a row behind the watermark that was never taken are reported: drift, or tampering.
///
/// Sources of `rows`, `fhir-json`, `fhir-xml` and `ccda` are compared row by row (a row is one stored message);
/// `hl7v2` sources, whose rows may hold several messages, are counted but not compared.
public enum LegacyIntegrityScan {
    public struct SourceReport: Sendable, Codable, Hashable {
        public var source: String
        public var scannedRows = 0
        public var storedRows = 0
        /// Row keys whose content differs from what was stored under the same watermark.
        public var changed: [String] = []
        /// Row keys stored but no longer in the table.
        public var vanished: [String] = []
        /// Row keys at or behind the stored watermark that were never stored.
        public var missed: [String] = []
        /// Rows changed with a new watermark that the poller has not taken yet (not a problem).
        public var pending = 0
        public var note: String? = nil

        public var problems: Int { changed.count + vanished.count + missed.count }
    }

    public struct Report: Sendable, Codable, Hashable {
        public var at: String
        public var sources: [SourceReport]
        public var problems: Int { sources.reduce(0) { $0 + $1.problems } }
    }

    public static func scan(_ sources: [LegacySourceConfiguration], store: any RecordStore, logger: Logger) async throws -> Report {
        var reports: [SourceReport] = []
        for source in sources { reports.append(try await scan(source, store: store, logger: logger)) }
        return Report(at: ISO8601DateFormatter().string(from: Date()), sources: reports)
    }

    public static func scan(_ source: LegacySourceConfiguration, store: any RecordStore, logger: Logger) async throws -> SourceReport {
        var report = SourceReport(source: source.name)
        // What was taken: the latest stored body and watermark of each row key.
        var stored: [String: (watermark: String, body: [UInt8])] = [:]
        for (key, body) in try await store.inboundBodies(sender: source.name) {
            guard let key else { continue }
            let rowKey = RowMapping.rowKey(fromKey: key)
            let watermark = key.lastIndex(of: "@").map { String(key[key.index(after: $0)...]) } ?? ""
            stored[rowKey] = (watermark, body)
        }
        report.storedRows = stored.count
        let high = try await store.watermark(source: source.name)

        var pg = try PostgresStoreConfiguration(url: source.url)
        pg.maximumConnections = 1
        let client = PostgresClient(configuration: pg.clientConfiguration, backgroundLogger: logger)
        var seen: Set<String> = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            var watermark = source.initialWatermark
            while true {
                var query = PostgresQuery(unsafeSQL: source.query)
                try query.binds.append(watermark, context: .default)
                try query.binds.append(source.batchSize, context: .default)
                var count = 0
                for try await row in try await client.query(query, logger: logger) {
                    count += 1
                    var columns: [String: String] = [:]
                    var payload: [UInt8]? = nil
                    for cell in row.makeRandomAccess() {
                        if cell.columnName == "payload", let bytes = cell.bytes { payload = Array(buffer: bytes) }
                        if let text = LegacySourcePoller.text(cell) { columns[cell.columnName] = text }
                    }
                    guard let mark = columns["watermark"] else { throw LegacySourcePoller.PollError.missingColumn("watermark") }
                    watermark = mark
                    let rowKey = columns["row_key"] ?? mark
                    seen.insert(rowKey)
                    report.scannedRows += 1
                    guard source.format != .hl7v2 else { continue }
                    var fields = columns
                    fields["watermark"] = nil
                    let body = source.format == .rows ? RowMapping.body(fields) : (payload ?? [])
                    if let taken = stored[rowKey] {
                        if taken.body != body {
                            if taken.watermark == mark { report.changed.append(rowKey) } else { report.pending += 1 }
                        }
                    } else if let high, !isAfter(mark, high) {
                        report.missed.append(rowKey)
                    } else {
                        report.pending += 1
                    }
                }
                if count < source.batchSize { break }
            }
        }
        if source.format == .hl7v2 {
            report.note = "hl7v2 rows may hold several messages: counted, not compared"
        } else {
            report.vanished = stored.keys.filter { !seen.contains($0) }.sorted()
        }
        report.changed.sort()
        report.missed.sort()
        return report
    }

    /// Watermarks compare as numbers when both are numbers, else as text (the sample queries' forms).
    static func isAfter(_ a: String, _ b: String) -> Bool {
        if let x = Int64(a), let y = Int64(b) { return x > y }
        return a > b
    }
}

/// Runs the integrity scan of every legacy source every `interval`, keeping the latest report (for
/// `GET /integrity/report`) and logging a warning when rows changed or vanished behind the gateway's back.
public final class IntegrityScanner: Service, Sendable {
    private let sources: [LegacySourceConfiguration]
    private let store: any RecordStore
    private let interval: Duration
    private let logger: Logger
    private let state = Mutex<(report: LegacyIntegrityScan.Report?, error: String?)>((nil, nil))

    public init(sources: [LegacySourceConfiguration], store: any RecordStore, interval: Duration, logger: Logger) {
        self.sources = sources
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public var latest: (report: LegacyIntegrityScan.Report?, error: String?) { state.withLock { $0 } }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await scanNow()
            try? await Task.sleep(for: interval)
        }
    }

    @discardableResult
    public func scanNow() async -> LegacyIntegrityScan.Report? {
        do {
            let report = try await LegacyIntegrityScan.scan(sources, store: store, logger: logger)
            state.withLock { $0 = (report, nil) }
            if report.problems > 0 {
                logger.warning(
                    "legacy tables changed behind the gateway's back",
                    metadata: ["lb.problems": "\(report.problems)", "lb.sources": "\(report.sources.filter { $0.problems > 0 }.map(\.source))"])
            }
            return report
        } catch {
            state.withLock { $0.error = "\(error)" }
            logger.warning("integrity scan failed", metadata: ["lb.error": "\(error)"])
            return nil
        }
    }
}
