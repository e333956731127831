import Crypto
import Foundation
import Testing

@testable import Ledger

@Suite("Proof bundles")
struct ProofBundleTests {
    static func make(count: Int = 37, index: Int = 20) throws -> (ProofBundle, Curve25519.Signing.PrivateKey, [LedgerEntry]) {
        let entries = (0..<count).map { i in
            LedgerEntry(
                resourceType: "Observation", id: "o\(i)", versionId: "1", recordHash: Hash.sha256(Array("r\(i)".utf8)),
                storedAt: 1_764_000_000_000 + UInt64(i))
        }
        let tree = MerkleTree(leafHashes: try entries.map { try $0.leafHash() })
        let key = Curve25519.Signing.PrivateKey()
        let head = try SignedTreeHead.sign(treeSize: UInt64(tree.size), root: tree.root, timestamp: 1_764_000_100_000, with: key)
        return (ProofBundle(entry: entries[index], proof: tree.inclusionProof(for: index), head: head, publicKey: key.publicKey), key, entries)
    }

    @Test("a genuine bundle verifies, through JSON and back")
    func genuine() throws {
        let (bundle, key, entries) = try Self.make()
        let json = try JSONEncoder().encode(bundle)
        let decoded = try JSONDecoder().decode(ProofBundle.self, from: json)
        #expect(decoded == bundle)
        let result = ProofBundleVerification(decoded, recordHash: entries[20].recordHash, trustedKey: key.publicKey)
        #expect(result.passed, "\(result.steps)")
        #expect(result.steps.map(\.name) == ["record", "entry", "inclusion", "signature"])
    }

    @Test("each kind of tampering fails at its own step")
    func tampered() throws {
        let (bundle, key, entries) = try Self.make()
        func failing(_ b: ProofBundle, recordHash: Hash? = nil, key k: Curve25519.Signing.PublicKey? = nil) -> [String] {
            ProofBundleVerification(b, recordHash: recordHash, trustedKey: k).steps.filter { !$0.passed }.map(\.name)
        }
        #expect(failing(bundle, recordHash: entries[19].recordHash, key: key.publicKey) == ["record"])
        var b = bundle
        b.entry.versionId = "2"
        #expect(failing(b, key: key.publicKey) == ["inclusion"])
        b = bundle
        b.leafIndex = 21
        #expect(failing(b, key: key.publicKey) == ["inclusion"])
        b = bundle
        b.inclusionPath[1] = Hash.sha256([9]).hex
        #expect(failing(b, key: key.publicKey) == ["inclusion"])
        b = bundle
        b.treeHead.timestamp += 1
        #expect(failing(b, key: key.publicKey) == ["signature"])
        #expect(failing(bundle, key: Curve25519.Signing.PrivateKey().publicKey) == ["signature"])
        b = bundle
        b.treeHead.root = "zz"
        #expect(failing(b) == ["format"])
        b = bundle
        b.format = "something else"
        #expect(failing(b) == ["format"])
    }
}
