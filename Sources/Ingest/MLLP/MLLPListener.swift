import HL7v2
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Store
import Synchronization

/// The MLLP listener's settings (`mllp:` in the config file).
public struct MLLPConfiguration: Sendable, Hashable, Codable {
    public var enabled = true
    public var host = "127.0.0.1"
    public var port = 2575
    /// Frames larger than this are refused (AR, ERR 104) and dropped.
    public var maxFrameBytes = 4 << 20
    /// A connection silent this long is closed.
    public var idleTimeoutSeconds = 300

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MLLPConfiguration()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? d.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? d.port
        maxFrameBytes = try c.decodeIfPresent(Int.self, forKey: .maxFrameBytes) ?? d.maxFrameBytes
        idleTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .idleTimeoutSeconds) ?? d.idleTimeoutSeconds
    }
}

/// Accepts HL7 v2 over MLLP (TCP): many connections at once, messages of one connection handled in order, each
/// acknowledged only after its records are committed. A frame may hold one message or several; its ACKs go back in
/// one frame, in order. When the store cannot take a message the answer is AE (nothing stored; resend).
public final class MLLPListener: Service, Sendable {
    public let configuration: MLLPConfiguration
    let ingestor: HL7Ingestor
    let logger: Logger
    private let bound = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    public init(configuration: MLLPConfiguration, ingestor: HL7Ingestor, logger: Logger = Logger(label: "ledgerbridge.mllp")) {
        self.configuration = configuration
        self.ingestor = ingestor
        self.logger = logger
    }

    /// The port listened on, once bound (useful with port 0).
    public func boundPort() async -> Int {
        await withCheckedContinuation { c in
            let port: Int? = bound.withLock { state in
                if let p = state.port { return p }
                state.waiters.append(c)
                return nil
            }
            if let port { c.resume(returning: port) }
        }
    }

    public func run() async throws {
        let idle = TimeAmount.seconds(Int64(configuration.idleTimeoutSeconds))
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? configuration.port
        let waiters = bound.withLock { state in
            state.port = port
            defer { state.waiters = [] }
            return state.waiters
        }
        for w in waiters { w.resume(returning: port) }
        logger.info("MLLP listening", metadata: ["mllp.host": "\(configuration.host)", "mllp.port": "\(port)"])

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var decoder = MLLPFrameDecoder(maxFrameBytes: configuration.maxFrameBytes)
                for try await buffer in inbound {
                    decoder.append(buffer.readableBytesView)
                    while let event = decoder.next() {
                        switch event {
                        case .frame(let payload):
                            let reply = await handle(payload, peer: peer)
                            try await outbound.write(ByteBuffer(bytes: MLLPFrameEncoder.encode(reply)))
                        case .oversizedFrame(let size):
                            logger.warning("MLLP frame over the size limit dropped", metadata: ["mllp.peer": "\(peer)", "mllp.bytes": "\(size)"])
                            let error = HL7ParseError(
                                .messageTooLarge, segmentIndex: 0, byteOffset: 0,
                                reason: "the frame exceeds the \(configuration.maxFrameBytes)-byte limit and was dropped")
                            let nack = ACKBuilder().reject(
                                [UInt8](), error: error, code: .reject, controlID: "LBX\(HL7Time.now())", timestamp: HL7Time.now())
                            try await outbound.write(ByteBuffer(bytes: MLLPFrameEncoder.encode(ER7Serializer().serialize(nack))))
                        case .discarded(let count):
                            logger.debug("bytes outside MLLP frames skipped", metadata: ["mllp.peer": "\(peer)", "mllp.bytes": "\(count)"])
                        }
                    }
                }
            }
        } catch {
            logger.debug("MLLP connection ended", metadata: ["mllp.peer": "\(peer)", "error": "\(error)"])
        }
    }

    private func handle(_ payload: [UInt8], peer: String) async -> [UInt8] {
        do {
            let outcomes = try await ingestor.ingest(payload, channel: "mllp", peer: peer)
            return outcomes.flatMap(\.ack)
        } catch {
            logger.warning("MLLP message not stored; answered AE", metadata: ["mllp.peer": "\(peer)", "error": "\(error)"])
            return ingestor.failureAcknowledgements(payload, error: error).flatMap { $0 }
        }
    }
}

/// Closes a connection when `IdleStateHandler` reports it silent.
final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
