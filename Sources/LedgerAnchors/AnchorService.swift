import Crypto
import Foundation
import Ledger
import Logging
import ServiceLifecycle
import Store

/// When tree heads are sealed and how anchors are retried (`ledger:` in the configuration).
public struct AnchorSchedule: Sendable, Hashable {
    /// Seal a head once this many entries wait for one…
    public var batchEntries = 1_000
    /// …or once the oldest has waited this long (seconds).
    public var batchSeconds = 10.0
    /// The first retry after a failed attempt waits about this long; each further failure doubles it, up to `retryMaxSeconds`.
    public var retryInitialSeconds = 1.0
    public var retryMaxSeconds = 300.0
    /// How long a worker holds an outbox row it is working on.
    public var leaseSeconds = 120.0
    /// How often the service looks for new entries and due rows.
    public var tickSeconds = 0.5

    public init() {}

    /// The wait before attempt `attempts + 1`: exponential, with "equal jitter" (half fixed, half random) so that
    /// gateways retrying against one ledger spread out.
    public func backoff(afterAttempts attempts: Int) -> Double {
        let base = min(retryMaxSeconds, retryInitialSeconds * pow(2, Double(max(0, attempts - 1))))
        return base / 2 + Double.random(in: 0...(base / 2))
    }
}

/// Seals signed tree heads over the store's ledger entries and anchors them to every configured backend through the
/// store's outbox. It keeps the RFC 9162 tree in memory (fed by the commits, gaps filled from the store), so
/// proofs and integrity checks read paths off it without rehashing.
///
/// Guarantees: entries are durable before anyone is answered (the ingest commit); a head is recorded together with
/// its outbox rows (one transaction); a row is marked anchored together with its receipt; rows are leased, so two
/// workers never send the same row at once; and a backend that lost an answer is asked whether the first attempt
/// took effect before it is sent again. So every sealed head is anchored once on every backend, however often the
/// ledger or the gateway goes down.
public actor AnchorService: Service {
    public nonisolated let store: any RecordStore
    public nonisolated let key: Curve25519.Signing.PrivateKey
    public nonisolated let backends: [any AnchorBackend]
    public nonisolated let schedule: AnchorSchedule
    nonisolated let logger: Logger

    private nonisolated let tree: StoreTree
    private var latestHead: StoredTreeHead?
    private var waitingSince: Int64?
    private var outboxMayHaveWork = true
    private var refusalLogged = false
    private var lastOutboxLook: Int64 = 0
    private var size = 0
    /// Set when the store's entries no longer give a root that was signed: the store was changed behind our back.
    public private(set) var integrityProblem: String?
    private var loaded = false

    public init(
        store: any RecordStore, key: Curve25519.Signing.PrivateKey, backends: [any AnchorBackend], schedule: AnchorSchedule = AnchorSchedule(),
        logger: Logger = Logger(label: "ledgerbridge.anchor")
    ) {
        self.store = store
        self.key = key
        self.backends = backends
        self.schedule = schedule
        self.logger = logger
        tree = StoreTree(store: store)
    }

    public func run() async throws {
        logger.info(
            "anchoring", metadata: ["lb.backends": "\(backends.map(\.name).joined(separator: ","))", "lb.batchSeconds": "\(schedule.batchSeconds)"])
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.tick()
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.warning("anchoring round failed", metadata: ["lb.error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(self.schedule.tickSeconds))
            }
        }
    }

    /// One round: catch up, seal when due, work the outbox when it may have work (after a seal, while rows wait,
    /// and every few seconds for rows another gateway sealed).
    public func tick() async throws {
        try await catchUp()
        if try await sealIfDue(force: false) != nil { outboxMayHaveWork = true }
        let now = StoreTime.nowMillis()
        if outboxMayHaveWork || now - lastOutboxLook >= 5_000 {
            lastOutboxLook = now
            let rows = try await workOutbox(ignoringBackoff: false)
            outboxMayHaveWork = rows.contains { $0.state != .anchored }
        }
    }

    /// Tells the tree of versions just committed, so it need not read them back from the store. Called on the
    /// commit path: it only hands the entries over; they are hashed at the next round.
    public nonisolated func committed(_ results: [UnitResult]) {
        var entries: [(leafIndex: Int64, entry: LedgerEntry)] = []
        for r in results {
            for v in r.versions {
                if let e = v.ledgerEntry { entries.append(e) }
            }
        }
        if !entries.isEmpty { tree.hand(entries) }
    }

    // MARK: - The tree

    /// The RFC 9162 tree over the store's entries, for proofs and integrity checks while the gateway runs.
    public nonisolated var ledgerTree: any LedgerTree { tree }

    /// Reads the entries the tree does not have yet. The first time, also checks every recorded head against the
    /// rebuilt tree.
    public func catchUp() async throws {
        size = try await tree.catchUp(to: try await store.ledgerSize())
        if !loaded {
            loaded = true
            latestHead = try await store.latestTreeHead()
            try await checkRecordedHeads(size: size)
        }
        if waitingSince == nil, Int64(size) > (latestHead?.treeSize ?? 0) { waitingSince = StoreTime.nowMillis() }
    }

    /// Every recorded head (newest first, up to 10,000) must be the root of the entries now in the store.
    private func checkRecordedHeads(size: Int) async throws {
        var before: Int64? = nil
        var checked = 0
        while checked < 10_000 {
            let heads = try await store.treeHeads(before: before, limit: 1_000)
            if heads.isEmpty { break }
            for head in heads {
                if head.treeSize > Int64(size) {
                    flag("tree head \(head.treeSize) covers more entries than the store has (\(size)): entries were deleted")
                } else if try await tree.root(treeSize: Int(head.treeSize)).hex != head.root {
                    flag(
                        "the store's first \(head.treeSize) ledger entries no longer give the root signed in tree head \(head.treeSize): entries were changed"
                    )
                }
            }
            checked += heads.count
            before = heads.last?.treeSize
        }
    }

    private func flag(_ problem: String) {
        if integrityProblem == nil { integrityProblem = problem }
        logger.critical("ledger integrity", metadata: ["lb.problem": "\(problem)"])
    }

    // MARK: - Sealing

    /// Signs and records a head over every entry when `batchEntries` wait or the oldest waited `batchSeconds`
    /// (or at once with `force`, when any entry waits). Returns the head recorded.
    @discardableResult public func sealIfDue(force: Bool) async throws -> StoredTreeHead? {
        if force { try await catchUp() }
        let covered = latestHead?.treeSize ?? 0
        let waiting = Int64(size) - covered
        guard waiting > 0 else { return nil }
        let now = StoreTime.nowMillis()
        let waitedLongEnough = Double(now - (waitingSince ?? now)) >= schedule.batchSeconds * 1000
        guard force || waiting >= Int64(schedule.batchEntries) || waitedLongEnough else { return nil }
        guard integrityProblem == nil else {
            // Signing a root over changed entries would vouch for them. Said once, not every round.
            if !refusalLogged {
                refusalLogged = true
                logger.error(
                    "no tree head is sealed until the ledger integrity problem is resolved", metadata: ["lb.problem": "\(integrityProblem!)"])
            }
            return nil
        }
        let signed = try SignedTreeHead.sign(treeSize: UInt64(size), root: try await tree.root(treeSize: size), timestamp: UInt64(now), with: key)
        let head = StoredTreeHead(
            treeSize: Int64(signed.treeSize), root: signed.root.hex, timestamp: now, signature: Hex.encode(signed.signature), keyID: signed.keyID.hex)
        do {
            if try await store.recordTreeHead(head, backends: backends.map(\.name), now: now) {
                logger.info("tree head sealed", metadata: ["lb.treeSize": "\(head.treeSize)", "lb.root": "\(head.root)"])
            }
        } catch StoreError.invalidRecord(let why) {
            // Another gateway sealed a larger head meanwhile: take it as ours.
            logger.debug("tree head not recorded: \(why)")
        }
        latestHead = try await store.latestTreeHead()
        waitingSince = Int64(size) > (latestHead?.treeSize ?? 0) ? now : nil
        return latestHead
    }

    // MARK: - The outbox

    /// Works every due outbox row once (each backend's rows in order, backends side by side). Returns the rows as
    /// they were left.
    public func workOutbox(ignoringBackoff: Bool) async throws -> [AnchorRecord] {
        let now = StoreTime.nowMillis()
        let claimed = try await store.claimDueAnchors(
            dueBy: ignoringBackoff ? Int64.max : now, now: now, leaseUntil: now + Int64(schedule.leaseSeconds * 1000), limit: 200)
        if claimed.isEmpty { return [] }
        var heads: [Int64: SignedTreeHead] = [:]
        for size in Set(claimed.map(\.treeSize)) {
            guard let head = try await store.treeHead(size: size)?.signed else { continue }
            heads[size] = head
        }
        let byBackend = Dictionary(grouping: claimed, by: \.backend)
        let store = store
        let schedule = schedule
        let logger = logger
        let known = Dictionary(backends.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let frozenHeads = heads
        return try await withThrowingTaskGroup(of: [AnchorRecord].self) { group in
            for (name, rows) in byBackend {
                guard let backend = known[name] else {
                    // A backend no longer configured: its rows wait (released at once) until it is configured again.
                    logger.warning("outbox rows for an unconfigured backend", metadata: ["lb.backend": "\(name)"])
                    for var row in rows {
                        row.lastError = "backend \(name) is not configured"
                        row.nextAttemptAt = now + Int64(schedule.retryMaxSeconds * 1000)
                        try await store.updateAnchor(row)
                    }
                    continue
                }
                group.addTask {
                    try await Self.work(
                        rows.sorted { $0.treeSize < $1.treeSize }, backend: backend, heads: frozenHeads, store: store, schedule: schedule,
                        logger: logger)
                }
            }
            var out: [AnchorRecord] = []
            for try await rows in group { out += rows }
            return out.sorted { ($0.treeSize, $0.backend) < ($1.treeSize, $1.backend) }
        }
    }

    private static func work(
        _ rows: [AnchorRecord], backend: any AnchorBackend, heads: [Int64: SignedTreeHead], store: any RecordStore, schedule: AnchorSchedule,
        logger: Logger
    ) async throws -> [AnchorRecord] {
        var out: [AnchorRecord] = []
        var failedUntil: Int64? = nil
        for var row in rows {
            if let until = failedUntil {
                // Keep each backend's heads in order: the rest wait for the one that failed.
                row.nextAttemptAt = max(row.nextAttemptAt, until)
                try await store.updateAnchor(row)
                out.append(row)
                continue
            }
            guard let head = heads[row.treeSize] else { continue }
            let previous = row.receipt.flatMap(AnchorReceipt.init(json:))
            let now = StoreTime.nowMillis()
            do {
                switch try await backend.advance(head: head, state: row.state, previous: previous) {
                case .anchored(let receipt):
                    row.state = .anchored
                    row.receipt = receipt.json
                    row.anchoredAt = now
                    row.lastError = nil
                    logger.info("tree head anchored", metadata: ["lb.backend": "\(backend.name)", "lb.treeSize": "\(row.treeSize)"])
                case .submitted(let receipt, let again):
                    row.state = .submitted
                    row.receipt = receipt.json
                    row.nextAttemptAt = now + Int64(again * 1000)
                    row.lastError = nil
                case .resend(let receipt, let reason):
                    row.state = .pending
                    row.receipt = receipt.json
                    row.nextAttemptAt = now
                    row.lastError = reason
                    logger.warning("anchor to be sent again", metadata: ["lb.backend": "\(backend.name)", "lb.reason": "\(reason)"])
                }
            } catch {
                row.attempts += 1
                row.lastError = error.description
                if let progress = error.progress { row.receipt = progress.json }
                row.nextAttemptAt = now + Int64(schedule.backoff(afterAttempts: row.attempts) * 1000)
                failedUntil = row.nextAttemptAt
                logger.warning(
                    "anchoring failed, will retry",
                    metadata: [
                        "lb.backend": "\(backend.name)", "lb.treeSize": "\(row.treeSize)", "lb.attempts": "\(row.attempts)",
                        "lb.error": "\(error.description)",
                    ])
            }
            try await store.updateAnchor(row)
            out.append(row)
        }
        return out
    }

    /// `anchor --now`: seals a head over every waiting entry and works the outbox, retries included, until every
    /// row is anchored or `timeout` seconds have passed. Returns the rows of the newest head.
    public func anchorNow(timeout: Double) async throws -> (head: StoredTreeHead?, rows: [AnchorRecord]) {
        try await sealIfDue(force: true)
        let deadline = Date().addingTimeInterval(timeout)
        var first = true
        while true {
            _ = try await workOutbox(ignoringBackoff: first)
            first = false
            let waiting = try await store.anchorSummary().contains { $0.pending + $0.submitted > 0 }
            if !waiting || Date() >= deadline { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard let head = latestHead else { return (nil, []) }
        return (head, try await store.anchors(treeSize: head.treeSize))
    }

}

/// The RFC 9162 tree over the ledger, as proofs need it: the running gateway's (`AnchorService.ledgerTree`), or a
/// `StoreTree` read from the store for a command.
public protocol LedgerTree: Sendable {
    func leafHash(_ leaf: Int) async throws -> Hash?
    /// The leaf's hash if the tree has it now, without waiting (nil: ask `leafHash`, which catches up first).
    func knownLeafHash(_ leaf: Int) -> Hash?
    func inclusionProof(leaf: Int, treeSize: Int) async throws -> InclusionProof
    func root(treeSize: Int) async throws -> Hash
    func consistencyProof(from old: Int, to new: Int) async throws -> ConsistencyProof
}
