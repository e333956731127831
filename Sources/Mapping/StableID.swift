import Crypto

/// Resource ids derived from business identifiers, so that a resend or a later update for the same patient, visit or
/// order addresses the same resource instead of creating a duplicate.
///
/// id = the first 32 hex digits of SHA-256 over `type|namespace|value` (UTF-8), where the namespace is the identifier's
/// assigning authority (or, when the message names none, the sender). 128 bits: collisions are not a practical concern,
/// and the id says nothing about the patient. Documented in docs/ARCHITECTURE.md (seam 2).
public enum StableID {
    public static func make(type: String, namespace: String, value: String) -> String {
        let digest = SHA256.hash(data: Array("\(type)|\(namespace)|\(value)".utf8))
        var hex = ""
        hex.reserveCapacity(32)
        for byte in digest.prefix(16) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        return hex
    }

    private static let hexDigits = Array("0123456789abcdef")
}
