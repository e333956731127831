import Crypto

/// Resource ids derived from business identifiers, so that a resend or a later update for the same patient, visit or
/// order addresses the same resource instead of creating a duplicate.
///
/// id = the first 32 hex digits of SHA-256 over `type|namespace|value` (UTF-8), where the namespace is the identifier's
/// assigning authority (or, when the message names none, the sender). 128 bits: collisions are not a practical concern,
/// and the id says nothing about the patient. Documented in docs/ARCHITECTURE.md (seam 2).
public enum StableID {
    public static func make(type: String, namespace: String, value: String) -> String {
        // One contiguous input and one update: a message makes about 35 ids, and the per-call overhead of the hasher
        // (and of hex through the digest's generic iterator) had cost more than hashing itself.
        let t = type.utf8, n = namespace.utf8, v = value.utf8
        let count = t.count + n.count + v.count + 2
        let digest = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { input -> SHA256.Digest in
            var at = input.initialize(fromContentsOf: t)
            input[at] = 0x7C
            at += 1
            at += UnsafeMutableBufferPointer(rebasing: input[at...]).initialize(fromContentsOf: n)
            input[at] = 0x7C
            at += 1
            _ = UnsafeMutableBufferPointer(rebasing: input[at...]).initialize(fromContentsOf: v)
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(input))
            return hasher.finalize()
        }
        return digest.withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: 32) { out in
                for i in 0..<16 {
                    let byte = bytes[i]
                    out[2 * i] = hexDigit(byte >> 4)
                    out[2 * i + 1] = hexDigit(byte & 0x0F)
                }
                return 32
            }
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
}
