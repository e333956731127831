import Crypto

/// The one byte form of a resource that Ledgerbridge hashes (docs/canonical-form.md).
///
/// JSON with members sorted by key (UTF-16 code units, as RFC 8785), no insignificant white space, numbers exactly as
/// written, strings escaped minimally, and the resource's own `meta.versionId` and `meta.lastUpdated` left out (with
/// `meta` itself when nothing else is in it). A resource read from XML and the same resource read from JSON have the
/// same canonical form, because both readers build the same element model.
public enum FHIRCanonicalForm {
    public static func bytes(_ resource: JSONObject) -> [UInt8] {
        var r = resource
        if case .object(var meta)? = r["meta"] {
            meta["versionId"] = nil
            meta["lastUpdated"] = nil
            r["meta"] = meta.count == 0 ? nil : .object(meta)
        }
        return JSONWriter(style: .canonical).write(.object(r))
    }

    /// SHA-256 of the canonical form: the record hash the ledger anchors.
    public static func sha256(_ resource: JSONObject) -> [UInt8] {
        Array(SHA256.hash(data: bytes(resource)))
    }

    /// The record hash as lower-case hex.
    public static func sha256Hex(_ resource: JSONObject) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in sha256(resource) {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
