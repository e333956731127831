import Crypto
import FHIR
import Foundation
import Ledger
import Testing

@Suite("ledgerbridge verify")
struct VerifyCommandTests {
    /// A tree over the canonical hashes of real FHIR records, and a bundle for one of them.
    static func setUp() throws -> (bundle: String, record: String, key: Curve25519.Signing.PrivateKey) {
        let names = ["patient-example", "observation-example", "encounter-example", "condition-example2", "allergyintolerance-medication"]
        var entries: [LedgerEntry] = []
        for (i, name) in names.enumerated() {
            let bytes = Array(FileManager.default.contents(atPath: FHIRCommandTests.fixtures + "/fhir-json/\(name).json")!)
            let resource = try FHIRJSON().parse(bytes)
            entries.append(
                LedgerEntry(
                    resourceType: resource["resourceType"]!.stringValue!, id: resource["id"]!.stringValue!, versionId: "1",
                    recordHash: Hash(hex: FHIRCanonicalForm.sha256Hex(resource))!, storedAt: 1_764_000_000_000 + UInt64(i)))
        }
        let tree = MerkleTree(leafHashes: try entries.map { try $0.leafHash() })
        let key = Curve25519.Signing.PrivateKey()
        let head = try SignedTreeHead.sign(treeSize: UInt64(tree.size), root: tree.root, timestamp: 1_764_000_100_000, with: key)
        let bundle = ProofBundle(entry: entries[0], proof: tree.inclusionProof(for: 0), head: head, publicKey: key.publicKey)
        let json = String(decoding: try JSONEncoder().encode(bundle), as: UTF8.self)
        // The record as an XML copy: the canonical hash does not depend on the rendering.
        let xml = String(decoding: FileManager.default.contents(atPath: FHIRCommandTests.fixtures + "/fhir-xml/patient-example.xml")!, as: UTF8.self)
        return (try HL7ParseCommandTests.writeTemp("bundle.json", json), try HL7ParseCommandTests.writeTemp("patient.xml", xml), key)
    }

    @Test("a genuine bundle and record verify; the XML rendering of the record hashes the same")
    func genuine() throws {
        let (bundle, record, key) = try Self.setUp()
        let keyHex = Hex.encode(Array(key.publicKey.rawRepresentation))
        let result = try HL7ParseCommandTests.run(["verify", bundle, "--record", record, "--key", keyHex])
        #expect(result.status == 0, "\(result.out)\(result.err)")
        #expect(result.out.hasPrefix("ok   record: "))
        #expect(result.out.hasSuffix("verified\n"))
        #expect(!result.out.contains("FAIL"))
    }

    @Test("a changed record, or another key, fails and says which step")
    func failures() throws {
        let (bundle, record, key) = try Self.setUp()
        let changed = try String(contentsOfFile: record, encoding: .utf8).replacingOccurrences(of: "1974-12-25", with: "1974-12-26")
        let changedPath = try HL7ParseCommandTests.writeTemp("changed.xml", changed)
        let tampered = try HL7ParseCommandTests.run(["verify", bundle, "--record", changedPath])
        #expect(tampered.status == 1)
        #expect(tampered.out.contains("FAIL record: the record hashes to"))
        #expect(tampered.out.hasSuffix("NOT verified\n"))
        let other = Hex.encode(Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation))
        let wrongKey = try HL7ParseCommandTests.run(["verify", bundle, "--key", other])
        #expect(wrongKey.status == 1 && wrongKey.out.contains("FAIL signature"))
        _ = key
        let notABundle = try HL7ParseCommandTests.run(["verify", record])
        #expect(notABundle.status != 0 && notABundle.err.contains("not a proof bundle"))
    }
}
