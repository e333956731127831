import Foundation
import Ledger
import Store
import SwiftASN1
import X509

/// Anchors tree heads with an RFC 3161 Time-Stamp Authority over HTTP (`application/timestamp-query`): the root is
/// the message imprint; the answer's status, imprint, nonce and signature (against the configured TSA certificate)
/// are checked before the token is kept as the receipt.
public struct RFC3161Backend: AnchorBackend {
    public struct Configuration: Sendable, Hashable, Codable {
        public var url: String
        /// The TSA's certificate (PEM file): tokens must verify with its key.
        public var certificate: String
        /// A TSA policy OID to ask for; the TSA's default when unset.
        public var policy: String?
        public var timeoutSeconds: Double = 10

        public init(url: String, certificate: String) {
            self.url = url
            self.certificate = certificate
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decode(String.self, forKey: .url)
            certificate = try c.decode(String.self, forKey: .certificate)
            policy = try c.decodeIfPresent(String.self, forKey: .policy)
            timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 10
        }
    }

    public let name: String
    public let type = "rfc3161"
    public let configuration: Configuration
    let url: URL
    let certificate: Certificate

    public init(name: String = "rfc3161", configuration: Configuration) throws(AnchorBackendError) {
        guard let url = URL(string: configuration.url), url.scheme == "http" || url.scheme == "https" else {
            throw AnchorBackendError("rfc3161 url \(configuration.url) is not an http(s) URL")
        }
        self.name = name
        self.configuration = configuration
        self.url = url
        certificate = try Self.loadCertificate(configuration.certificate)
    }

    public static func loadCertificate(_ path: String) throws(AnchorBackendError) -> Certificate {
        guard let data = FileManager.default.contents(atPath: path) else { throw AnchorBackendError("\(path): cannot read the TSA certificate") }
        do {
            return try Certificate(pemEncoded: String(decoding: data, as: UTF8.self))
        } catch {
            throw AnchorBackendError("\(path): not a PEM certificate (\(error))")
        }
    }

    public func advance(
        head: SignedTreeHead, state: AnchorState, previous: AnchorReceipt?
    ) async throws(AnchorBackendError)
        -> AnchorProgress
    {
        // A time stamp has no side effect worth guarding: asking again after a lost answer only costs a token.
        let nonce = UInt64.random(in: 1...UInt64(Int64.max))
        let query: [UInt8]
        do { query = try RFC3161.request(imprint: head.root.array, nonce: nonce, policy: configuration.policy) } catch {
            throw AnchorBackendError("cannot encode the time-stamp request: \(error)")
        }
        let answer: (status: Int, contentType: String?, body: [UInt8])
        do {
            answer = try await HTTPPost.send(
                url, body: query, contentType: "application/timestamp-query", accept: "application/timestamp-reply",
                timeout: configuration.timeoutSeconds)
        } catch {
            throw AnchorBackendError(error.description)
        }
        guard answer.status == 200 else { throw AnchorBackendError("the TSA answered HTTP \(answer.status)") }
        let token: RFC3161.Token
        do {
            token = try RFC3161.parseResponse(answer.body)
            try RFC3161.verify(token, imprint: head.root.array, certificate: certificate, nonce: nonce)
        } catch {
            throw AnchorBackendError("the TSA's answer is not a valid time stamp of the root: \(error)")
        }
        var receipt = AnchorReceipt(backend: name, type: type, status: AnchorState.anchored.rawValue)
        receipt.tsaURL = configuration.url
        receipt.token = Data(token.der).base64EncodedString()
        receipt.genTime = token.genTime
        receipt.serialNumber = Hex.encode(token.serialNumber)
        receipt.policy = token.policy
        return .anchored(receipt)
    }
}
