import Crypto
import Foundation
import Ingest
import Ledger
import LedgerAnchors
import TestSupport
import Testing

@testable import Store

@Suite("anchoring against real peers: an Ethereum node (py-evm) and an RFC 3161 TSA (openssl ts)", .serialized)
struct AnchoringTests {
    @Test(
        "every backend anchors the sealed head; bundles carry the receipts and verify, tokens and transactions included",
        arguments: StoreKind.allCases)
    func endToEnd(kind: StoreKind) async throws {
        let store = try await kind.open()
        let directory = try temporaryDirectory("anchor")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let eth = try EthereumPeer()
        let tsa = try TSAPeer(directory: directory + "/tsa")
        defer {
            eth.stop()
            tsa.stop()
        }
        let backends: [any AnchorBackend] = [
            LocalCheckpointBackend(path: directory + "/checkpoints.jsonl"),
            try EthereumBackend(name: "chain", configuration: .test(eth)),
            try RFC3161Backend(name: "tsa", configuration: .init(url: tsa.url, certificate: tsa.certificatePath)),
        ]
        let key = Curve25519.Signing.PrivateKey()
        let service = AnchorService(store: store, key: key, backends: backends, schedule: fastSchedule, logger: quiet)
        let pipeline = IngestPipelineFactory.make(store)
        let written = try await ingest(0..<5, into: pipeline)

        let (head, rows) = try await service.anchorNow(timeout: 30)
        #expect(head?.treeSize == 10)
        #expect(rows.map(\.backend) == ["chain", "local", "tsa"])
        #expect(rows.allSatisfy { $0.state == .anchored }, "\(rows.map { "\($0.backend): \($0.state) \($0.lastError ?? "")" })")

        // The chain holds exactly one transaction, carrying the signed tree head.
        let latest = try await store.latestTreeHead()
        let stored = try #require(latest)
        let signed = try #require(stored.signed)
        let txs = try await eth.transactions()
        #expect(txs.count == 1)
        #expect((txs.first?["input"] as? String) == "0x" + Hex.encode(signed.anchorPayload))
        #expect(tsa.stampedImprints() == [stored.root])

        let proofs = ProofBuilder(store: store, publicKey: key.publicKey, tree: service.ledgerTree)
        for version in written {
            let bundle = try await proofs.bundle(type: version.resourceType, id: version.id, versionId: version.versionId)
            let read = try await store.version(type: version.resourceType, id: version.id, versionId: version.versionId)
            let stored = try #require(read)
            var check = ProofBundleVerification(bundle, recordHash: Hash(hex: stored.recordHash), trustedKey: key.publicKey)
            let anchors = try #require(bundle.anchors)
            #expect(anchors.map(\.type) == ["ethereum", "local", "rfc3161"])
            let certificate = try RFC3161Backend.loadCertificate(tsa.certificatePath)
            check.steps.append(AnchorChecks.rfc3161(anchors[2], root: signed.root.array, certificate: certificate))
            check.steps.append(await AnchorChecks.ethereum(anchors[0], head: signed, rpc: URL(string: eth.rpcURL)!))
            #expect(check.passed, "\(check.steps.filter { !$0.passed })")
            #expect(try await proofs.integrity(of: stored).code == "anchored")
        }

        // OpenSSL agrees with our reading of the token.
        let receipts = try await proofs.receipts(stored.treeSize)
        let base64 = try #require(receipts.first { $0.type == "rfc3161" }?.token)
        let token = try #require(Data(base64Encoded: base64))
        try token.write(to: URL(fileURLWithPath: directory + "/token.der"))
        let openssl = try Subprocess.run(
            "/usr/bin/openssl",
            ["ts", "-verify", "-digest", stored.root, "-in", directory + "/token.der", "-token_in", "-CAfile", tsa.certificatePath])
        #expect(openssl.output.contains("Verification: OK"), "\(openssl.output) \(openssl.error)")

        // Nothing new, nothing sealed; a new entry waits for the next head and is 'pending' meanwhile.
        #expect(try await service.sealIfDue(force: true) == nil)
        let later = try await ingest(5..<6, into: pipeline)
        let freshRead = try await store.version(type: later[0].resourceType, id: later[0].id, versionId: later[0].versionId)
        let fresh = try #require(freshRead)
        #expect(try await proofs.integrity(of: fresh).code == "pending")
        await #expect(throws: ProofBuilder.ProofError.self) {
            try await proofs.bundle(type: later[0].resourceType, id: later[0].id, versionId: later[0].versionId)
        }
        try await store.close()
    }

    @Test("ledgers down through several batch windows, then back: every tree head anchored exactly once on every backend")
    func ledgerDown() async throws {
        let store = try await StoreKind.sqlite.open()
        let directory = try temporaryDirectory("down")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let eth = try EthereumPeer()
        let tsa = try TSAPeer(directory: directory + "/tsa")
        defer {
            eth.stop()
            tsa.stop()
        }
        let service = AnchorService(
            store: store, key: Curve25519.Signing.PrivateKey(),
            backends: [
                LocalCheckpointBackend(path: directory + "/checkpoints.jsonl"), try EthereumBackend(name: "chain", configuration: .test(eth)),
                try RFC3161Backend(name: "tsa", configuration: .init(url: tsa.url, certificate: tsa.certificatePath)),
            ], schedule: fastSchedule, logger: quiet)
        let pipeline = IngestPipelineFactory.make(store)

        try await eth.setRPC(up: false)
        tsa.stop()
        // Five batch windows while both ledgers are down: each seals a head; every attempt fails and is retried.
        for window in 0..<5 {
            try await ingest((window * 3)..<(window * 3 + 3), into: pipeline)
            try await service.sealIfDue(force: true)
            _ = try await service.workOutbox(ignoringBackoff: false)
            try await Task.sleep(for: .milliseconds(120))
            _ = try await service.workOutbox(ignoringBackoff: false)
        }
        let heads = try await store.treeHeads(before: nil, limit: 100).map(\.treeSize).sorted()
        #expect(heads == [6, 12, 18, 24, 30])
        let down = try await store.anchorSummary()
        #expect(down.first { $0.backend == "local" }?.anchored == 5)
        for name in ["chain", "tsa"] {
            let s = try #require(down.first { $0.backend == name })
            #expect(s.anchored == 0 && s.pending == 5 && s.lastError != nil, "\(s)")
        }
        let attempts = try await store.anchors(treeSize: 6).first { $0.backend == "chain" }?.attempts ?? 0
        #expect(attempts >= 2, "retried while down")

        try await eth.setRPC(up: true)
        try tsa.start()
        let done = try await rounds(service) { try await store.anchorSummary().allSatisfy { $0.anchored == 5 } }
        let summary = try await store.anchorSummary()
        #expect(done, "\(summary)")

        // Exactly once: one transaction and one time stamp per head, one checkpoint line per head.
        var payloads: [String] = []
        for size in heads {
            let h = try await store.treeHead(size: size)
            payloads.append("0x" + Hex.encode(try #require(h?.signed).anchorPayload))
        }
        let inputs = try await eth.transactions().compactMap { $0["input"] as? String }
        #expect(inputs.sorted() == payloads.sorted())
        var roots: [String] = []
        for size in heads { roots.append(try await store.treeHead(size: size)?.root ?? "") }
        #expect(tsa.stampedImprints() == roots, "stamped in order, once each")
        let lines = try String(contentsOfFile: directory + "/checkpoints.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        try await store.close()
    }

    @Test("a transaction dropped by a reorg is sent again and confirmed; the chain ends with one transaction for the head")
    func reorg() async throws {
        let store = try await StoreKind.sqlite.open()
        let eth = try EthereumPeer()
        defer { eth.stop() }
        let service = AnchorService(
            store: store, key: Curve25519.Signing.PrivateKey(),
            backends: [try EthereumBackend(name: "chain", configuration: .test(eth, confirmations: 3))],
            schedule: fastSchedule, logger: quiet)
        try await ingest(0..<2, into: IngestPipelineFactory.make(store))
        let snapshot = try await eth.call("evm_snapshot") as? String
        try await service.sealIfDue(force: true)
        var rows = try await service.workOutbox(ignoringBackoff: true)
        #expect(rows.first?.state == .submitted)
        rows = try await service.workOutbox(ignoringBackoff: true)
        let first = try JSONDecoder().decode(AnchorReceipt.self, from: Data(try #require(rows.first?.receipt).utf8))
        #expect(first.blockNumber == 1 && first.confirmations == 1, "mined, not deep enough: \(first)")

        // The block holding it is reorganised away.
        try await eth.call("evm_revert", [try #require(snapshot)])
        try await eth.call("evm_mine", [1])
        #expect(try await eth.transactions().isEmpty)
        rows = try await service.workOutbox(ignoringBackoff: true)
        #expect(rows.first?.state == .pending && rows.first?.lastError?.contains("left the chain") == true, "\(rows)")
        rows = try await service.workOutbox(ignoringBackoff: true)
        #expect(rows.first?.state == .submitted)
        try await eth.call("evm_mine", [3])
        rows = try await service.workOutbox(ignoringBackoff: true)
        #expect(rows.first?.state == .anchored, "\(rows)")
        let receipt = try JSONDecoder().decode(AnchorReceipt.self, from: Data(try #require(rows.first?.receipt).utf8))
        let txs = try await eth.transactions()
        #expect(txs.count == 1 && (txs[0]["hash"] as? String) == receipt.txHash && (receipt.confirmations ?? 0) >= 3)
        try await store.close()
    }

    @Test("a send whose answer is lost (the node took it, the gateway timed out) is found on the chain, not sent again")
    func lostAnswer() async throws {
        let store = try await StoreKind.sqlite.open()
        let eth = try EthereumPeer()
        defer { eth.stop() }
        var configuration = EthereumBackend.Configuration.test(eth)
        configuration.timeoutSeconds = 1
        let service = AnchorService(
            store: store, key: Curve25519.Signing.PrivateKey(), backends: [try EthereumBackend(name: "chain", configuration: configuration)],
            schedule: fastSchedule, logger: quiet)
        try await ingest(0..<2, into: IngestPipelineFactory.make(store))
        try await eth.delayNextAnswer(to: "eth_sendTransaction", seconds: 3)
        try await service.sealIfDue(force: true)
        var rows = try await service.workOutbox(ignoringBackoff: true)
        #expect(rows.first?.state == .pending && rows.first?.attempts == 1, "\(rows)")
        #expect(try await eth.transactions().count == 1, "the node took the transaction although the answer was lost")
        let done = try await rounds(service, seconds: 20) { try await store.anchors(treeSize: 4).first?.state == .anchored }
        #expect(done)
        rows = try await store.anchors(treeSize: 4)
        let receipt = try JSONDecoder().decode(AnchorReceipt.self, from: Data(try #require(rows.first?.receipt).utf8))
        let txs = try await eth.transactions()
        #expect(txs.count == 1 && (txs.first?["hash"] as? String) == receipt.txHash, "one transaction, the first: \(txs.count)")
        try await store.close()
    }

    @Test(
        "tampering by SQL: a changed body or record hash turns integrity to mismatch; a restarted gateway notices changed entries and seals nothing over them"
    )
    func tamper() async throws {
        let sqlitePath = NSTemporaryDirectory() + "lb-tamper-\(UUID().uuidString)/store.sqlite"
        defer { try? FileManager.default.removeItem(atPath: (sqlitePath as NSString).deletingLastPathComponent) }
        let store = try SQLiteStore(path: sqlitePath)
        try await store.migrate()
        let directory = try temporaryDirectory("tamper")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = Curve25519.Signing.PrivateKey()
        let service = AnchorService(
            store: store, key: key, backends: [LocalCheckpointBackend(path: directory + "/c.jsonl")], schedule: fastSchedule, logger: quiet)
        let written = try await ingest(0..<3, into: IngestPipelineFactory.make(store))
        _ = try await service.anchorNow(timeout: 10)
        let proofs = ProofBuilder(store: store, publicKey: key.publicKey, tree: service.ledgerTree)
        let patient = try #require(written.first { $0.resourceType == "Patient" })
        func status() async throws -> IntegrityStatus {
            let v = try await store.version(type: "Patient", id: patient.id, versionId: 1)
            return try await proofs.integrity(of: try #require(v))
        }
        #expect(try await status().code == "anchored")

        try await store.rawExecute(
            "UPDATE resource_versions SET body = CAST(replace(CAST(body AS TEXT), 'Jane0', 'Joan0') AS BLOB) WHERE resource_id = '\(patient.id)'")
        let changed = try await status()
        #expect(changed.code == "mismatch" && changed.detail.contains("stored body"), "\(changed)")

        // Make the hash match the new body: the entry no longer is the one logged and anchored.
        let tampered = try await store.version(type: "Patient", id: patient.id, versionId: 1)
        let body = try #require(tampered).body
        try await store.rawExecute("UPDATE resource_versions SET record_hash = '\(Hash.sha256(body).hex)' WHERE resource_id = '\(patient.id)'")
        let rewritten = try await status()
        #expect(rewritten.code == "mismatch" && rewritten.detail.contains("ledger entry"), "\(rewritten)")

        // A gateway started on the tampered store rebuilds the tree: the signed root no longer comes out.
        let restarted = AnchorService(
            store: store, key: key, backends: [LocalCheckpointBackend(path: directory + "/c.jsonl")], schedule: fastSchedule, logger: quiet)
        try await restarted.catchUp()
        let problem = await restarted.integrityProblem
        #expect(problem?.contains("tree head 6") == true, "\(problem ?? "none")")
        try await ingest(3..<4, into: IngestPipelineFactory.make(store))
        let sealed = try await restarted.sealIfDue(force: true)
        #expect(sealed == nil, "no head is signed over changed entries")
        #expect(try await store.latestTreeHead()?.treeSize == 6)
        try await store.close()
    }
}

@Suite("integrity status from what earlier reads learned")
struct IntegrityKnowledgeTests {
    @Test("once a head is known anchored, every version under it gets its status without the store; a new head shows within 250 ms")
    func learnedHeads() async throws {
        let storeDirectory = NSTemporaryDirectory() + "lb-knowledge-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storeDirectory) }
        let store = try SQLiteStore(path: storeDirectory + "/store.sqlite")
        try await store.migrate()
        let directory = try temporaryDirectory("knowledge")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = Curve25519.Signing.PrivateKey()
        let service = AnchorService(
            store: store, key: key, backends: [LocalCheckpointBackend(path: directory + "/c.jsonl")], schedule: fastSchedule, logger: quiet)
        let pipeline = IngestPipelineFactory.make(store)
        let first = try await ingest(0..<3, into: pipeline)
        let proofs = ProofBuilder(store: store, publicKey: key.publicKey, tree: service.ledgerTree)
        func stored(_ w: VersionOutcome) async throws -> StoredVersion {
            try #require(try await store.version(type: w.resourceType, id: w.id, versionId: w.versionId))
        }
        let before = try await stored(first[0])
        #expect(try await proofs.integrity(of: before).code == "pending")
        _ = try await service.anchorNow(timeout: 10)
        // The answer 'no head yet' is reused for a moment only.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await proofs.integrity(of: before).code == "anchored")

        let versions = try await first.asyncMap { try await stored($0) }
        let later = try await stored(try await ingest(3..<4, into: pipeline)[0])
        try await store.close()
        // The store is closed: a status that needed it would throw.
        for v in versions { #expect(try await proofs.integrity(of: v).code == "anchored") }
        // A changed body is still caught: that check reads the version, never the knowledge.
        var changed = versions[0]
        changed.body[changed.body.count - 2] ^= 1
        #expect(try await proofs.integrity(of: changed).code == "mismatch")
        // Beyond the known heads the store is asked, and it is closed.
        await #expect(throws: (any Error).self) { try await proofs.integrity(of: later) }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}

@Suite("the tree fed by commits")
struct CommitFedTreeTests {
    @Test("many reads of a fresh tree at once each load it from the store; none mistakes another's appends for a gap", arguments: StoreKind.allCases)
    func concurrentLoads(kind: StoreKind) async throws {
        let store = try await kind.open()
        _ = try await ingest(0..<6, into: IngestPipelineFactory.make(store))
        let size = try await store.ledgerSize()
        let reference = try await StoreTree(store: store).root(treeSize: Int(size))
        for _ in 0..<5 {
            let tree = StoreTree(store: store)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<16 {
                    group.addTask {
                        // The actor suspends in each load while the store answers; the others run meanwhile.
                        if i % 2 == 0 {
                            _ = try await tree.leafHash(Int(size) - 1)
                        } else {
                            #expect(try await tree.root(treeSize: Int(size)) == reference)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await store.close()
    }

    @Test("leaves offered out of order, with a gap only the store can fill, give the tree the store gives", arguments: StoreKind.allCases)
    func offeredLeaves(kind: StoreKind) async throws {
        let store = try await kind.open()
        let pipeline = IngestPipelineFactory.make(store)
        // Commits seen by the tree: every other admission (the rest stand for another gateway's commits).
        var offered: [[UnitResult]] = []
        for n in 0..<12 {
            let outcomes = try await pipeline.hl7.ingest(admission(n), channel: "test", peer: "127.0.0.1")
            if n % 2 == 0 { offered.append(outcomes.map(\.result)) }
        }
        let service = AnchorService(store: store, key: .init(), backends: [], logger: quiet)
        for results in offered.reversed() {
            // Through the service, as serve wires it.
            service.committed(results)
        }
        let fromCommits = service.ledgerTree
        let fromStore = StoreTree(store: store)
        #expect(try await store.ledgerSize() == 24)
        #expect(try await fromCommits.root(treeSize: 24) == (try await fromStore.root(treeSize: 24)))
        for leaf in [0, 5, 23] {
            #expect(try await fromCommits.inclusionProof(leaf: leaf, treeSize: 24) == (try await fromStore.inclusionProof(leaf: leaf, treeSize: 24)))
        }
        // Offered leaves alone (no gap): the same root without the store.
        let direct = StoreTree(store: store)
        var leaves: [(leafIndex: Int64, hash: Ledger.Hash)] = []
        for e in try await store.ledgerEntries(from: 0, limit: 100) { leaves.append((e.leafIndex, try e.entry.leafHash())) }
        await direct.offer(Array(leaves.reversed()))
        #expect(try await direct.catchUp(to: 24) == 24)
        #expect(try await direct.root(treeSize: 24) == (try await fromStore.root(treeSize: 24)))
        try await store.close()
    }
}
