import Crypto
import FHIR
import Ledger

/// What a commit writes, worked out from the units and the little state the store looked up first.
///
/// Pure, so both stores make exactly the same decisions (duplicates, unchanged content, version numbers, ledger leaves)
/// and the logic is tested once. A store looks up `State` inside its transaction, plans, then writes the rows.
struct CommitPlan {
    struct State {
        /// Accepted or dead-lettered messages already stored, by sender and key.
        var existing: [InboundIdentity: (id: Int64, outcome: InboundOutcome, reason: String?)] = [:]
        /// Current version of each resource the units touch.
        var current: [ResourceKey: (versionId: Int, recordHash: String, isDelete: Bool)] = [:]
        /// The next ledger leaf index.
        var nextLeaf: Int64
        /// Ids for the inbound rows, one per unit (replays use none, but ids are cheap).
        var inboundIDs: [Int64]
        var now: Int64
    }

    struct InboundIdentity: Hashable {
        var sender: String
        var key: String
    }

    struct ResourceKey: Hashable {
        var type: String
        var id: String
    }

    struct InboundRow {
        var id: Int64
        var message: InboundMessage
        var outcome: InboundOutcome
        var reason: String?
        var originalID: Int64?
    }

    struct ReplayUpdate {
        var id: Int64
        var outcome: InboundOutcome
        var reason: String?
        var replayedAt: Int64
    }

    struct VersionRow {
        var write: ResourceWrite
        var versionId: Int
        var lastUpdated: Int64
        var inboundID: Int64
        var leafIndex: Int64

        var recordHash: String { write.recordHash }
        var body: [UInt8] { write.canonicalBody }
        var searchKeys: [SearchKey] { write.searchKeys }
    }

    var inbound: [InboundRow] = []
    var replays: [ReplayUpdate] = []
    var versions: [VersionRow] = []
    var watermarks: [String: String] = [:]
    var results: [UnitResult] = []
    var nextLeaf: Int64

    /// Identities to look up before planning.
    static func identities(_ units: [IngestUnit]) -> Set<InboundIdentity> {
        Set(units.compactMap { u in u.replayOf == nil ? u.inbound.key.map { InboundIdentity(sender: u.inbound.sender, key: $0) } : nil })
    }

    /// Resources to look up before planning (not those with fresh random ids, which have no earlier version).
    static func resourceKeys(_ units: [IngestUnit]) -> Set<ResourceKey> {
        var keys = Set<ResourceKey>()
        for u in units {
            if case .accept(let writes) = u.disposition {
                for w in writes where !w.freshID { keys.insert(ResourceKey(type: w.resourceType, id: w.id)) }
            }
        }
        return keys
    }

    init(units: [IngestUnit], state: State) throws(StoreError) {
        precondition(state.inboundIDs.count >= units.count)
        var existing = state.existing
        var current = state.current
        nextLeaf = state.nextLeaf
        for (n, unit) in units.enumerated() {
            let identity = unit.inbound.key.map { InboundIdentity(sender: unit.inbound.sender, key: $0) }
            if unit.replayOf == nil, let identity, let original = existing[identity] {
                let id = state.inboundIDs[n]
                inbound.append(InboundRow(id: id, message: unit.inbound, outcome: .duplicate, reason: original.reason, originalID: original.id))
                results.append(
                    UnitResult(
                        inboundID: id, outcome: .duplicate, originalID: original.id, originalOutcome: original.outcome,
                        reason: original.reason, versions: []))
                continue
            }
            let inboundID = unit.replayOf ?? state.inboundIDs[n]
            var outcome: InboundOutcome
            var reason: String? = nil
            var written: [VersionOutcome] = []
            switch unit.disposition {
            case .reject(let r):
                outcome = .rejected
                reason = r
            case .deadLetter(let r):
                outcome = .deadLetter
                reason = r
            case .accept(let writes):
                outcome = .accepted
                for write in writes {
                    let key = ResourceKey(type: write.resourceType, id: write.id)
                    let hash = write.recordHash
                    let previous = current[key]
                    if let previous, previous.recordHash == hash, previous.isDelete == write.isDelete {
                        written.append(
                            VersionOutcome(
                                resourceType: key.type, id: key.id, versionId: previous.versionId, created: false,
                                recordHash: hash, leafIndex: nil))
                        continue
                    }
                    if previous == nil && write.isDelete { continue }  // deleting what never existed: nothing to do
                    let versionId = (previous?.versionId ?? 0) + 1
                    let leaf = nextLeaf
                    nextLeaf += 1
                    // The ledger entry is this version's type, id, versionId, record hash and time: it must encode.
                    guard let recordHash = Hash(hex: hash) else { throw StoreError.invalidRecord("hash") }
                    let entry = LedgerEntry(
                        resourceType: key.type, id: key.id, versionId: String(versionId), recordHash: recordHash,
                        storedAt: UInt64(state.now))
                    do { _ = try entry.encoded() } catch { throw StoreError.invalidRecord("ledger entry: \(error)") }
                    versions.append(
                        VersionRow(write: write, versionId: versionId, lastUpdated: state.now, inboundID: inboundID, leafIndex: leaf))
                    current[key] = (versionId, hash, write.isDelete)
                    written.append(
                        VersionOutcome(
                            resourceType: key.type, id: key.id, versionId: versionId, created: true, recordHash: hash,
                            leafIndex: leaf, storedAt: state.now))
                }
            }
            if let replayOf = unit.replayOf {
                replays.append(ReplayUpdate(id: replayOf, outcome: outcome, reason: reason, replayedAt: state.now))
            } else {
                inbound.append(InboundRow(id: inboundID, message: unit.inbound, outcome: outcome, reason: reason, originalID: nil))
                if let identity, outcome == .accepted || outcome == .deadLetter {
                    existing[identity] = (inboundID, outcome, reason)
                }
            }
            if let w = unit.watermark { watermarks[w.source] = w.value }
            results.append(
                UnitResult(inboundID: inboundID, outcome: outcome, originalID: nil, originalOutcome: nil, reason: reason, versions: written))
        }
    }

    /// The results with every new version's leaf moved by `offset` (leaves planned from 0, placed under the lock).
    func results(offsettingLeavesBy offset: Int64) -> [UnitResult] {
        guard offset != 0 else { return results }
        return results.map { r in
            var r = r
            r.versions = r.versions.map { v in
                var v = v
                v.leafIndex = v.leafIndex.map { $0 + offset }
                return v
            }
            return r
        }
    }

    /// The current-version rows to upsert: the last version of each resource in this commit.
    var currentRows: [VersionRow] {
        var last: [ResourceKey: Int] = [:]
        for (i, v) in versions.enumerated() { last[ResourceKey(type: v.write.resourceType, id: v.write.id)] = i }
        return last.values.sorted().map { versions[$0] }
    }
}
