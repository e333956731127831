import Crypto

/// A self-contained proof that a record version is in the ledger (docs/ledger.md, "Proof bundle"): the entry, its
/// leaf index, the inclusion path, and the signed tree head with the gateway's public key. Anchor receipts are
/// carried as they came from each backend. All binary values are lower-case hex.
public struct ProofBundle: Sendable, Hashable, Codable {
    public static let formatName = "ledgerbridge-proof-bundle/v1"

    public struct Entry: Sendable, Hashable, Codable {
        public var resourceType: String
        public var id: String
        public var versionId: String
        public var recordHash: String
        public var storedAt: UInt64
    }

    public struct TreeHead: Sendable, Hashable, Codable {
        public var treeSize: UInt64
        public var root: String
        public var timestamp: UInt64
        public var signature: String
        public var keyID: String
        /// The gateway's Ed25519 public key (32 bytes, hex), also served at /ledger/key.
        public var publicKey: String

        /// The head as signed; nil when a value is not valid hex.
        public var signed: SignedTreeHead? {
            guard let root = Hash(hex: root), let key = Hash(hex: keyID), let signature = Hex.decode(signature) else { return nil }
            return SignedTreeHead(treeSize: treeSize, root: root, timestamp: timestamp, signature: signature, keyID: key)
        }
    }

    public var format: String
    public var entry: Entry
    public var leafIndex: UInt64
    public var inclusionPath: [String]
    public var treeHead: TreeHead
    /// What each configured ledger backend holds for this tree head (absent in bundles made before anchoring).
    public var anchors: [AnchorReceipt]?

    /// Assembles a bundle from the ledger's values.
    public init(
        entry: LedgerEntry, proof: InclusionProof, head: SignedTreeHead, publicKey: Curve25519.Signing.PublicKey, anchors: [AnchorReceipt] = []
    ) {
        format = Self.formatName
        self.anchors = anchors
        self.entry = Entry(
            resourceType: entry.resourceType, id: entry.id, versionId: entry.versionId, recordHash: entry.recordHash.hex, storedAt: entry.storedAt)
        leafIndex = UInt64(proof.leafIndex)
        inclusionPath = proof.path.map(\.hex)
        treeHead = TreeHead(
            treeSize: head.treeSize, root: head.root.hex, timestamp: head.timestamp, signature: Hex.encode(head.signature),
            keyID: head.keyID.hex, publicKey: Hex.encode(Array(publicKey.rawRepresentation)))
    }
}

/// One backend's receipt for a tree head (docs/ledger.md, "Anchor receipts"). Which fields are set depends on `type`.
public struct AnchorReceipt: Sendable, Hashable, Codable {
    /// The backend's configured name.
    public var backend: String
    /// `local`, `ethereum` or `rfc3161`.
    public var type: String
    /// `anchored`, or `pending` / `submitted` while the backend has not confirmed yet.
    public var status: String
    public var anchoredAt: UInt64?

    // local: the line appended to the checkpoint file, and where.
    public var checkpointFile: String?
    public var checkpointOffset: UInt64?

    // ethereum: the transaction whose data is the tree head's signed bytes.
    public var chainId: String?
    public var txHash: String?
    public var blockNumber: UInt64?
    public var blockHash: String?
    public var from: String?
    public var to: String?
    public var confirmations: Int?
    /// While sending: the block from which a retry looks for an earlier attempt whose answer was lost.
    public var scanFromBlock: UInt64?

    // rfc3161: the time-stamp token (DER, base64) over the tree head's root.
    public var tsaURL: String?
    public var token: String?
    public var genTime: String?
    public var serialNumber: String?
    public var policy: String?

    public init(backend: String, type: String, status: String) {
        self.backend = backend
        self.type = type
        self.status = status
    }
}

extension SignedTreeHead {
    /// What an Ethereum anchor carries as its transaction data: the tree head's signed bytes (context, size, root,
    /// timestamp), so the transaction names the head by itself.
    public var anchorPayload: [UInt8] { signedBytes }
}

/// The checks of a proof bundle, in order; each says whether it held and why not.
public struct ProofBundleVerification: Sendable {
    public struct Step: Sendable, Hashable {
        public var name: String
        public var passed: Bool
        public var detail: String

        public init(name: String, passed: Bool, detail: String) {
            self.name = name
            self.passed = passed
            self.detail = detail
        }
    }

    public var steps: [Step] = []
    public var passed: Bool { !steps.isEmpty && steps.allSatisfy(\.passed) }

    /// Verifies a bundle offline.
    /// - Parameters:
    ///   - recordHash: the canonical SHA-256 recomputed from the record itself, when the caller has the record.
    ///   - trustedKey: the gateway key the caller trusts; without it the bundle's own key is used (and said so).
    public init(_ bundle: ProofBundle, recordHash: Hash? = nil, trustedKey: Curve25519.Signing.PublicKey? = nil) {
        func step(_ name: String, _ passed: Bool, _ detail: String) { steps.append(Step(name: name, passed: passed, detail: detail)) }
        guard bundle.format == ProofBundle.formatName else {
            step("format", false, "not a \(ProofBundle.formatName) bundle")
            return
        }
        guard let claimedHash = Hash(hex: bundle.entry.recordHash), let root = Hash(hex: bundle.treeHead.root),
            let keyID = Hash(hex: bundle.treeHead.keyID), let path = Optional(bundle.inclusionPath.compactMap(Hash.init(hex:))),
            path.count == bundle.inclusionPath.count, let signature = Hex.decode(bundle.treeHead.signature),
            let keyBytes = Hex.decode(bundle.treeHead.publicKey)
        else {
            step("format", false, "a hash, signature or key is not valid hex of the right length")
            return
        }
        if let recordHash {
            step(
                "record", recordHash == claimedHash,
                recordHash == claimedHash
                    ? "the record's canonical SHA-256 is the entry's record hash"
                    : "the record hashes to \(recordHash.hex), the entry says \(claimedHash.hex): the record was changed")
        }
        let entry = LedgerEntry(
            resourceType: bundle.entry.resourceType, id: bundle.entry.id, versionId: bundle.entry.versionId, recordHash: claimedHash,
            storedAt: bundle.entry.storedAt)
        guard let leaf = try? entry.leafHash() else {
            step("entry", false, "the entry cannot be encoded (a field is empty or longer than 255 bytes)")
            return
        }
        step("entry", true, "leaf hash \(leaf.hex)")
        let proof = InclusionProof(leafIndex: Int(bundle.leafIndex), treeSize: Int(bundle.treeHead.treeSize), path: path)
        let included = proof.verify(leafHash: leaf, root: root)
        step(
            "inclusion", included,
            included
                ? "leaf \(bundle.leafIndex) is in the tree of \(bundle.treeHead.treeSize) entries with root \(root.hex)"
                : "the inclusion path does not lead from the leaf to the tree head's root")
        guard let bundleKey = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes) else {
            step("signature", false, "the public key is not an Ed25519 key")
            return
        }
        let key = trustedKey ?? bundleKey
        let head = SignedTreeHead(
            treeSize: bundle.treeHead.treeSize, root: root, timestamp: bundle.treeHead.timestamp, signature: signature, keyID: keyID)
        let signed = head.verify(with: key)
        let whose = trustedKey == nil ? "the bundle's own key (pass a trusted key to pin the gateway)" : "the trusted key"
        step("signature", signed, signed ? "the tree head is signed by \(whose)" : "the tree head's signature does not verify with \(whose)")
    }
}

/// Lower-case hex.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = Hash.nibble(chars[i]), let lo = Hash.nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
