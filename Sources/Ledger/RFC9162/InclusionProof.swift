/// An inclusion proof (RFC 9162 section 2.1.3): the audit path from a leaf to the root of a tree of a given size.
public struct InclusionProof: Sendable, Hashable {
    public var leafIndex: Int
    public var treeSize: Int
    /// Sibling hashes from the leaf upwards.
    public var path: [Hash]

    public init(leafIndex: Int, treeSize: Int, path: [Hash]) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.path = path
    }

    /// The root this proof leads to from `leafHash` (RFC 9162 section 2.1.3.2), or `nil` when the proof is malformed.
    public func root(from leafHash: Hash) -> Hash? {
        guard leafIndex >= 0, leafIndex < treeSize else { return nil }
        var fn = leafIndex, sn = treeSize - 1
        var r = leafHash
        for p in path {
            guard sn != 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = RFC9162.nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = RFC9162.nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }

    /// Whether `leafHash` is the leaf at `leafIndex` of the tree with this `root`.
    public func verify(leafHash: Hash, root: Hash) -> Bool {
        self.root(from: leafHash) == root
    }
}

/// A consistency proof (RFC 9162 section 2.1.4): that the tree of `newSize` leaves extends the tree of `oldSize`.
public struct ConsistencyProof: Sendable, Hashable {
    public var oldSize: Int
    public var newSize: Int
    public var path: [Hash]

    public init(oldSize: Int, newSize: Int, path: [Hash]) {
        self.oldSize = oldSize
        self.newSize = newSize
        self.path = path
    }

    /// RFC 9162 section 2.1.4.2.
    public func verify(oldRoot: Hash, newRoot: Hash) -> Bool {
        guard oldSize >= 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return path.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return path.isEmpty }
        guard !path.isEmpty else { return false }
        var proof = path
        if oldSize & (oldSize - 1) == 0 { proof.insert(oldRoot, at: 0) }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = proof[0], sr = proof[0]
        for c in proof.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = RFC9162.nodeHash(c, fr)
                sr = RFC9162.nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = RFC9162.nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}
