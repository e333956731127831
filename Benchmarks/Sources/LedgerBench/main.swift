// Builds the ledger for N entries (leaf hashing, the RFC 9162 tree, every inclusion proof) and verifies proofs.
// Prints one JSON object; Benchmarks/ledger/run.sh runs it beside `openssl speed` and reports.
import Glibc
import Ledger

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let n = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 1_000_000
let runs = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 5

// Entries as the store will log them: FHIR type, a 36-character id, a version, a record hash, a time.
let entries: [[UInt8]] = (0..<n).map { i in
    let id = "00000000-0000-4000-8000-" + String(String(i, radix: 16).reversed()).padding(12)
    let entry = LedgerEntry(
        resourceType: i % 3 == 0 ? "Patient" : "Observation", id: id, versionId: String(1 + i % 4),
        recordHash: Hash.sha256(Array("record \(i)".utf8)), storedAt: 1_764_000_000_000 + UInt64(i))
    return try! entry.encoded()
}
let entryBytes = entries.reduce(0) { $0 + $1.count }

var buildTimes: [Double] = [], leafTimes: [Double] = [], proofTimes: [Double] = []
var tree = MerkleTree()
var checksum = 0
for _ in 0..<runs {
    let t0 = now()
    let leaves = entries.map { RFC9162.leafHash($0) }
    let t1 = now()
    tree = MerkleTree(leafHashes: leaves)
    let t2 = now()
    var pathHashes = 0
    for i in 0..<n { pathHashes += tree.inclusionProof(for: i).path.count }
    let t3 = now()
    checksum &+= pathHashes
    leafTimes.append(t1 - t0)
    buildTimes.append(t2 - t1)
    proofTimes.append(t3 - t2)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

// Verification: random proofs against the root.
let root = tree.root
var rng = SystemRandomNumberGenerator()
let samples = (0..<100_000).map { _ in Int.random(in: 0..<n, using: &rng) }
let proofs = samples.map { tree.inclusionProof(for: $0) }
var verified = 0
let v0 = now()
for (k, proof) in proofs.enumerated() where proof.verify(leafHash: tree.levels[0][samples[k]], root: root) { verified += 1 }
let verifySeconds = (now() - v0) / Double(proofs.count)
precondition(verified == proofs.count)

// Bytes hashed to build the tree: every leaf (0x00 ‖ entry) and every interior node (0x01 ‖ left ‖ right).
let nodes = n - 1
let hashedBytes = entryBytes + n + nodes * 65
let total = median(leafTimes) + median(buildTimes) + median(proofTimes)
print(
    "{\"entries\":\(n),\"leafSeconds\":\(median(leafTimes)),\"treeSeconds\":\(median(buildTimes)),\"proofSeconds\":\(median(proofTimes)),"
        + "\"totalSeconds\":\(total),\"hashedBytes\":\(hashedBytes),\"hashCalls\":\(n + nodes),\"verifySeconds\":\(verifySeconds),\"checksum\":\(checksum)}"
)

extension String {
    func padding(_ n: Int) -> String { count >= n ? String(prefix(n)) : String(repeating: "0", count: n - count) + self }
}

// Appending in anchoring-sized batches (1,000 entries) to the tree: the cost must not grow with the tree.
var growing = MerkleTree(leafHashes: Array(tree.levels[0].prefix(n / 2)))
let a0 = now()
var appended = 0
while appended < 100_000 && n / 2 + appended + 1_000 <= n {
    growing.append(Array(tree.levels[0][(n / 2 + appended)..<(n / 2 + appended + 1_000)]))
    appended += 1_000
}
let appendSeconds = now() - a0
print("{\"appendedEntries\":\(appended),\"appendSeconds\":\(appendSeconds)}")
