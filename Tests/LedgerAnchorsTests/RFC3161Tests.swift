import Foundation
import Ledger
import LedgerAnchors
import Store
import TestSupport
import Testing
import X509

@Suite("RFC 3161 time stamps against openssl ts")
struct RFC3161Tests {
    @Test("our request is what OpenSSL reads: SHA-256 imprint, nonce, certificate requested")
    func request() throws {
        let directory = try temporaryDirectory("tsq")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let imprint = Hash.sha256(Array("root".utf8))
        let der = try RFC3161.request(imprint: imprint.array, nonce: 0x1234_5678)
        try Data(der).write(to: URL(fileURLWithPath: directory + "/q.tsq"))
        let text = try Subprocess.run("/usr/bin/openssl", ["ts", "-query", "-in", directory + "/q.tsq", "-text"]).output
        #expect(text.contains("Hash Algorithm: sha256"))
        #expect(
            text.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "-", with: "").lowercased().contains(String(imprint.hex.prefix(16)))
        )
        #expect(text.contains("Nonce: 0x12345678"))
        #expect(text.contains("Certificate required: yes"))
    }

    @Test("a token from a real TSA verifies; another TSA's certificate, another root or a changed byte does not", arguments: ["ec", "rsa"])
    func tokens(keyType: String) async throws {
        let directory = try temporaryDirectory("tsa")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try TSAPeer(directory: directory + "/one", keyType: keyType)
        let other = try TSAPeer(directory: directory + "/two", keyType: keyType)
        defer {
            tsa.stop()
            other.stop()
        }
        let backend = try RFC3161Backend(configuration: .init(url: tsa.url, certificate: tsa.certificatePath))
        let root = Hash.sha256(Array("tree".utf8))
        let head = SignedTreeHead(treeSize: 1, root: root, timestamp: 1, signature: [], keyID: root)
        guard case .anchored(let receipt) = try await backend.advance(head: head, state: .pending, previous: nil) else {
            Issue.record("not anchored")
            return
        }
        #expect(receipt.genTime?.hasSuffix("Z") == true && receipt.policy == "1.3.6.1.4.1.4146.2.3")
        let base64 = try #require(receipt.token)
        let der = Array(try #require(Data(base64Encoded: base64)))
        let token = try RFC3161.parseToken(der)
        let mine = try RFC3161Backend.loadCertificate(tsa.certificatePath)
        let theirs = try RFC3161Backend.loadCertificate(other.certificatePath)
        try RFC3161.verify(token, imprint: root.array, certificate: mine)
        #expect(throws: RFC3161.TSAError.self) { try RFC3161.verify(token, imprint: root.array, certificate: theirs) }
        #expect(throws: RFC3161.TSAError.self) { try RFC3161.verify(token, imprint: Hash.sha256([1]).array, certificate: mine) }
        // Change one byte of the signed TSTInfo (a digit of its GeneralizedTime, "2026…"; the certificate's own
        // times are UTCTime, "26…"): the signed digest no longer matches.
        var altered = der
        let year = Array("20".utf8) + Array(String(token.genTime.prefix(4)).utf8).suffix(2)
        let at = try #require(altered.indices.dropLast(4).first { Array(altered[$0..<($0 + 4)]) == year })
        altered[at + 3] ^= 0x01
        #expect(throws: RFC3161.TSAError.self) { try RFC3161.verify(try RFC3161.parseToken(altered), imprint: root.array, certificate: mine) }
        // A TSA that is down is a retryable failure, not a crash.
        tsa.stop()
        await #expect(throws: AnchorBackendError.self) { try await backend.advance(head: head, state: .pending, previous: nil) }
    }
}
