import Crypto

/// Resource ids derived from business identifiers, so that a resend or a later update for the same patient, visit or
/// order addresses the same resource instead of creating a duplicate.
///
/// id = the first 32 hex digits of SHA-256 over `type|namespace|value` (UTF-8), where the namespace is the identifier's
/// assigning authority (or, when the message names none, the sender). 128 bits: collisions are not a practical concern,
/// and the id says nothing about the patient. Documented in docs/ARCHITECTURE.md (seam 2).
public enum StableID {
    public static func make(type: String, namespace: String, value: String) -> String {
        var hasher = SHA256()
        var type = type, namespace = namespace, value = value
        type.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        hasher.update(data: [0x7C])
        namespace.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        hasher.update(data: [0x7C])
        value.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        let digest = hasher.finalize()
        return String(unsafeUninitializedCapacity: 32) { out in
            var i = 0
            for byte in digest.prefix(16) {
                out[i] = hexDigits[Int(byte >> 4)]
                out[i + 1] = hexDigits[Int(byte & 0x0F)]
                i += 2
            }
            return 32
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
