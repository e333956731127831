import Foundation
import Ledger
import Store
import Testing

@Suite("anchor outbox on both stores")
struct AnchorStoreTests {
    func head(_ size: Int64) -> StoredTreeHead {
        StoredTreeHead(
            treeSize: size, root: String(repeating: "a", count: 64), timestamp: 1, signature: "00", keyID: String(repeating: "b", count: 64))
    }

    @Test("heads are recorded once with their outbox rows, never smaller than the newest nor larger than the ledger", arguments: StoreKind.allCases)
    func heads(kind: StoreKind) async throws {
        let store = try await kind.open()
        let pipeline = IngestPipelineFactory.make(store)
        try await ingest(0..<3, into: pipeline)
        #expect(try await store.ledgerSize() == 6)
        await #expect(throws: StoreError.self) { try await store.recordTreeHead(head(7), backends: ["a"], now: 0) }
        #expect(try await store.recordTreeHead(head(4), backends: ["a", "b"], now: 10))
        #expect(try await store.recordTreeHead(head(4), backends: ["a", "b"], now: 10) == false)
        await #expect(throws: StoreError.self) { try await store.recordTreeHead(head(3), backends: ["a"], now: 0) }
        #expect(try await store.recordTreeHead(head(6), backends: ["a", "b"], now: 10))
        #expect(try await store.latestTreeHead()?.treeSize == 6)
        #expect(try await store.treeHead(coveringLeaf: 0)?.treeSize == 4)
        #expect(try await store.treeHead(coveringLeaf: 4)?.treeSize == 6)
        #expect(try await store.treeHead(coveringLeaf: 6) == nil)
        #expect(try await store.treeHeads(before: nil, limit: 10).map(\.treeSize) == [6, 4])
        #expect(try await store.treeHeads(before: 6, limit: 10).map(\.treeSize) == [4])
        #expect(try await store.anchors(treeSize: 4).map(\.backend) == ["a", "b"])
        #expect(try await store.anchors(treeSize: 4).allSatisfy { $0.state == .pending })
        try await store.close()
    }

    @Test("a leased row is not handed to a second worker; updates release it; the summary counts by state", arguments: StoreKind.allCases)
    func leases(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await ingest(0..<2, into: IngestPipelineFactory.make(store))
        try await store.recordTreeHead(head(2), backends: ["a", "b"], now: 100)
        try await store.recordTreeHead(head(4), backends: ["a", "b"], now: 100)
        #expect(try await store.claimDueAnchors(dueBy: 99, now: 99, leaseUntil: 1000, limit: 10).isEmpty, "not due yet")
        let first = try await store.claimDueAnchors(dueBy: 100, now: 100, leaseUntil: 1000, limit: 3)
        #expect(first.map { "\($0.treeSize)\($0.backend)" } == ["2a", "2b", "4a"])
        let second = try await store.claimDueAnchors(dueBy: 100, now: 100, leaseUntil: 1000, limit: 10)
        #expect(second.isEmpty, "the leased rows went to the first worker; 4b waits for 2b, which that worker holds")
        #expect(try await store.claimDueAnchors(dueBy: 100, now: 500, leaseUntil: 1000, limit: 10).isEmpty)

        var done = first[0]
        done.state = .anchored
        done.receipt = #"{"backend":"a"}"#
        done.anchoredAt = 200
        try await store.updateAnchor(done)
        var failed = first[1]
        failed.attempts = 1
        failed.lastError = "down"
        failed.nextAttemptAt = 300
        try await store.updateAnchor(failed)
        // Leases past their time are taken again (a worker that died).
        let retaken = try await store.claimDueAnchors(dueBy: Int64.max, now: 1001, leaseUntil: 2000, limit: 10)
        #expect(retaken.map { "\($0.treeSize)\($0.backend)" } == ["2b", "4a", "4b"])
        #expect(retaken[0].attempts == 1 && retaken[0].lastError == "down")
        let stored = try await store.anchors(treeSize: 2)
        #expect(stored[0].state == .anchored && stored[0].receipt == #"{"backend":"a"}"# && stored[0].anchoredAt == 200)

        let summary = try await store.anchorSummary()
        #expect(summary.map(\.backend) == ["a", "b"])
        #expect(summary[0].anchored == 1 && summary[0].pending == 1 && summary[0].lastAnchoredTreeSize == 2 && summary[0].oldestWaitingTreeSize == 4)
        #expect(summary[1].pending == 2 && summary[1].oldestWaitingTreeSize == 2 && summary[1].lastError == "down")
        try await store.close()
    }

    @Test(
        "a backend's heads are handed out in order: a pending head backing off holds back newer ones, a submitted one does not",
        arguments: StoreKind.allCases)
    func order(kind: StoreKind) async throws {
        let store = try await kind.open()
        try await ingest(0..<3, into: IngestPipelineFactory.make(store))
        for size in [1, 2, 3] as [Int64] { try await store.recordTreeHead(head(size), backends: ["a", "b"], now: 100) }
        var rows = try await store.claimDueAnchors(dueBy: 100, now: 100, leaseUntil: 150, limit: 10)
        #expect(rows.count == 6)
        // b's first head failed and backs off until 500; a's first head was sent and waits for confirmations until 900.
        var failed = try #require(rows.first { $0.treeSize == 1 && $0.backend == "b" })
        failed.attempts = 1
        failed.nextAttemptAt = 500
        try await store.updateAnchor(failed)
        var sent = try #require(rows.first { $0.treeSize == 1 && $0.backend == "a" })
        sent.state = .submitted
        sent.nextAttemptAt = 900
        try await store.updateAnchor(sent)
        for var r in rows where r.treeSize > 1 {
            r.nextAttemptAt = 100
            try await store.updateAnchor(r)
        }
        rows = try await store.claimDueAnchors(dueBy: 200, now: 200, leaseUntil: 250, limit: 10)
        #expect(rows.map { "\($0.treeSize)\($0.backend)" } == ["2a", "3a"], "b's newer heads wait for its first")
        rows = try await store.claimDueAnchors(dueBy: 600, now: 600, leaseUntil: 650, limit: 10)
        #expect(rows.map { "\($0.treeSize)\($0.backend)" } == ["1b", "2a", "2b", "3a", "3b"])
        try await store.close()
    }
}
