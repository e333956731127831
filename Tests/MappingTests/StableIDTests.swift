import Testing

@testable import Mapping

/// Stable ids against an independent implementation: the expected values are the first 32 hex digits of Python's
/// `hashlib.sha256(f"{type}|{namespace}|{value}".encode())`. Every stored resource's id depends on these bytes, so a
/// faster implementation must give exactly these.
@Suite("stable ids")
struct StableIDTests {
    @Test(
        "SHA-256 over type|namespace|value, first 128 bits in lower-case hex",
        arguments: [
            ("Patient", "HOSP", "A1", "49516788e92926919d7ed9bdf17c0f5e"),
            ("Encounter", "", "", "472978cadec5ede841c37c9afda4a129"),
            (
                "Observation", "urn:oid:2.16.840.1.113883.19.5.99999.1", "OBX-4 sub id|1|with a rather long value over sixteen bytes",
                "33815184a8f70327154fca09f84b8ef1"
            ),
            ("Patient", "Hôpital Sainte-Thérèse", "Ünïcødé-名前", "896476118d17b620e1dc4f17b82ec024"),
        ])
    func vectors(type: String, namespace: String, value: String, expected: String) {
        #expect(StableID.make(type: type, namespace: namespace, value: value) == expected)
        // The same text held in other string forms (a substring's copy, a string built by appending) hashes the same.
        let padded = "[\(namespace)]"
        let fromSubstring = String(padded.dropFirst().dropLast())
        var appended = ""
        for c in value { appended.append(c) }
        #expect(StableID.make(type: type, namespace: fromSubstring, value: appended) == expected)
    }
}
