import Crypto
import Foundation
import Ledger
import Store
import Synchronization

/// Proof bundles and integrity status for stored record versions, from the sealed tree heads in the store.
///
/// A version's bundle uses the first sealed head that covers its leaf, so the bundle of a version never changes
/// once made, and it carries that head's anchor receipts. The inclusion path is read off the tree of the store's
/// entries: if an entry was changed after the head was signed, the path no longer leads to the signed root and the
/// bundle fails verification at `inclusion`; if a stored body was changed, it fails at `record`.
public struct ProofBuilder: Sendable {
    public let store: any RecordStore
    public let publicKey: Curve25519.Signing.PublicKey
    public let tree: any LedgerTree
    /// What integrity checks learned about sealed heads, shared by the copies of this builder.
    let heads = HeadKnowledge()

    public init(store: any RecordStore, publicKey: Curve25519.Signing.PublicKey, tree: any LedgerTree) {
        self.store = store
        self.publicKey = publicKey
        self.tree = tree
    }

    /// The raw 32-byte Ed25519 public key that verifies the tree heads.
    public var publicKeyBytes: [UInt8] { Array(publicKey.rawRepresentation) }

    public enum ProofError: Error, CustomStringConvertible, Equatable {
        case noSuchVersion(String)
        case noEntry(String)
        /// The version is logged but no sealed head covers it yet.
        case pending(String)

        public var description: String {
            switch self {
            case .noSuchVersion(let v): "no stored version \(v)"
            case .noEntry(let v): "version \(v) has no ledger entry"
            case .pending(let v):
                "version \(v) is logged but not yet under a sealed tree head (heads are sealed every few seconds; 'ledgerbridge anchor --now' seals one)"
            }
        }
    }

    /// The bundle for one version.
    public func bundle(type: String, id: String, versionId: Int) async throws -> ProofBundle {
        let name = "\(type)/\(id)/_history/\(versionId)"
        guard let version = try await store.version(type: type, id: id, versionId: versionId) else { throw ProofError.noSuchVersion(name) }
        // The version row holds every field of its entry: no second read of it.
        guard let leaf = version.leafIndex, let entry = version.ledgerEntry else { throw ProofError.noEntry(name) }
        guard let head = try await store.treeHead(coveringLeaf: leaf), let signed = head.signed else { throw ProofError.pending(name) }
        let proof = try await tree.inclusionProof(leaf: Int(leaf), treeSize: Int(head.treeSize))
        return ProofBundle(entry: entry, proof: proof, head: signed, publicKey: publicKey, anchors: try await receipts(head.treeSize))
    }

    /// Every backend's receipt for a head (pending ones say so).
    public func receipts(_ treeSize: Int64) async throws -> [AnchorReceipt] {
        try await store.anchors(treeSize: treeSize).map { row in
            var receipt =
                row.receipt.flatMap(AnchorReceipt.init(json:))
                ?? AnchorReceipt(backend: row.backend, type: "unknown", status: row.state.rawValue)
            receipt.status = row.state.rawValue
            receipt.anchoredAt = row.anchoredAt.map { UInt64($0) }
            if row.state == .anchored { receipt.scanFromBlock = nil }
            return receipt
        }
    }

    /// Whether a version is still the one logged and anchored.
    public func integrity(of version: StoredVersion) async throws -> IntegrityStatus {
        guard version.bodyMatchesHash else {
            return .mismatch("the stored body no longer hashes to the record hash logged for it: the record was changed in the database")
        }
        guard let leaf = version.leafIndex else { return .mismatch("the version has no ledger entry") }
        // The leaf from memory when the tree has it (every read of a version logged before now), else caught up.
        var logged = tree.knownLeafHash(Int(leaf))
        if logged == nil { logged = try await tree.leafHash(Int(leaf)) }
        guard let logged, logged == (try? version.ledgerEntry?.leafHash()) else {
            return .mismatch("the version's ledger entry is not the one logged at leaf \(leaf): its record hash or time was changed in the database")
        }
        guard let head = try await coveringHead(leaf) else {
            return .pending("logged at leaf \(leaf); no tree head sealed over it yet")
        }
        if !heads.rootChecked(head.treeSize) {
            guard try await tree.root(treeSize: Int(head.treeSize)).hex == head.root else {
                return .mismatch(
                    "the ledger entries no longer give the root signed in tree head \(head.treeSize): entries were changed in the database")
            }
            heads.checkedRoot(head.treeSize)
        }
        if let backends = heads.anchored(head.treeSize) { return .anchored(treeSize: head.treeSize, backends: backends) }
        let rows: [AnchorRecord]
        if let recent = heads.recentAnchors(head.treeSize, now: .now) {
            rows = recent
        } else {
            rows = try await store.anchors(treeSize: head.treeSize)
            heads.learned(rows, treeSize: head.treeSize, now: .now)
        }
        let waiting = rows.filter { $0.state != .anchored }.map(\.backend)
        if !waiting.isEmpty { return .pending("in tree head \(head.treeSize); not yet anchored on \(waiting.joined(separator: ", "))") }
        return .anchored(treeSize: head.treeSize, backends: rows.map(\.backend))
    }

    /// The first sealed head over a leaf: from what earlier reads learned, else the store (which then also says where
    /// the head's span of leaves starts, so every other leaf under it is answered without the store).
    private func coveringHead(_ leaf: Int64) async throws -> StoredTreeHead? {
        if let head = heads.head(covering: leaf) { return head }
        if heads.recentlyUnsealed(leaf, now: .now) { return nil }
        guard let head = try await store.treeHead(coveringLeaf: leaf) else {
            heads.unsealed(from: leaf, now: .now)
            return nil
        }
        let previous = try await store.treeHeads(before: head.treeSize, limit: 1).first
        heads.learned(head, from: previous?.treeSize ?? 0)
        return head
    }
}

/// What integrity checks learn about sealed tree heads, kept between reads so that a read costs no store query for
/// them. What never changes once true is kept for good: which head covers a span of leaves (heads are append-only and
/// a version's head is the first one over its leaf), that the in-memory tree gives a head's signed root (the tree only
/// grows), and that every backend anchored a head. What can still change (no head yet over a leaf, a backend still
/// pending) is reused for `freshness` only, so a head sealed or anchored by another process (`ledgerbridge anchor
/// --now`, another gateway) shows within that time.
final class HeadKnowledge: Sendable {
    static let freshness: Duration = .milliseconds(250)

    private struct State {
        /// Disjoint spans `[low, head.treeSize)`, by tree size: the leaves whose first head is `head`.
        var spans: [(low: Int64, head: StoredTreeHead)] = []
        var checkedRoots: Set<Int64> = []
        var anchored: [Int64: [String]] = [:]
        var pendingAnchors: [Int64: (rows: [AnchorRecord], at: ContinuousClock.Instant)] = [:]
        /// No head covered leaves from `leaf` on, when last asked.
        var unsealed: (leaf: Int64, at: ContinuousClock.Instant)?
    }

    private let state = Mutex(State())

    func head(covering leaf: Int64) -> StoredTreeHead? {
        state.withLock { s in
            // The first span whose head's size is above the leaf.
            var lo = 0, hi = s.spans.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if s.spans[mid].head.treeSize > leaf { hi = mid } else { lo = mid + 1 }
            }
            guard lo < s.spans.count, s.spans[lo].low <= leaf else { return nil }
            return s.spans[lo].head
        }
    }

    func learned(_ head: StoredTreeHead, from low: Int64) {
        state.withLock { s in
            s.unsealed = nil
            guard !s.spans.contains(where: { $0.head.treeSize == head.treeSize }) else { return }
            let at = s.spans.firstIndex { $0.head.treeSize > head.treeSize } ?? s.spans.count
            s.spans.insert((low, head), at: at)
        }
    }

    func recentlyUnsealed(_ leaf: Int64, now: ContinuousClock.Instant) -> Bool {
        state.withLock { s in
            guard let u = s.unsealed else { return false }
            return leaf >= u.leaf && now - u.at < Self.freshness
        }
    }

    func unsealed(from leaf: Int64, now: ContinuousClock.Instant) {
        state.withLock { s in
            if let u = s.unsealed, now - u.at < Self.freshness { s.unsealed = (min(u.leaf, leaf), u.at) } else { s.unsealed = (leaf, now) }
        }
    }

    func rootChecked(_ treeSize: Int64) -> Bool { state.withLock { $0.checkedRoots.contains(treeSize) } }
    func checkedRoot(_ treeSize: Int64) { state.withLock { _ = $0.checkedRoots.insert(treeSize) } }

    func anchored(_ treeSize: Int64) -> [String]? { state.withLock { $0.anchored[treeSize] } }

    func recentAnchors(_ treeSize: Int64, now: ContinuousClock.Instant) -> [AnchorRecord]? {
        state.withLock { s in
            guard let p = s.pendingAnchors[treeSize], now - p.at < Self.freshness else { return nil }
            return p.rows
        }
    }

    func learned(_ rows: [AnchorRecord], treeSize: Int64, now: ContinuousClock.Instant) {
        state.withLock { s in
            if rows.allSatisfy({ $0.state == .anchored }) {
                s.anchored[treeSize] = rows.map(\.backend)
                s.pendingAnchors[treeSize] = nil
            } else {
                s.pendingAnchors[treeSize] = (rows, now)
            }
        }
    }
}

/// A served version's integrity status.
public enum IntegrityStatus: Sendable, Hashable {
    /// Its entry is under a sealed head that every backend anchored, and the body still hashes to the entry.
    case anchored(treeSize: Int64, backends: [String])
    /// Logged, but not yet under a sealed head, or not yet anchored everywhere.
    case pending(String)
    /// The stored body or entry no longer matches what was logged and anchored.
    case mismatch(String)

    public var code: String {
        switch self {
        case .anchored: "anchored"
        case .pending: "pending"
        case .mismatch: "mismatch"
        }
    }

    public var detail: String {
        switch self {
        case .anchored(let size, let backends):
            "in tree head \(size), anchored on \(backends.isEmpty ? "no backend" : backends.joined(separator: ", "))"
        case .pending(let s), .mismatch(let s): s
        }
    }
}

/// The RFC 9162 tree over the store's entries, kept in memory and caught up from the store when asked for more than
/// it has (the anchor service catches it up every round; a command reads it once).
public actor StoreTree: LedgerTree {
    let store: any RecordStore
    /// The tree, behind a lock as well as the actor: a leaf already in it (what every FHIR read's integrity check
    /// asks for) is read under the lock, without a hop onto the actor and back (`knownLeafHash`). Changed only by the
    /// actor.
    private nonisolated let state = Mutex(MerkleTree())
    private var size: Int { state.withLock { $0.size } }
    /// Leaves offered by commits beyond the tree's end, waiting for the ones before them (two commits may finish out
    /// of order; another gateway's entries arrive only from the store).
    private var offered: [Int64: Hash] = [:]
    /// Entries handed over by the commit path, without waiting for the actor: hashed at the next catch-up.
    private nonisolated let inbox = Mutex<[(leafIndex: Int64, entry: LedgerEntry)]>([])

    public init(store: any RecordStore) { self.store = store }

    /// Leaves the gateway just committed: appended without reading them back, once contiguous with the tree.
    public func offer(_ leaves: [(leafIndex: Int64, hash: Hash)]) {
        let end = Int64(size)
        for (index, hash) in leaves where index >= end { offered[index] = hash }
        absorb()
    }

    /// Entries just committed, from the commit path: costs an append under a lock.
    public nonisolated func hand(_ entries: [(leafIndex: Int64, entry: LedgerEntry)]) {
        inbox.withLock { $0.append(contentsOf: entries) }
    }

    private func absorb() {
        let handed = inbox.withLock { box in
            defer { box.removeAll(keepingCapacity: true) }
            return box
        }
        let end = Int64(size)
        for (index, entry) in handed where index >= end {
            if let hash = try? entry.leafHash() { offered[index] = hash }
        }
        guard !offered.isEmpty else { return }
        var run: [Hash] = []
        var next = end
        while let hash = offered.removeValue(forKey: next) {
            run.append(hash)
            next += 1
        }
        state.withLock { $0.append(run) }
        // Too many leaves waiting for a gap: the gap is filled from the store at the next catch-up.
        if offered.count > 1_000_000 { offered.removeAll() }
    }

    /// Brings the tree to `size` entries: offered leaves first, the store for whatever is still missing. Returns the
    /// tree's size.
    @discardableResult public func catchUp(to size: Int64) async throws -> Int {
        absorb()
        if Int64(self.size) < size { try await load() }
        return self.size
    }

    /// Appends every entry the store has beyond the tree's size; entries must be contiguous.
    ///
    /// The actor is reentrant: while the store answers, commits handed over or another load may grow the tree, so a
    /// page is taken from where the tree is now (a page that starts behind it is not a gap).
    private func load() async throws {
        while true {
            let page = try await store.ledgerEntries(from: Int64(size), limit: 10_000)
            if page.isEmpty { break }
            // The tree may have grown while the store answered (see above).
            let end = Int64(size)
            let fresh = page.drop { $0.leafIndex < end }
            guard let first = fresh.first else { continue }
            guard first.leafIndex == end else {
                throw StoreError.invalidRecord("ledger entries are missing from leaf \(end) (next is \(first.leafIndex))")
            }
            let hashes = try fresh.map { try $0.entry.leafHash() }
            state.withLock { $0.append(hashes) }
        }
        let end = Int64(size)
        offered = offered.filter { $0.key >= end }
        absorb()
    }

    /// Leaves just committed first (no store read), then the store for what is still missing.
    private func ensure(_ size: Int) async throws {
        if size > self.size { absorb() }
        if size > self.size { try await load() }
    }

    public func leafHash(_ leaf: Int) async throws -> Hash? {
        try await ensure(leaf + 1)
        return knownLeafHash(leaf)
    }

    public nonisolated func knownLeafHash(_ leaf: Int) -> Hash? {
        state.withLock { leaf >= 0 && leaf < $0.size ? $0.levels[0][leaf] : nil }
    }

    public func inclusionProof(leaf: Int, treeSize: Int) async throws -> InclusionProof {
        try await ensure(treeSize)
        return try state.withLock { tree throws(StoreError) in
            guard leaf < treeSize, treeSize <= tree.size else { throw StoreError.notFound("leaf \(leaf) in a tree of \(treeSize)") }
            return tree.inclusionProof(for: leaf, treeSize: treeSize)
        }
    }

    public func root(treeSize: Int) async throws -> Hash {
        try await ensure(treeSize)
        return try state.withLock { tree throws(StoreError) in
            guard treeSize <= tree.size else { throw StoreError.notFound("a tree of \(treeSize) entries") }
            return tree.root(atSize: treeSize)
        }
    }

    public func consistencyProof(from old: Int, to new: Int) async throws -> ConsistencyProof {
        try await ensure(new)
        return try state.withLock { tree throws(StoreError) in
            guard old <= new, new <= tree.size else { throw StoreError.notFound("a tree of \(new) entries") }
            return tree.consistencyProof(from: old, to: new)
        }
    }
}
