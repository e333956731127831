import Crypto

/// A tree head (size, root, time) and the gateway's Ed25519 signature over it.
public struct SignedTreeHead: Sendable, Hashable {
    public var treeSize: UInt64
    public var root: Hash
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var timestamp: UInt64
    /// Ed25519 signature (64 bytes) over ``signedBytes``.
    public var signature: [UInt8]
    /// SHA-256 of the raw 32-byte public key.
    public var keyID: Hash

    static let context = Array("ledgerbridge/tree-head/v1\n".utf8)

    public init(treeSize: UInt64, root: Hash, timestamp: UInt64, signature: [UInt8], keyID: Hash) {
        self.treeSize = treeSize
        self.root = root
        self.timestamp = timestamp
        self.signature = signature
        self.keyID = keyID
    }

    /// `"ledgerbridge/tree-head/v1\n" ‖ size (u64 BE) ‖ root (32) ‖ timestamp (u64 BE)`: what is signed.
    public static func signedBytes(treeSize: UInt64, root: Hash, timestamp: UInt64) -> [UInt8] {
        var out = context
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: treeSize >> UInt64(shift))) }
        out += root.array
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: timestamp >> UInt64(shift))) }
        return out
    }

    public var signedBytes: [UInt8] { Self.signedBytes(treeSize: treeSize, root: root, timestamp: timestamp) }

    /// Signs a tree head.
    public static func sign(treeSize: UInt64, root: Hash, timestamp: UInt64, with key: Curve25519.Signing.PrivateKey) throws -> SignedTreeHead {
        let signature = try key.signature(for: signedBytes(treeSize: treeSize, root: root, timestamp: timestamp))
        return SignedTreeHead(
            treeSize: treeSize, root: root, timestamp: timestamp, signature: Array(signature),
            keyID: Hash.sha256(Array(key.publicKey.rawRepresentation)))
    }

    /// Whether the signature is valid for this public key (and the key id names it).
    public func verify(with publicKey: Curve25519.Signing.PublicKey) -> Bool {
        keyID == Hash.sha256(Array(publicKey.rawRepresentation)) && publicKey.isValidSignature(signature, for: signedBytes)
    }
}
