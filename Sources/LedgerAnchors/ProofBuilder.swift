import Crypto
import Ledger
import Store

/// Builds proof bundles for stored record versions: the RFC 9162 tree over every ledger entry in the store, a tree
/// head signed with the gateway's key, and the version's inclusion path.
///
/// Until tree heads are persisted and anchored (issue #6), the head is signed when the proof is asked for, over the
/// store's entries as they are then: the bundle proves inclusion under that head and detects a record changed after
/// its entry was written (its body no longer hashes to the entry), not yet a change to the entries themselves.
public struct ProofBuilder: Sendable {
    public let store: any RecordStore
    public let key: Curve25519.Signing.PrivateKey

    public init(store: any RecordStore, key: Curve25519.Signing.PrivateKey) {
        self.store = store
        self.key = key
    }

    public enum ProofError: Error, CustomStringConvertible {
        case noSuchVersion(String)
        case noEntry(String)
        public var description: String {
            switch self {
            case .noSuchVersion(let v): "no stored version \(v)"
            case .noEntry(let v): "version \(v) has no ledger entry"
            }
        }
    }

    /// The tree over every entry, read in pages.
    public func tree() async throws -> MerkleTree {
        var tree = MerkleTree()
        var next: Int64 = 0
        while true {
            let page = try await store.ledgerEntries(from: next, limit: 10_000)
            if page.isEmpty { break }
            tree.append(try page.map { try $0.entry.leafHash() })
            next = page[page.count - 1].leafIndex + 1
        }
        return tree
    }

    /// The bundle for one version, with a tree head signed at `timestamp` (milliseconds since 1970).
    public func bundle(type: String, id: String, versionId: Int, timestamp: UInt64) async throws -> ProofBundle {
        let name = "\(type)/\(id)/_history/\(versionId)"
        guard let version = try await store.version(type: type, id: id, versionId: versionId) else { throw ProofError.noSuchVersion(name) }
        guard let leaf = version.leafIndex, let stored = try await store.ledgerEntries(from: leaf, limit: 1).first, stored.leafIndex == leaf
        else { throw ProofError.noEntry(name) }
        let tree = try await tree()
        let head = try SignedTreeHead.sign(treeSize: UInt64(tree.size), root: tree.root, timestamp: timestamp, with: key)
        return ProofBundle(entry: stored.entry, proof: tree.inclusionProof(for: Int(leaf)), head: head, publicKey: key.publicKey)
    }
}
