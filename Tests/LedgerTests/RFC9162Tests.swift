import Foundation
import Testing

@testable import Ledger

/// Vectors written by scripts/generate_ledger_vectors.py from RFC 9162's definitions, with Python's hashlib.
struct Vectors: Decodable {
    struct Inclusion: Decodable { var leaf: Int; var size: Int; var path: [String] }
    struct Consistency: Decodable { var old: Int; var new: Int; var path: [String] }
    var leaves: [String]
    var roots: [String]
    var inclusion: [Inclusion]
    var consistency: [Consistency]

    struct Tampered: Decodable, CustomTestStringConvertible, Sendable {
        var kind: String
        var why: String
        var leaf: Int?
        var size: Int?
        var old: Int?
        var new: Int?
        var path: [String]
        var testDescription: String { "\(kind) \(leaf ?? old ?? 0)/\(size ?? new ?? 0): \(why)" }
    }

    static func load<T: Decodable>(_ name: String, as: T.Type) -> T {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Vectors").appendingPathComponent(name)
        return try! JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    static let rfc = load("rfc9162.json", as: Vectors.self)
    static let tampered = load("tampered.json", as: [Tampered].self)

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = Array(hex.utf8).makeIterator()
        while let a = it.next(), let b = it.next() { out.append(Hash.nibble(a)! << 4 | Hash.nibble(b)!) }
        return out
    }

    static let leafHashes: [Hash] = rfc.leaves.map { RFC9162.leafHash(bytes($0)) }
    static let tree = MerkleTree(leafHashes: leafHashes)
}

@Suite("RFC 9162 Merkle tree")
struct RFC9162Tests {
    @Test("roots of every size match the vectors")
    func roots() {
        for (n, root) in Vectors.rfc.roots.enumerated() {
            #expect(Vectors.tree.root(atSize: n).hex == root, "size \(n)")
            #expect(MerkleTree(leafHashes: Array(Vectors.leafHashes.prefix(n))).root.hex == root, "size \(n)")
        }
        #expect(MerkleTree().root == RFC9162.emptyRoot)
        #expect(RFC9162.emptyRoot.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("inclusion proofs equal the vectors and verify")
    func inclusion() {
        #expect(Vectors.rfc.inclusion.count > 200)
        for v in Vectors.rfc.inclusion {
            let ours = Vectors.tree.inclusionProof(for: v.leaf, treeSize: v.size)
            #expect(ours.path.map(\.hex) == v.path, "leaf \(v.leaf) of \(v.size)")
            // The whole-tree fast path gives the same proofs.
            let sub = MerkleTree(leafHashes: Array(Vectors.leafHashes.prefix(v.size)))
            #expect(sub.inclusionProof(for: v.leaf).path.map(\.hex) == v.path)
            #expect(ours.verify(leafHash: Vectors.leafHashes[v.leaf], root: Hash(hex: Vectors.rfc.roots[v.size])!))
        }
    }

    @Test("consistency proofs equal the vectors and verify")
    func consistency() {
        #expect(Vectors.rfc.consistency.count > 150)
        for v in Vectors.rfc.consistency {
            let ours = Vectors.tree.consistencyProof(from: v.old, to: v.new)
            #expect(ours.path.map(\.hex) == v.path, "\(v.old) → \(v.new)")
            #expect(ours.verify(oldRoot: Hash(hex: Vectors.rfc.roots[v.old])!, newRoot: Hash(hex: Vectors.rfc.roots[v.new])!))
        }
    }

    @Test("tampered proofs fail", arguments: Vectors.tampered)
    func tampered(_ t: Vectors.Tampered) {
        let path = t.path.map { Hash(hex: $0)! }
        let roots = Vectors.rfc.roots.map { Hash(hex: $0)! }
        if t.kind == "inclusion" {
            let size = t.size!, leaf = t.leaf!
            let proof = InclusionProof(leafIndex: leaf, treeSize: size, path: path)
            #expect(!proof.verify(leafHash: Vectors.leafHashes[leaf], root: roots[min(size, roots.count - 1)]))
        } else {
            let proof = ConsistencyProof(oldSize: t.old!, newSize: t.new!, path: path)
            #expect(!proof.verify(oldRoot: roots[t.old!], newRoot: roots[min(t.new!, roots.count - 1)]))
        }
    }

    @Test("proof round trips at many tree sizes, and consistency across appends")
    func roundTrips() {
        var tree = MerkleTree()
        var previousRoots: [Hash] = [tree.root]
        var next = 0
        for batch in [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987] {
            tree.append((next..<(next + batch)).map { Hash.sha256(Array("entry \($0)".utf8)) })
            next += batch
            let n = tree.size
            for leaf in Set([0, n / 3, n / 2, n - 1]) {
                let proof = tree.inclusionProof(for: leaf)
                #expect(proof.verify(leafHash: tree.levels[0][leaf], root: tree.root))
                #expect(!proof.verify(leafHash: Hash.sha256([1]), root: tree.root))
            }
            for (old, oldRoot) in previousRoots.enumerated().filter({ $0.offset % 7 == 0 || $0.offset == previousRoots.count - 1 }) {
                let size = old == previousRoots.count - 1 ? tree.size - batch : old
                guard size <= n else { continue }
                let proof = tree.consistencyProof(from: size)
                #expect(proof.verify(oldRoot: tree.root(atSize: size), newRoot: tree.root), "\(size) → \(n)")
                _ = oldRoot
            }
            previousRoots.append(tree.root)
            // Appending gives the same tree as building at once.
            #expect(MerkleTree(leafHashes: tree.levels[0]).root == tree.root)
        }
        #expect(tree.size == 2583)
    }

    @Test("a proof for the wrong tree size or index is malformed, not accepted")
    func malformed() {
        let tree = Vectors.tree
        let proof = tree.inclusionProof(for: 3, treeSize: 10)
        #expect(InclusionProof(leafIndex: 10, treeSize: 10, path: proof.path).root(from: Vectors.leafHashes[3]) == nil)
        #expect(InclusionProof(leafIndex: 3, treeSize: 10, path: proof.path + proof.path).root(from: Vectors.leafHashes[3]) == nil)
        // A genuine proof and root of the 4-leaf tree, presented as a 5-leaf tree: the hashes reach that root, but
        // RFC 9162 requires the size to be used up (sn == 0) as well.
        let four = tree.inclusionProof(for: 0, treeSize: 4)
        #expect(four.verify(leafHash: Vectors.leafHashes[0], root: tree.root(atSize: 4)))
        #expect(!InclusionProof(leafIndex: 0, treeSize: 5, path: four.path).verify(leafHash: Vectors.leafHashes[0], root: tree.root(atSize: 4)))
        // Likewise a genuine consistency proof 3 → 4 presented as 3 → 5 against the size-4 root.
        let threeToFour = tree.consistencyProof(from: 3, to: 4)
        #expect(threeToFour.verify(oldRoot: tree.root(atSize: 3), newRoot: tree.root(atSize: 4)))
        #expect(
            !ConsistencyProof(oldSize: 3, newSize: 5, path: threeToFour.path).verify(oldRoot: tree.root(atSize: 3), newRoot: tree.root(atSize: 4)))
        #expect(!ConsistencyProof(oldSize: 11, newSize: 10, path: []).verify(oldRoot: tree.root(atSize: 11), newRoot: tree.root(atSize: 10)))
        #expect(ConsistencyProof(oldSize: 10, newSize: 10, path: []).verify(oldRoot: tree.root(atSize: 10), newRoot: tree.root(atSize: 10)))
    }
}
