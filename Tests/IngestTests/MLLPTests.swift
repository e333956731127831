import Foundation
import HL7v2
import Ingest
import Store
import TestSupport
import Testing

@Suite("MLLP listener", .serialized)
struct MLLPTests {
    @Test("python-hl7's mllp_send delivers the whole corpus; every message is acknowledged and stored once")
    func corpusWithMLLPSend() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.postgres.open())
        try await gateway.run { _, port in
            var messages = 0
            for file in TestMessages.corpusFiles {
                let path = TestMessages.corpusDirectory + "/" + file
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                let parsed = ER7Parser().parseRecovering(bytes).batch.messages
                // mllp_send reads an MLLP stream and sends each frame as it is, printing each ACK. (Its --loose mode
                // re-splits files on a literal "MSH|^~\&|", which breaks messages with other encoding characters.)
                let framed = NSTemporaryDirectory() + "lb-mllp-\(UUID().uuidString).mllp"
                try Data(parsed.flatMap { MLLPFrameEncoder.encode($0.bytes) }).write(to: URL(fileURLWithPath: framed))
                defer { try? FileManager.default.removeItem(atPath: framed) }
                let result = try await Subprocess.runDetached(
                    TestEnvironment.packageRoot + "/.venv/bin/mllp_send", ["-p", String(port), "-f", framed, "127.0.0.1"])
                #expect(result.status == 0, "\(file): \(result.error)")
                let acks = result.output.split(separator: "\n").filter { $0.contains("MSA|") }
                #expect(acks.count == parsed.count, "\(file): one ACK per message")
                for ack in acks { #expect(ack.contains("MSA|AA|"), "\(file): \(ack)") }
                messages += parsed.count
            }
            let counts = try await gateway.store.counts()
            #expect(counts.inbound.values.reduce(0, +) == messages)
            #expect(counts.inbound["rejected"] == nil)
        }
        try await gateway.store.close()
    }

    @Test("many connections at once: each message acknowledged in order on its connection and stored exactly once")
    func concurrentConnections() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.postgres.open())
        try await gateway.run { _, port in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for c in 0..<16 {
                    group.addTask {
                        let client = try await MLLPTestClient.connect(port: port)
                        var acked = 0
                        for i in 0..<40 {
                            let n = c * 1000 + i
                            let ack = try #require(try await client.send(Array(TestMessages.adt(n).utf8)))
                            let msa = try #require(TestMessages.msa(ack))
                            #expect(msa.code == "AA" && msa.controlID == TestMessages.controlID(n))
                            if msa.code == "AA" { acked += 1 }
                        }
                        await client.close()
                        return acked
                    }
                }
                var total = 0
                for try await n in group { total += n }
                #expect(total == 640)
            }
            let counts = try await gateway.store.counts()
            #expect(counts.inbound["accepted"] == 640)
            // Per message the EVN's Provenance, a Patient and an Encounter, each new (the MessageHeader is not stored); the
            // sending and receiving Organizations and the three Locations of PV1-3 are the same for all, stored once.
            #expect(counts.resources == 3 * 640 + 5 && counts.versions == counts.resources && counts.ledgerEntries == counts.resources, "\(counts)")
        }
        try await gateway.store.close()
    }

    @Test("a frame over the size limit is answered AR (ERR 104) and dropped; the connection carries on")
    func oversizedFrame() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        var configuration = MLLPConfiguration()
        configuration.maxFrameBytes = 2000
        try await gateway.run(mllp: configuration) { _, port in
            let client = try await MLLPTestClient.connect(port: port)
            let big = TestMessages.adt(1) + "NTE|1||" + String(repeating: "x", count: 5000) + "\r"
            let nack = try #require(try await client.send(Array(big.utf8)))
            let message = try #require(try ER7Parser().parse(nack).messages.first)
            #expect(message.segment("MSA")?.value(field: 1) == "AR")
            #expect(message.segment("ERR")?.value(field: 3) == "104")
            let ack = try #require(try await client.send(Array(TestMessages.adt(2).utf8)))
            #expect(TestMessages.msa(ack)?.code == "AA")
            await client.close()
            #expect(try await gateway.store.counts().inbound == ["accepted": 1])
        }
        try await gateway.store.close()
    }

    @Test("bytes between frames are skipped, a frame split across many writes is whole, and an idle connection is closed")
    func framingAndIdle() async throws {
        let gateway = IngestPipeline(store: try await StoreKind.sqlite.open())
        var configuration = MLLPConfiguration()
        configuration.idleTimeoutSeconds = 1
        try await gateway.run(mllp: configuration) { _, port in
            let client = try await MLLPTestClient.connect(port: port)
            let frame = MLLPFrameEncoder.encode(Array(TestMessages.adt(7).utf8))
            try await client.sendRaw(Array("garbage\r\n".utf8))
            for chunk in stride(from: 0, to: frame.count, by: 17) {
                try await client.sendRaw(Array(frame[chunk..<min(chunk + 17, frame.count)]))
            }
            let ack = try #require(try await client.receive())
            #expect(TestMessages.msa(ack)?.controlID == TestMessages.controlID(7))
            // Silent for longer than the idle timeout: the server closes the connection.
            let start = Date()
            let after = try await client.receive()
            #expect(after == nil)
            #expect(Date().timeIntervalSince(start) < 10)
            await client.close()
        }
        try await gateway.store.close()
    }
}
