import Crypto

/// A SHA-256 value: a tree node, a leaf hash, a record hash.
public struct Hash: Sendable, Hashable, CustomStringConvertible {
    public var bytes: (UInt64, UInt64, UInt64, UInt64)

    public init(_ digest: SHA256.Digest) {
        var b: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        digest.withUnsafeBytes { raw in withUnsafeMutableBytes(of: &b) { $0.copyMemory(from: raw) } }
        bytes = b
    }

    /// From 32 bytes; `nil` for another length.
    public init?(_ raw: some Collection<UInt8>) {
        guard raw.count == 32 else { return nil }
        var b: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &b) { dst in
            for (i, byte) in raw.enumerated() { dst[i] = byte }
        }
        bytes = b
    }

    /// From 64 hex digits.
    public init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count == 64 else { return nil }
        var raw: [UInt8] = []
        raw.reserveCapacity(32)
        var i = 0
        while i < 64 {
            guard let hi = Self.nibble(chars[i]), let lo = Self.nibble(chars[i + 1]) else { return nil }
            raw.append(hi << 4 | lo)
            i += 2
        }
        self.init(raw)
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }

    public var array: [UInt8] { withUnsafeBytes(of: bytes) { Array($0) } }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        withUnsafeBytes(of: bytes) { raw in
            for b in raw {
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func == (a: Hash, b: Hash) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2 && a.bytes.3 == b.bytes.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.0)
        hasher.combine(bytes.1)
    }

    /// SHA-256 of arbitrary bytes.
    public static func sha256(_ data: [UInt8]) -> Hash {
        data.withUnsafeBytes { Hash(SHA256.hash(data: $0)) }
    }
}

/// The hashes of RFC 9162 section 2.1.1: leaves and interior nodes with domain-separation prefixes.
public enum RFC9162 {
    /// SHA-256(0x00 ‖ entry).
    public static func leafHash(_ entry: some Collection<UInt8>) -> Hash {
        var h = SHA256()
        withUnsafeBytes(of: UInt8(0x00)) { h.update(bufferPointer: $0) }
        if entry.withContiguousStorageIfAvailable({ h.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
            Array(entry).withUnsafeBytes { h.update(bufferPointer: $0) }
        }
        return Hash(h.finalize())
    }

    /// SHA-256(0x01 ‖ left ‖ right).
    @inline(__always)
    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buf in
            buf[0] = 0x01
            withUnsafeBytes(of: left.bytes) { UnsafeMutableRawBufferPointer(rebasing: buf[1..<33]).copyMemory(from: $0) }
            withUnsafeBytes(of: right.bytes) { UnsafeMutableRawBufferPointer(rebasing: buf[33..<65]).copyMemory(from: $0) }
            return Hash(SHA256.hash(data: UnsafeRawBufferPointer(buf)))
        }
    }

    /// The hash of an empty tree: SHA-256 of nothing.
    public static let emptyRoot = Hash.sha256([UInt8]())

    /// The largest power of two smaller than `n` (n > 1).
    @inline(__always)
    static func split(_ n: Int) -> Int {
        1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
    }
}
