/// An append-only Merkle tree over leaf hashes, as RFC 9162 section 2.1 defines it, kept level by level so that
/// any subtree hash, inclusion proof or consistency proof is read off without rehashing.
///
/// Level 0 holds the leaf hashes; level l+1 pairs the nodes of level l, and an unpaired last node is carried up
/// unchanged, which gives exactly RFC 9162's MTH (split at the largest power of two below the size).
public struct MerkleTree: Sendable {
    public private(set) var levels: [[Hash]] = [[]]

    public init() {}

    /// Builds the tree over these leaf hashes.
    public init(leafHashes: [Hash]) {
        levels = [leafHashes]
        rebuildUpperLevels(from: 0)
    }

    /// The number of leaves.
    public var size: Int { levels[0].count }

    /// MTH of the whole tree (SHA-256 of nothing when empty).
    public var root: Hash {
        guard size > 0 else { return RFC9162.emptyRoot }
        return levels[levels.count - 1][0]
    }

    /// Appends leaves and updates the nodes above them.
    public mutating func append(_ leafHashes: [Hash]) {
        guard !leafHashes.isEmpty else { return }
        let old = size
        levels[0].append(contentsOf: leafHashes)
        rebuildUpperLevels(from: old)
    }

    /// Recomputes every node that covers a leaf at index `firstChanged` or later.
    private mutating func rebuildUpperLevels(from firstChanged: Int) {
        var level = 0
        var changed = firstChanged
        while levels[level].count > 1 {
            let below = levels[level]
            let count = (below.count + 1) / 2
            if levels.count == level + 1 { levels.append([]) }
            // Take the level out so it is uniquely referenced and grows in place (no copy per append).
            var above: [Hash] = []
            swap(&above, &levels[level + 1])
            let start = min(changed / 2, above.count)
            above.removeSubrange(start...)
            // Grow geometrically: reserving the exact size on every append would copy the level each time.
            if above.capacity < count { above.reserveCapacity(max(count, above.capacity * 2)) }
            below.withUnsafeBufferPointer { b in
                var j = start
                while j < count {
                    let l = 2 * j
                    above.append(l + 1 < b.count ? RFC9162.nodeHash(b[l], b[l + 1]) : b[l])
                    j += 1
                }
            }
            levels[level + 1] = above
            changed = start
            level += 1
        }
        levels.removeSubrange((level + 1)...)
    }

    /// MTH(D[a:b]) for a range of the current leaves.
    public func subtreeHash(_ range: Range<Int>) -> Hash {
        precondition(range.upperBound <= size && !range.isEmpty)
        let n = range.count
        if n & (n - 1) == 0, range.lowerBound % n == 0 {
            let l = n.trailingZeroBitCount
            return levels[l][range.lowerBound >> l]
        }
        let k = RFC9162.split(n)
        return RFC9162.nodeHash(subtreeHash(range.lowerBound..<(range.lowerBound + k)), subtreeHash((range.lowerBound + k)..<range.upperBound))
    }

    /// The root of the tree as it was at `treeSize` leaves.
    public func root(atSize treeSize: Int) -> Hash {
        treeSize == 0 ? RFC9162.emptyRoot : subtreeHash(0..<treeSize)
    }

    /// PATH(m, D[0:n]) for leaf `index` in the tree of `treeSize` leaves (default: the whole tree).
    public func inclusionProof(for index: Int, treeSize: Int? = nil) -> InclusionProof {
        let n = treeSize ?? size
        precondition(index >= 0 && index < n && n <= size)
        var path: [Hash] = []
        path.reserveCapacity(Int.bitWidth - n.leadingZeroBitCount)
        if n == size {
            // The whole tree: siblings straight off the levels.
            var i = index
            for level in levels.dropLast() {
                let sibling = i ^ 1
                if sibling < level.count { path.append(level[sibling]) }
                i >>= 1
            }
        } else {
            appendPath(index, 0..<n, into: &path)
        }
        return InclusionProof(leafIndex: index, treeSize: n, path: path)
    }

    private func appendPath(_ m: Int, _ range: Range<Int>, into path: inout [Hash]) {
        guard range.count > 1 else { return }
        let k = RFC9162.split(range.count)
        let mid = range.lowerBound + k
        if m < mid {
            appendPath(m, range.lowerBound..<mid, into: &path)
            path.append(subtreeHash(mid..<range.upperBound))
        } else {
            appendPath(m, mid..<range.upperBound, into: &path)
            path.append(subtreeHash(range.lowerBound..<mid))
        }
    }

    /// PROOF(m, D[0:n]) between the tree at `oldSize` and at `newSize` leaves (default: the whole tree).
    public func consistencyProof(from oldSize: Int, to newSize: Int? = nil) -> ConsistencyProof {
        let n = newSize ?? size
        precondition(oldSize >= 0 && oldSize <= n && n <= size)
        var path: [Hash] = []
        if oldSize > 0 && oldSize < n { appendSubproof(oldSize, 0..<n, complete: true, into: &path) }
        return ConsistencyProof(oldSize: oldSize, newSize: n, path: path)
    }

    private func appendSubproof(_ m: Int, _ range: Range<Int>, complete: Bool, into path: inout [Hash]) {
        if m == range.count {
            if !complete { path.append(subtreeHash(range)) }
            return
        }
        let k = RFC9162.split(range.count)
        let mid = range.lowerBound + k
        if m <= k {
            appendSubproof(m, range.lowerBound..<mid, complete: complete, into: &path)
            path.append(subtreeHash(mid..<range.upperBound))
        } else {
            appendSubproof(m - k, mid..<range.upperBound, complete: false, into: &path)
            path.append(subtreeHash(range.lowerBound..<mid))
        }
    }
}
