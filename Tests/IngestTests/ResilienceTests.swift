import Foundation
import GatewayAPI
import HL7v2
import Hummingbird
import HummingbirdTesting
import Ingest
import NIOCore
import Store
import TestSupport
import Testing

@Suite("Resilience: crashes and store outages", .serialized)
struct ResilienceTests {
    @Test(
        "crash test: 10,000 messages over MLLP and HTTP while the gateway is SIGKILLed and restarted; every acknowledged message stored exactly once")
    func crash() async throws {
        let pg = try await TestPostgres.shared()
        let database = try pg.createDatabase("crash")
        let httpPort = try TestPostgres.freePort(), mllpPort = try TestPostgres.freePort()
        let directory = NSTemporaryDirectory() + "lb-crash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/ledgerbridge.yaml"
        try """
        store:
          postgres: "\(pg.url(database: database))"
        http:
          port: \(httpPort)
        mllp:
          port: \(mllpPort)
        logLevel: warning
        ledgerKey: \(directory)/ledger-key.ed25519
        auth:
          hs256SecretFile: \(directory)/jwt-hs256.key
        ledger:
          backends:
            - type: local
              checkpointFile: \(directory)/checkpoints.jsonl
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await Subprocess.runDetached(
            TestEnvironment.python,
            [
                TestEnvironment.packageRoot + "/scripts/crash_test.py", "--binary", try TestEnvironment.ledgerbridgeBinary(), "--config", config,
                "--http-port", String(httpPort), "--mllp-port", String(mllpPort), "--psql", pg.psqlCommand(database: database),
                "--messages", "10000", "--kills", "5", "--log", directory + "/gateway.log",
            ])
        let summary = result.output.split(separator: "\n").last.map(String.init) ?? ""
        print("crash test summary: \(summary)")
        #expect(result.status == 0, "\(summary) \(result.error)")
        #expect(summary.contains("\"kills\": 5"), "\(summary)")
        #expect(summary.contains("\"accepted_rows\": 10000"), "\(summary)")
    }

    @Test("outage: PostgreSQL stopped and restarted mid-load; 503 with Retry-After and AE meanwhile, no acknowledged loss, service resumes by itself")
    func outage() async throws {
        let server = try await TestPostgres.start()
        let database = try server.createDatabase("outage")
        var configuration = try PostgresStoreConfiguration(url: server.url(database: database))
        configuration.maximumConnections = 4
        let store = try await PostgresStore(configuration: configuration, logger: TestGateway.logger)
        try await store.migrate()
        let gateway = IngestPipeline(store: store)
        try await gateway.run { client, port in
            let mllp = try await MLLPTestClient.connect(port: port)
            /// Sends message n over HTTP (even n) or MLLP (odd n); returns MSA-1 and the HTTP status.
            func send(_ n: Int) async throws -> (code: String?, status: HTTPResponse.Status?, retryAfter: String?) {
                let body = TestMessages.adt(n, sender: "OUTAGE")
                if n % 2 == 0 {
                    let r = try await client.execute(
                        uri: "/feeds/hl7v2", method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: body))
                    return (TestMessages.msa(Array(buffer: r.body))?.code, r.status, r.headers[.retryAfter])
                }
                let ack = try await mllp.send(Array(body.utf8))
                return (ack.flatMap { TestMessages.msa($0)?.code }, nil, nil)
            }
            var resends = 0
            for n in 0..<300 {
                if n == 100 {
                    server.stopServer()
                    let http = try await send(100)
                    #expect(http.status == .serviceUnavailable && http.retryAfter != nil && http.code == "AE")
                    let viaMLLP = try await send(101)
                    #expect(viaMLLP.code == "AE")
                    try server.startServer()
                }
                // Like an EHR: send again until acknowledged.
                var attempts = 0
                while try await send(n).code != "AA" {
                    attempts += 1
                    resends += 1
                    try #require(attempts < 300, "message \(n) never acknowledged after the restart")
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            await mllp.close()
            // Every message acknowledged is stored once; nothing was acknowledged that was not stored.
            let counts = try await store.counts()
            #expect(counts.inbound["accepted"] == 300)
            // Three new resources per message (Provenance, Patient, Encounter) and five shared ones (the MessageHeader is not stored).
            #expect(counts.resources == 3 * 300 + 5 && counts.versions == counts.resources, "\(counts)")
            for k in [0, 99, 100, 101, 299] {
                #expect(try await store.search(type: "Patient", key: SearchKey(parameter: "identifier", value: "MRN\(k)")).count == 1)
            }
        }
        try await store.close()
        server.stopServer()
    }
}
