import Foundation
import GatewayAPI
import Ingest
import Ledger
import LedgerAnchors
import Store
import TestSupport
import Testing

@testable import LedgerbridgeCLI
@testable import Store

@Suite("ledgerbridge serve/import/migrate/dead-letters configuration and commands")
struct GatewayCommandTests {
    static let example = TestEnvironment.packageRoot + "/Deploy/ledgerbridge.example.yaml"

    @Test("the example configuration decodes to the defaults, and so does its commented sources block")
    func exampleConfiguration() throws {
        let c = try GatewayConfiguration.load(path: Self.example, environment: [:])
        #expect(c.http.port == 8080 && c.http.host == "127.0.0.1" && c.mllp.port == 2575 && c.store.migrate)
        #expect(c.sources.isEmpty && c.ingest.queueCapacity == 20_000)
        // Uncomment the sources block: three sources, as the Deploy guide describes them.
        let text = try String(contentsOfFile: Self.example, encoding: .utf8)
        let start = try #require(text.range(of: "# sources:\n"))
        let block = text[start.lowerBound...].split(separator: "\n").map { $0.hasPrefix("# ") ? String($0.dropFirst(2)) : String($0) }
        let yaml = block.joined(separator: "\n")
        let path = try HL7ParseCommandTests.writeTemp("sources.yaml", yaml)
        let withSources = try GatewayConfiguration.load(path: path, environment: [:])
        #expect(withSources.sources.map(\.name) == ["legacy-hl7-log", "legacy-fhir-exports", "legacy-patients"])
        #expect(withSources.sources[2].format == .rows && withSources.sources[2].query.contains("split_part($1"))
    }

    @Test("the example's ledger section is the defaults (local only); its commented backends decode to Ethereum and RFC 3161")
    func exampleLedger() throws {
        let c = try GatewayConfiguration.load(path: Self.example, environment: [:])
        #expect(c.ledger.enabled && c.ledger.batchEntries == 1000 && c.ledger.batchSeconds == 10)
        #expect(c.ledger.backends.map(\.type) == ["local"] && c.ledger.backends[0].checkpointFile == nil)
        let text = try String(contentsOfFile: Self.example, encoding: .utf8)
        let start = try #require(text.range(of: "ledger:\n"))
        let end = try #require(text.range(of: "\n\n# Legacy"))
        let section = text[start.lowerBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("    # ") ? "    " + $0.dropFirst(6) : String($0) }.joined(separator: "\n")
        let withBackends = try GatewayConfiguration.load(path: try HL7ParseCommandTests.writeTemp("ledger.yaml", section), environment: [:])
        #expect(withBackends.ledger.backends.map(\.name) == ["local", "chain", "tsa"])
        #expect(withBackends.ledger.backends[1].ethereum?.confirmations == 2 && withBackends.ledger.backends[1].ethereum?.chainId == "0x1")
        #expect(withBackends.ledger.backends[2].rfc3161?.certificate == "/etc/ledgerbridge/tsa.pem")
        let unknown = try HL7ParseCommandTests.writeTemp("unknown-ledger.yaml", "ledger:\n  backends:\n    - type: blockchain\n")
        #expect(throws: (any Error).self) { try GatewayConfiguration.load(path: unknown, environment: [:]) }
        do { _ = try GatewayConfiguration.load(path: unknown, environment: [:]) } catch {
            #expect("\(error)".contains("unknown ledger backend type 'blockchain'"), "\(error)")
        }
    }

    @Test("configuration errors name the file and the key; the environment overrides the file")
    func configurationErrors() throws {
        let bad = try HL7ParseCommandTests.writeTemp("bad.yaml", "http:\n  port: eighty\n")
        #expect(throws: (any Error).self) { try GatewayConfiguration.load(path: bad, environment: [:]) }
        do {
            _ = try GatewayConfiguration.load(path: bad, environment: [:])
        } catch {
            #expect("\(error)".hasPrefix(bad + ": http.port"))
        }
        let missing = try HL7ParseCommandTests.writeTemp("missing.yaml", "sources:\n  - name: a\n    url: postgres://x/y\n    format: hl7v2\n")
        do {
            _ = try GatewayConfiguration.load(path: missing, environment: [:])
            Issue.record("a source without a query must fail")
        } catch {
            #expect("\(error)".contains("query: required key is missing"))
        }
        let c = try GatewayConfiguration.load(
            path: Self.example, environment: ["LEDGERBRIDGE_HTTP_PORT": "9999", "LEDGERBRIDGE_STORE_POSTGRES": "postgres://u@h:5/d"])
        #expect(c.http.port == 9999)
        if case .postgres(let pg) = try c.storeLocation { #expect(pg.host == "h" && pg.port == 5) } else { Issue.record("postgres expected") }
    }

    @Test("the real binary: migrate, import the corpus (summary, exit 1 for dead letters), import again (duplicates), list and replay dead letters")
    func importAndDeadLetters() throws {
        let directory = NSTemporaryDirectory() + "lb-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/ledgerbridge.yaml"
        try "store:\n  sqlite: \(directory)/store.sqlite\n".write(toFile: config, atomically: true, encoding: .utf8)
        let migrate = try HL7ParseCommandTests.run(["migrate", "--config", config])
        #expect(migrate.status == 0 && migrate.out.hasPrefix("applied 0001"))
        #expect(try HL7ParseCommandTests.run(["migrate", "--config", config]).out == "the store is up to date\n")

        let corpus = TestEnvironment.packageRoot + "/Tests/HL7v2Tests/Fixtures/hl7v2"
        let first = try HL7ParseCommandTests.run(["import", "--config", config, "--json", corpus])
        #expect(first.status == 1, "the corpus has messages the built-in mapping cannot map")
        let summary = try JSONSerialization.jsonObject(with: Data(first.out.utf8)) as? [String: Any] ?? [:]
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus).filter { $0.hasSuffix(".hl7") }.count
        #expect(summary["files"] as? Int == files)
        let accepted = summary["accepted"] as? Int ?? 0, deadLetters = summary["deadLetters"] as? Int ?? 0
        #expect(accepted > 40 && deadLetters > 0 && summary["rejected"] as? Int == 0)

        let again = try HL7ParseCommandTests.run(["import", "--config", config, "--json", corpus])
        let second = try JSONSerialization.jsonObject(with: Data(again.out.utf8)) as? [String: Any] ?? [:]
        #expect(second["accepted"] as? Int == 0 && second["resourceVersions"] as? Int == 0)

        let list = try HL7ParseCommandTests.run(["dead-letters", "list", "--config", config])
        #expect(list.status == 0)
        #expect(list.out.split(separator: "\n").count == deadLetters)
        let replay = try HL7ParseCommandTests.run(["dead-letters", "replay", "--all", "--config", config])
        #expect(replay.out.hasPrefix("\(deadLetters) replayed: 0 accepted"), "the mapping did not change")
        let wrong = try HL7ParseCommandTests.run(["dead-letters", "replay", "--config", config, "1"])
        #expect(wrong.status != 0 && wrong.err.contains("not a dead letter"))
        let nothing = try HL7ParseCommandTests.run(["import", "--config", config, directory + "/nope"])
        #expect(nothing.status != 0 && nothing.err.contains("no such file or folder"))
    }

    @Test(
        "the real binary: no proof before a head is sealed; after 'anchor --now' the bundle verifies offline; a body changed in the database fails at 'record', a body and hash changed together at 'inclusion'"
    )
    func proofAndTamper() async throws {
        let directory = NSTemporaryDirectory() + "lb-proof-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/ledgerbridge.yaml"
        try "store:\n  sqlite: \(directory)/data/store.sqlite\n".write(toFile: config, atomically: true, encoding: .utf8)
        let fixtures = TestEnvironment.packageRoot + "/Tests/FHIRTests/Fixtures/fhir-json/"
        let imported = try HL7ParseCommandTests.run(
            ["import", "--config", config, fixtures + "patient-example.json", fixtures + "observation-example.json"])
        #expect(imported.status == 0, "\(imported.err)")

        let key = try HL7ParseCommandTests.run(["ledger", "key", "--config", config]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.count == 64)
        let keyFile = directory + "/data/ledger-key.ed25519"
        let mode = (try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)

        // Logged but not yet under a sealed head: no bundle, and the error says what to do.
        let early = try HL7ParseCommandTests.run(["proof", "--config", config, "Patient/example/_history/1"])
        #expect(early.status != 0 && early.err.contains("not yet under a sealed tree head") && early.err.contains("anchor --now"), "\(early.err)")
        let anchored = try HL7ParseCommandTests.run(["anchor", "--now", "--config", config])
        #expect(
            anchored.status == 0 && anchored.out.contains("tree head 2") && anchored.out.contains("local: anchored"),
            "\(anchored.out) \(anchored.err)")
        let status = try HL7ParseCommandTests.run(["ledger", "status", "--config", config])
        #expect(status.out.contains("entries: 2") && status.out.contains("local: 1 anchored, 0 pending"), "\(status.out)")
        let checkpoints = try String(contentsOfFile: directory + "/data/checkpoints.jsonl", encoding: .utf8)
        #expect(checkpoints.split(separator: "\n").count == 1 && checkpoints.contains("\"treeSize\":2}"))

        func proveAndVerify() throws -> (status: Int32, out: String) {
            let bundle = try HL7ParseCommandTests.run(
                ["proof", "--config", config, "--record-out", directory + "/record.json", "Patient/example/_history/1"])
            #expect(bundle.status == 0, "\(bundle.err)")
            try bundle.out.write(toFile: directory + "/bundle.json", atomically: true, encoding: .utf8)
            let verified = try HL7ParseCommandTests.run(
                ["verify", directory + "/bundle.json", "--record", directory + "/record.json", "--key", key])
            return (verified.status, verified.out)
        }
        let good = try proveAndVerify()
        #expect(good.status == 0 && good.out.contains("ok   inclusion") && good.out.contains("ok   signature"), "\(good.out)")

        // Someone edits the stored record in the database: the record no longer matches its ledger entry.
        let store = try SQLiteStore(path: directory + "/data/store.sqlite")
        try await store.rawExecute(
            "UPDATE resource_versions SET body = CAST(replace(CAST(body AS TEXT), 'Chalmers', 'Chalmerz') AS BLOB) WHERE resource_id = 'example' AND resource_type = 'Patient'"
        )
        try await store.close()
        let tampered = try proveAndVerify()
        #expect(tampered.status != 0 && tampered.out.contains("FAIL record") && tampered.out.contains("was changed"), "\(tampered.out)")
        #expect(tampered.out.contains("ok   inclusion"), "the entry itself is unchanged: \(tampered.out)")

        // Someone who also rewrites the record hash to match: the entry no longer leads to the signed, anchored root.
        let tamperer = try SQLiteStore(path: directory + "/data/store.sqlite")
        let forged = try await tamperer.version(type: "Patient", id: "example", versionId: 1)!
        try await tamperer.rawExecute(
            "UPDATE resource_versions SET record_hash = '\(Hash.sha256(forged.body).hex)' WHERE resource_id = 'example' AND resource_type = 'Patient'"
        )
        try await tamperer.close()
        let rewritten = try proveAndVerify()
        #expect(rewritten.status != 0 && rewritten.out.contains("ok   record") && rewritten.out.contains("FAIL inclusion"), "\(rewritten.out)")
        #expect(try HL7ParseCommandTests.run(["proof", "--config", config, "Patient/nope/_history/1"]).err.contains("no stored version"))
    }
}
