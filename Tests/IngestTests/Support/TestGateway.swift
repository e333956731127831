import FHIR
import Foundation
import GatewayAPI
import HL7v2
import Hummingbird
import HummingbirdTesting
import Ingest
import Logging
import Mapping
import NIOCore
import NIOPosix
import ServiceLifecycle
import Store
import TestSupport
import Testing

/// Which store a test runs on.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    /// A fresh, migrated store: a temporary SQLite file, or a new database on the shared throwaway PostgreSQL.
    func open() async throws -> any RecordStore {
        let store: any RecordStore
        switch self {
        case .sqlite:
            store = try SQLiteStore(path: NSTemporaryDirectory() + "ledgerbridge-ingest-\(UUID().uuidString)/store.sqlite")
        case .postgres:
            let pg = try await TestPostgres.shared()
            store = try await PostgresStore(
                configuration: PostgresStoreConfiguration(url: pg.url(database: try pg.createDatabase("ingest"))), logger: TestGateway.logger)
        }
        try await store.migrate()
        return store
    }
}

/// Test settings shared by the ingest suites.
enum TestGateway {
    static var logger: Logger {
        var l = Logger(label: "test")
        l.logLevel = ProcessInfo.processInfo.environment["LEDGERBRIDGE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return l
    }
}

/// The pipeline over one store, as `serve` wires it, and the listeners around it.
extension IngestPipeline {
    /// With the shipped mapping set (the repository's Mappings/), as `serve` runs it.
    init(store: any RecordStore) {
        self.init(store: store, mapper: ShippedMappings.mapper)
    }

    /// Runs HTTP (on a free port) and MLLP (on a free port) over real sockets while `body` runs.
    func run(
        http: HTTPConfiguration = HTTPConfiguration(), mllp: MLLPConfiguration? = MLLPConfiguration(), extra: [any Service] = [],
        _ body: @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        var httpConfiguration = http
        httpConfiguration.port = 0
        var background = extra
        var listener: MLLPListener? = nil
        if var m = mllp {
            m.port = 0
            let l = MLLPListener(configuration: m, ingestor: hl7, logger: TestGateway.logger)
            listener = l
            background.append(l)
        }
        let app = GatewayApplication.make(
            GatewayServices(hl7: hl7, fhir: fhir, store: store, configuration: httpConfiguration), logger: TestGateway.logger,
            background: background)
        let mllpListener = listener
        try await app.test(.live) { client in
            let port = await mllpListener?.boundPort() ?? 0
            try await body(client, port)
        }
    }
}

/// Messages made for tests: each with its own MSH-10 and patient.
enum TestMessages {
    static func adt(_ n: Int, sender: String = "TESTAPP", trigger: String = "A01", family: String = "Doe") -> String {
        [
            "MSH|^~\\&|\(sender)|HOSP|LB|LB|20260101120000+0100||ADT^\(trigger)^ADT_A01|\(sender)-\(n)|P|2.5.1",
            "EVN|\(trigger)|20260101120000",
            "PID|1||MRN\(n)^^^HOSP^MR||\(family)^Jane^Q||19800101|F|||1 Main St^^Springfield^IL^62701",
            "PV1|1|I|W1^101^A||||||||||||||||V\(n)^^^HOSP^VN",
        ].joined(separator: "\r") + "\r"
    }

    static func controlID(_ n: Int, sender: String = "TESTAPP") -> String { "\(sender)-\(n)" }

    /// MSA-1 and MSA-2 of an ER7 ACK (the first, when there are several).
    static func msa(_ ack: [UInt8]) -> (code: String, controlID: String)? {
        guard let m = try? ER7Parser().parse(ack).messages.first, let msa = m.segment("MSA") else { return nil }
        return (msa.value(field: 1) ?? "", msa.value(field: 2) ?? "")
    }

    static var corpusDirectory: String { TestEnvironment.packageRoot + "/Tests/HL7v2Tests/Fixtures/hl7v2" }

    static var corpusFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpusDirectory)) ?? []).filter { $0.hasSuffix(".hl7") }.sorted()
    }
}

/// A plain MLLP client over NIO: sends frames, reads the answers in order.
final class MLLPTestClient: @unchecked Sendable {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var decoder = MLLPFrameDecoder(maxFrameBytes: 64 << 20)

    private init(
        channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.channel = channel
        self.iterator = iterator
        self.writer = writer
    }

    static func connect(port: Int) async throws -> MLLPTestClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        // The client keeps the channel open for its life; tests call close().
        let (inbound, outbound) = try channel._unsafeInboundOutbound()
        return MLLPTestClient(channel: channel, iterator: inbound.makeAsyncIterator(), writer: outbound)
    }

    func sendRaw(_ bytes: [UInt8]) async throws {
        try await writer.write(ByteBuffer(bytes: bytes))
    }

    /// Sends one frame and waits for one answer frame (nil when the server closed the connection).
    func send(_ payload: [UInt8]) async throws -> [UInt8]? {
        try await sendRaw(MLLPFrameEncoder.encode(payload))
        return try await receive()
    }

    func receive() async throws -> [UInt8]? {
        while true {
            if case .frame(let f) = decoder.next() { return f }
            guard let buffer = try await iterator.next() else { return nil }
            decoder.append(buffer.readableBytesView)
        }
    }

    deinit {
        writer.finish()
    }

    func close() async {
        writer.finish()
        try? await channel.channel.close()
    }
}

extension NIOAsyncChannel where Inbound == ByteBuffer, Outbound == ByteBuffer {
    /// The inbound stream and outbound writer, for a client that owns the channel for its whole life.
    func _unsafeInboundOutbound() throws -> (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        (inbound, outbound)
    }
}

/// The repository's Mappings/, loaded once per test process.
enum ShippedMappings {
    static let folder = MappingFolder(path: TestEnvironment.packageRoot + "/Mappings")
    static let mapper: DeclarativeMapper = {
        do { return try folder.load() } catch { fatalError("Mappings/ does not load: \(error)") }
    }()
}
