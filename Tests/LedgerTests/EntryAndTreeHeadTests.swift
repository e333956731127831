import Crypto
import Testing

@testable import Ledger

@Suite("Ledger entries and signed tree heads")
struct EntryAndTreeHeadTests {
    static let entry = LedgerEntry(
        resourceType: "Patient", id: "p1", versionId: "2",
        recordHash: Hash(hex: "65487d3236c8284e0156809949f0ea5ec0d6240f862b1e55a39db128a67aadcd")!, storedAt: 1_764_000_000_123)

    @Test("the entry encoding, byte for byte, and back")
    func encoding() throws {
        let bytes = try Self.entry.encoded()
        let expectedHex =
            "01" + "07" + "50617469656e74" + "02" + "7031" + "01" + "32"
            + "65487d3236c8284e0156809949f0ea5ec0d6240f862b1e55a39db128a67aadcd" + "0000019ab697e87b"
        #expect(bytes.map { String($0, radix: 16).leftPadded(2) }.joined() == expectedHex)
        #expect(try LedgerEntry(decoding: bytes) == Self.entry)
        #expect(try Self.entry.leafHash() == RFC9162.leafHash(bytes))
        #expect(throws: LedgerEntry.EncodingError.self) { try LedgerEntry(decoding: Array(bytes.dropLast())) }
        #expect(throws: LedgerEntry.EncodingError.self) { try LedgerEntry(decoding: bytes + [0]) }
        var long = Self.entry
        long.id = String(repeating: "x", count: 256)
        #expect(throws: LedgerEntry.EncodingError.self) { try long.encoded() }
    }

    @Test("tree heads: signed, verified, and refused when anything changes")
    func signedTreeHead() throws {
        let key = Curve25519.Signing.PrivateKey()
        let tree = Vectors.tree
        let head = try SignedTreeHead.sign(treeSize: UInt64(tree.size), root: tree.root, timestamp: 1_764_000_000_000, with: key)
        #expect(head.signature.count == 64)
        #expect(head.verify(with: key.publicKey))
        #expect(!head.verify(with: Curve25519.Signing.PrivateKey().publicKey))
        var changed = head
        changed.treeSize += 1
        #expect(!changed.verify(with: key.publicKey))
        changed = head
        changed.root = tree.root(atSize: 3)
        #expect(!changed.verify(with: key.publicKey))
        changed = head
        changed.timestamp += 1
        #expect(!changed.verify(with: key.publicKey))
        changed = head
        changed.signature[10] ^= 1
        #expect(!changed.verify(with: key.publicKey))
        #expect(head.signedBytes.count == 26 + 8 + 32 + 8)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
