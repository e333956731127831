import ArgumentParser
import FHIR
import Foundation
import GatewayAPI
import HL7v2
import Hummingbird
import Ingest
import LedgerAnchors
import Mapping
import NIOCore
import NIOPosix

/// `ledgerbridge bench …`: load generators for the benchmark scripts (hidden from help).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Load generators used by Benchmarks/*/run.sh.", shouldDisplay: false,
        subcommands: [MLLPLoad.self, MapTiming.self, AuditTiming.self, HTTPFloor.self])

    /// Times, in process, parsing every message of a file, mapping each (the resources of its bundle), and writing
    /// each bundle as JSON, and prints the seconds of each stage as JSON (file reading and loading the mappings excluded).
    struct MapTiming: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "map")

        @Option var mappings = "Mappings"
        @Flag(help: "Map only: no bundle, no JSON.") var noBundle = false
        @Argument var file: String

        func run() throws {
            let mapper = try MappingsCommand.load(mappings)
            let bytes = try FileBytes.read(file)
            let parser = ER7Parser()
            var messages: [Message] = []
            let parseStart = ContinuousClock.now
            _ = parser.forEachPart(in: bytes) { result in
                if case .success(let part) = result, part.isMessage { messages.append(part.message) }
                return true
            }
            let parse = parseStart.duration(to: .now)
            var resources = 0
            var failures = 0
            var written = 0
            var map = Duration.zero
            var write = Duration.zero
            let clock = ContinuousClock()
            for m in messages {
                let t0 = clock.now
                do {
                    if noBundle {
                        resources += try mapper.map(m, context: MappingContext(sender: HL7Ingestor.sender(of: m))).count
                        map += t0.duration(to: clock.now)
                        continue
                    }
                    let result = try mapper.mapWithCoverage(m, context: MappingContext(sender: HL7Ingestor.sender(of: m)))
                    resources += result.resources.count
                    let origin = MappingBundle.Origin(
                        source: "bench", reference: m.controlID, recorded: "2026-01-01T00:00:00Z",
                        occurred: MappingBundle.occurred(fromMSH7: m.segment(at: 0).value(field: 7)), mappingVersion: mapper.version)
                    let bundle = MappingBundle.transaction(result.resources, origin: origin)
                    let t1 = clock.now
                    map += t0.duration(to: t1)
                    written += FHIRJSON().write(bundle).count
                    write += t1.duration(to: clock.now)
                } catch {
                    failures += 1
                }
            }
            func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
            print(
                "{\"messages\":\(messages.count),\"failures\":\(failures),\"resources\":\(resources),\"jsonBytes\":\(written),"
                    + "\"parseSeconds\":\(seconds(parse)),\"mapSeconds\":\(seconds(map)),\"writeSeconds\":\(seconds(write))}")
        }
    }

    /// Stores AuditEvents as a busy FHIR API makes them (a read of one Patient each, flushed in the trail's batches),
    /// through the configured store, commit queue and ledger tree, and prints the process's CPU time per event as JSON.
    struct AuditTiming: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "audit")

        @Option(name: .shortAndLong, help: "The gateway's configuration file (its store is written to).") var config: String?
        @Option(help: "Events in all.") var events = 50_000
        @Option(help: "Events per flush (the trail's batch).") var batch = 100

        func run() async throws {
            let configuration = try GatewayConfiguration.load(path: config)
            let logger = LogSetup.bootstrap(level: "warning")
            let gateway = try await IngestPipeline.open(configuration, logger: logger)
            let anchoring = try gateway.anchorService(configuration, logger: logger)
            await gateway.queue.setCommitObserver { results in anchoring.committed(results) }
            let audit = AuditTrail(queue: gateway.queue, batch: batch, logger: logger)
            let id = "e369ebba4a4982f948b996a7542ea7bc"
            let cpuStart = Self.cpuSeconds()
            let start = ContinuousClock.now
            for i in 0..<events {
                audit.record(
                    .init(
                        subject: "bench", address: "127.0.0.1", interaction: "read", entities: ["Patient/\(id)"], query: nil,
                        path: "/fhir/Patient/\(id)", status: 200))
                if i % batch == batch - 1 { await audit.flush() }
            }
            await audit.flush()
            let elapsed = start.duration(to: .now)
            let cpu = Self.cpuSeconds() - cpuStart
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                #"{"events": \#(audit.stored), "seconds": \#(String(format: "%.3f", seconds)), "#
                    + #""cpu_us_per_event": \#(String(format: "%.1f", cpu * 1e6 / Double(max(1, audit.stored))))}"#)
        }

        /// User and system CPU time of the process so far.
        static func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
    }

    /// Serves one file's bytes at every path with a bare Hummingbird application (no middleware, no token, no store):
    /// the floor of the HTTP stack the gateway is built on, measured beside the FHIR reads in Benchmarks/fhir-read.
    struct HTTPFloor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "http-floor")

        @Option var port: Int
        @Option(help: "The file whose bytes every response carries.") var file: String
        @Option var contentType = "application/fhir+json"

        func run() async throws {
            let body = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: file)))
            let headers: HTTPFields = [.contentType: contentType]
            let router = Router()
            router.get("**") { _, _ in Response(status: .ok, headers: headers, body: .init(byteBuffer: body)) }
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "floor"))
            try await app.runService()
        }
    }

    /// Sends generated ADT^A01 messages over MLLP from many connections, each waiting for its ACK before the next
    /// message (as EHRs do), and reports throughput and ACK latency percentiles as JSON.
    struct MLLPLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "mllp-load")

        @Option var host = "127.0.0.1"
        @Option var port: Int
        @Option var connections = 32
        @Option(help: "Messages in all.") var messages = 20_000
        @Option(help: "A prefix that makes the run's control ids unique.") var run = "B\(Int(Date().timeIntervalSince1970))"

        func run() async throws {
            let perConnection = messages / connections
            let start = ContinuousClock.now
            let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                for c in 0..<connections {
                    group.addTask {
                        try await Self.connection(
                            host: host, port: port, prefix: "\(run)-\(c)", count: perConnection + (c < messages % connections ? 1 : 0))
                    }
                }
                var all: [Double] = []
                for try await l in group { all += l }
                return all
            }
            let elapsed = start.duration(to: .now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let sorted = latencies.sorted()
            func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            let rate = Double(sorted.count) / seconds
            print(
                #"{"messages": \#(sorted.count), "seconds": \#(String(format: "%.3f", seconds)), "per_second": \#(String(format: "%.0f", rate)), "#
                    + #""p50_ms": \#(String(format: "%.2f", percentile(0.5))), "p99_ms": \#(String(format: "%.2f", percentile(0.99)))}"#)
        }

        static func message(_ id: String) -> [UInt8] {
            Array(
                ("MSH|^~\\&|BENCH|HOSP|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|\(id)|P|2.5.1\r"
                    + "EVN|A01|20260101120000+0000\r"
                    + "PID|1||\(id)^^^HOSP^MR||Bench^Test^Q||19700101|F|||1 Main St^^Springfield^IL^62701||^PRN^PH^^^217^5550100\r"
                    + "PV1|1|I|W1^101^A||||||||||||||||V\(id)^^^HOSP^VN\r").utf8)
        }

        static func connection(host: String, port: Int, prefix: String, count: Int) async throws -> [Double] {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                var decoder = MLLPFrameDecoder()
                for i in 0..<count {
                    let sent = ContinuousClock.now
                    try await outbound.write(ByteBuffer(bytes: MLLPFrameEncoder.encode(message("\(prefix)-\(i)"))))
                    var ack: [UInt8]? = nil
                    while ack == nil {
                        if case .frame(let f) = decoder.next() {
                            ack = f
                            break
                        }
                        guard let buffer = try await iterator.next() else { throw CLIError("the server closed the connection") }
                        decoder.append(buffer.readableBytesView)
                    }
                    let d = sent.duration(to: .now)
                    latencies.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
                    guard let ack, ack.starts(with: Array("MSH".utf8)), String(decoding: ack, as: UTF8.self).contains("MSA|AA|") else {
                        let text = ack.map { String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\r", with: " | ") } ?? "nothing"
                        throw CLIError("message \(prefix)-\(i) was not acknowledged AA: \(text)")
                    }
                }
            }
            return latencies
        }
    }
}
