import Crypto
import Foundation
import Ingest
import Ledger
import LedgerAnchors
import Logging
import Mapping
import Store
import TestSupport

/// Which store a test runs on.
enum StoreKind: String, CaseIterable, CustomStringConvertible {
    case sqlite, postgres
    var description: String { rawValue }

    func open() async throws -> any RecordStore {
        let store: any RecordStore
        switch self {
        case .sqlite: store = try SQLiteStore(path: NSTemporaryDirectory() + "ledgerbridge-anchor-\(UUID().uuidString)/store.sqlite")
        case .postgres:
            let pg = try await TestPostgres.shared()
            var configuration = try PostgresStoreConfiguration(url: pg.url(database: try pg.createDatabase("anchor")))
            // These tests are not about outages: a loaded machine (the whole suite on two cores) must not fail them.
            configuration.operationTimeoutSeconds = 30
            configuration.maximumConnections = 4
            store = try await PostgresStore(configuration: configuration, logger: quiet)
        }
        try await store.migrate()
        return store
    }
}

var quiet: Logger {
    var l = Logger(label: "test")
    l.logLevel = ProcessInfo.processInfo.environment["LEDGERBRIDGE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return l
}

/// An ADT^A01 for patient `n` (Patient + Encounter with the built-in mapping).
func admission(_ n: Int) -> [UInt8] {
    Array(
        ("MSH|^~\\&|EHR|HOSP|LB|LB|20260101120000||ADT^A01^ADT_A01|MSG\(n)|P|2.5\r"
            + "PID|1||MRN\(n)^^^HOSP^MR||Doe^Jane\(n)||19800101|F\r"
            + "PV1|1|I|W^1^1||||||||||||||||V\(n)^^^HOSP^VN\r").utf8)
}

/// Ingests admissions `range` through the real pipeline; returns the resources written.
@discardableResult
func ingest(_ range: Range<Int>, into pipeline: IngestPipeline) async throws -> [VersionOutcome] {
    var out: [VersionOutcome] = []
    for n in range {
        let outcomes = try await pipeline.hl7.ingest(admission(n), channel: "test", peer: "127.0.0.1")
        for o in outcomes {
            precondition(o.result.outcome == .accepted, "\(o.result)")
            out += o.result.versions
        }
    }
    return out
}

func temporaryDirectory(_ name: String) throws -> String {
    let d = NSTemporaryDirectory() + "lb-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A schedule for tests: retries within a fraction of a second.
var fastSchedule: AnchorSchedule {
    var s = AnchorSchedule()
    s.batchEntries = 1_000_000
    s.batchSeconds = 3600
    s.retryInitialSeconds = 0.05
    s.retryMaxSeconds = 0.2
    return s
}

extension EthereumBackend.Configuration {
    static func test(_ peer: EthereumPeer, confirmations: Int = 1) -> Self {
        var c = Self(rpcURL: peer.rpcURL)
        c.confirmations = confirmations
        c.pollSeconds = 0.05
        c.timeoutSeconds = 5
        return c
    }
}

/// Runs the service's rounds until `done` holds or `seconds` pass.
func rounds(_ service: AnchorService, seconds: Double = 30, until done: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        _ = try await service.workOutbox(ignoringBackoff: false)
        if try await done() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await done()
}

enum IngestPipelineFactory {
    static func make(_ store: any RecordStore) -> IngestPipeline { IngestPipeline(store: store, mapper: mapper) }

    /// A two-resource mapping (PID → Patient, PV1 → Encounter), so each admission adds exactly two ledger entries and
    /// the tree sizes these tests count stay what they say; the shipped Mappings/ are tested on their own.
    static let mapper: DeclarativeMapper = {
        let text = """
            messages: [ADT^A01]
            resources:
              - name: patient
                segment: PID
                resource: Patient
                id: {value: [PID-3.1], namespace: [PID-3.4.1], required: true}
                rules:
                  - {from: PID-3.1, to: "identifier[].value"}
                  - {from: PID-5.1, to: "name[0].family"}
                  - {from: PID-5.2, to: "name[0].given[]"}
              - name: encounter
                segment: PV1
                resource: Encounter
                id: {value: [PV1-19.1], namespace: [PV1-19.4.1]}
                rules:
                  - {to: status, constant: in-progress}
                  - {to: class.code, constant: IMP}
                  - {from: PV1-19.1, to: "identifier[].value"}
                refs: {subject: patient}
            """
        do {
            return DeclarativeMapper(plan: try MappingLoader.load([MappingLoader.File(path: "admissions.yaml", text: text)]))
        } catch {
            fatalError("the test mapping does not load: \(error)")
        }
    }()
}
