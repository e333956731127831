/// One stored record version, as the ledger logs it (docs/ledger.md): the record's type, id and version, its
/// record hash (SHA-256 of the canonical form) and when it was stored.
public struct LedgerEntry: Sendable, Hashable {
    public var resourceType: String
    public var id: String
    public var versionId: String
    public var recordHash: Hash
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var storedAt: UInt64

    public static let formatVersion: UInt8 = 1

    public enum EncodingError: Error, Sendable, Hashable {
        case fieldTooLong(String)
        case malformed(String)
    }

    public init(resourceType: String, id: String, versionId: String, recordHash: Hash, storedAt: UInt64) {
        self.resourceType = resourceType
        self.id = id
        self.versionId = versionId
        self.recordHash = recordHash
        self.storedAt = storedAt
    }

    /// `01 ‖ u8 len ‖ type ‖ u8 len ‖ id ‖ u8 len ‖ versionId ‖ record hash (32) ‖ storedAt (u64 big-endian)`.
    public func encoded() throws(EncodingError) -> [UInt8] {
        var out: [UInt8] = [Self.formatVersion]
        for (name, text) in [("resourceType", resourceType), ("id", id), ("versionId", versionId)] {
            let bytes = Array(text.utf8)
            guard !bytes.isEmpty, bytes.count <= 255 else { throw .fieldTooLong(name) }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out += recordHash.array
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: storedAt >> UInt64(shift))) }
        return out
    }

    public init(decoding bytes: [UInt8]) throws(EncodingError) {
        var i = 0
        func take(_ n: Int, _ what: String) throws(EncodingError) -> ArraySlice<UInt8> {
            guard i + n <= bytes.count else { throw .malformed("the entry ends inside \(what)") }
            defer { i += n }
            return bytes[i..<(i + n)]
        }
        guard try take(1, "the format version").first == Self.formatVersion else { throw .malformed("unknown entry format version") }
        var texts: [String] = []
        for what in ["resourceType", "id", "versionId"] {
            let n = Int(try take(1, what).first!)
            texts.append(String(decoding: try take(n, what), as: UTF8.self))
        }
        let hash = Hash(try take(32, "the record hash"))!
        var storedAt: UInt64 = 0
        for b in try take(8, "the time") { storedAt = storedAt << 8 | UInt64(b) }
        guard i == bytes.count else { throw .malformed("bytes after the entry") }
        self.init(resourceType: texts[0], id: texts[1], versionId: texts[2], recordHash: hash, storedAt: storedAt)
    }

    /// The leaf hash: SHA-256(0x00 ‖ encoded entry).
    public func leafHash() throws(EncodingError) -> Hash {
        RFC9162.leafHash(try encoded())
    }
}
