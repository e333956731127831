import Ledger

/// What the store keeps for anchoring (docs/ledger.md, "Anchoring"): the signed tree heads the gateway sealed, and an
/// outbox row per tree head and backend that the anchor worker works through.
///
/// The ledger entries themselves are written with their versions in the ingest commit, and the commit moves
/// `ledger_state.next_leaf`; every entry below it is therefore durable and will be covered by the next sealed head.
/// A head and its outbox rows are written in one transaction, so a head is never sealed without the work of
/// anchoring it, and an outbox row is only marked anchored together with its receipt.
public protocol AnchorStore: Sendable {
    /// How many ledger entries there are (the next leaf index).
    func ledgerSize() async throws -> Int64

    /// Records a signed tree head and a pending outbox row for each backend, in one transaction. A head whose size
    /// is already recorded is left as it is (returns false); a head smaller than the newest, or larger than the
    /// ledger, is refused.
    @discardableResult func recordTreeHead(_ head: StoredTreeHead, backends: [String], now: Int64) async throws -> Bool

    func latestTreeHead() async throws -> StoredTreeHead?
    /// The smallest recorded head that covers the leaf (tree size > leaf): the first head that logged it.
    func treeHead(coveringLeaf leaf: Int64) async throws -> StoredTreeHead?
    func treeHead(size: Int64) async throws -> StoredTreeHead?
    /// Recorded heads, newest first, smaller than `before` when given.
    func treeHeads(before: Int64?, limit: Int) async throws -> [StoredTreeHead]

    /// The outbox rows of one head, by backend name.
    func anchors(treeSize: Int64) async throws -> [AnchorRecord]

    /// Takes a lease until `leaseUntil` on up to `limit` outbox rows that are not anchored, are due by `dueBy`, and are
    /// leased by nobody else; oldest heads first. Another worker (another gateway on the same PostgreSQL, or
    /// `ledgerbridge anchor --now` beside `serve`) does not get them while the lease holds.
    ///
    /// A backend's heads are sent in order: a row is not handed out while an older row of the same backend is still
    /// pending (not yet sent) and not itself claimable, because it is backing off or leased. Rows already submitted and
    /// waiting for confirmations do not hold newer heads back.
    func claimDueAnchors(dueBy: Int64, now: Int64, leaseUntil: Int64, limit: Int) async throws -> [AnchorRecord]

    /// Writes an outbox row's new state, attempts, next attempt, error and receipt, and releases its lease.
    func updateAnchor(_ record: AnchorRecord) async throws

    /// Per backend: rows by state, the oldest head not yet anchored and its last error.
    func anchorSummary() async throws -> [AnchorBackendSummary]
}

/// A signed tree head as stored (hex for binary values, milliseconds for times).
public struct StoredTreeHead: Sendable, Hashable, Codable {
    public var treeSize: Int64
    public var root: String
    /// When it was signed, ms since 1970 (part of what is signed).
    public var timestamp: Int64
    public var signature: String
    public var keyID: String

    public init(treeSize: Int64, root: String, timestamp: Int64, signature: String, keyID: String) {
        self.treeSize = treeSize
        self.root = root
        self.timestamp = timestamp
        self.signature = signature
        self.keyID = keyID
    }

    /// The head as the ledger signs and checks it; nil when a stored value is not valid hex.
    public var signed: SignedTreeHead? {
        guard let root = Hash(hex: root), let key = Hash(hex: keyID), let signature = Hex.decode(signature) else { return nil }
        return SignedTreeHead(treeSize: UInt64(treeSize), root: root, timestamp: UInt64(timestamp), signature: signature, keyID: key)
    }
}

public enum AnchorState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Not yet sent (or to be sent again: a failed attempt, an Ethereum receipt lost in a reorg).
    case pending
    /// Sent; waiting for the backend to confirm (Ethereum confirmations).
    case submitted
    /// Done: `receipt` holds the backend's proof.
    case anchored
}

/// One outbox row: the anchoring of one tree head on one backend.
public struct AnchorRecord: Sendable, Hashable {
    public var treeSize: Int64
    public var backend: String
    public var state: AnchorState
    /// Failed attempts so far (the backoff grows with them).
    public var attempts: Int
    /// Not before this time (ms).
    public var nextAttemptAt: Int64
    public var lastError: String?
    /// The backend's receipt as JSON text (also kept while `submitted`, e.g. the transaction hash).
    public var receipt: String?
    public var anchoredAt: Int64?

    public init(
        treeSize: Int64, backend: String, state: AnchorState = .pending, attempts: Int = 0, nextAttemptAt: Int64 = 0,
        lastError: String? = nil, receipt: String? = nil, anchoredAt: Int64? = nil
    ) {
        self.treeSize = treeSize
        self.backend = backend
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.receipt = receipt
        self.anchoredAt = anchoredAt
    }
}

/// The outbox of one backend, summed.
public struct AnchorBackendSummary: Sendable, Hashable, Codable {
    public var backend: String
    public var pending: Int
    public var submitted: Int
    public var anchored: Int
    /// The largest anchored head.
    public var lastAnchoredTreeSize: Int64?
    /// The oldest head not yet anchored, and the last error on it.
    public var oldestWaitingTreeSize: Int64?
    public var lastError: String?
    public var nextAttemptAt: Int64?

    public init(backend: String) {
        self.backend = backend
        pending = 0
        submitted = 0
        anchored = 0
    }
}

extension AnchorStore {
    /// The checks `recordTreeHead` makes in both stores before writing.
    static func checkNewHead(_ head: StoredTreeHead, ledgerSize: Int64, latest: Int64?) throws(StoreError) {
        guard head.treeSize >= 1, head.treeSize <= ledgerSize else {
            throw StoreError.invalidRecord("a tree head of size \(head.treeSize) for a ledger of \(ledgerSize) entries")
        }
        if let latest, head.treeSize < latest {
            throw StoreError.invalidRecord("a tree head of size \(head.treeSize) is older than the newest (\(latest))")
        }
    }
}
