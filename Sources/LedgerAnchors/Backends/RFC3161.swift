import Crypto
import Foundation
import Ledger
import SwiftASN1
import X509

/// RFC 3161 time stamps: the request the gateway sends, and the checks it (and `ledgerbridge verify`) makes on the
/// token that comes back. The message imprint is the tree head's root itself (a SHA-256 value), so anyone can also
/// check a token with OpenSSL: `openssl ts -verify -digest ROOT -in token.tsr -CAfile tsa.pem`.
public enum RFC3161 {
    static let sha256: ASN1ObjectIdentifier = "2.16.840.1.101.3.4.2.1"
    static let sha384: ASN1ObjectIdentifier = "2.16.840.1.101.3.4.2.2"
    static let sha512: ASN1ObjectIdentifier = "2.16.840.1.101.3.4.2.3"
    static let signedData: ASN1ObjectIdentifier = "1.2.840.113549.1.7.2"
    static let tstInfo: ASN1ObjectIdentifier = "1.2.840.113549.1.9.16.1.4"
    static let contentTypeAttribute: ASN1ObjectIdentifier = "1.2.840.113549.1.9.3"
    static let messageDigestAttribute: ASN1ObjectIdentifier = "1.2.840.113549.1.9.4"
    static let rsaEncryption: ASN1ObjectIdentifier = "1.2.840.113549.1.1.1"

    public struct TSAError: Error, CustomStringConvertible, Equatable {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// `TimeStampReq` (RFC 3161 section 2.4.1), DER: version 1, SHA-256 imprint, nonce, and the TSA's certificate asked for.
    public static func request(imprint: [UInt8], nonce: UInt64, policy: String? = nil) throws -> [UInt8] {
        precondition(imprint.count == 32, "a SHA-256 imprint is 32 bytes")
        var s = DER.Serializer()
        try s.appendConstructedNode(identifier: .sequence) { c in
            try c.serialize(1)
            try c.appendConstructedNode(identifier: .sequence) { m in
                try m.appendConstructedNode(identifier: .sequence) { a in
                    try a.serialize(sha256)
                    try a.serialize(ASN1Null())
                }
                try m.serialize(ASN1OctetString(contentBytes: imprint[...]))
            }
            if let policy { try c.serialize(try ASN1ObjectIdentifier(dotRepresentation: policy)) }
            try c.serialize(nonce & 0x7fff_ffff_ffff_ffff)
            try c.serialize(true)
        }
        return s.serializedBytes
    }

    /// The parts of a token that its checks use.
    public struct Token: Sendable {
        /// The token as DER (a CMS ContentInfo), as stored in receipts.
        public var der: [UInt8]
        public var policy: String
        public var imprintAlgorithm: String
        public var imprint: [UInt8]
        public var serialNumber: [UInt8]
        /// The TSA's time, as it wrote it (GeneralizedTime, UTC), in ISO 8601.
        public var genTime: String
        public var nonce: UInt64?
        /// The TSTInfo DER (the signed content).
        var content: [UInt8]
        var digestAlgorithm: ASN1ObjectIdentifier
        var signatureAlgorithm: ASN1ObjectIdentifier
        /// The signed attributes re-encoded as a SET (what the signature covers), and the messageDigest attribute.
        var signedAttributes: [UInt8]
        var messageDigest: [UInt8]?
        var contentTypeAttribute: ASN1ObjectIdentifier?
        var signature: [UInt8]
    }

    /// Reads a `TimeStampResp`: the status must be granted (0) or granted with modifications (1).
    public static func parseResponse(_ der: [UInt8]) throws -> Token {
        let root = try DER.parse(der)
        let parts = try children(root, "TimeStampResp")
        guard let statusInfo = parts.first else { throw TSAError("an empty TimeStampResp") }
        let statusParts = try children(statusInfo, "PKIStatusInfo")
        guard let statusNode = statusParts.first else { throw TSAError("no PKIStatus") }
        let status = try Int(derEncoded: statusNode)
        guard status == 0 || status == 1 else {
            let text = statusParts.dropFirst().first.flatMap {
                try? children($0, "PKIFreeText").compactMap { try? String(ASN1UTF8String(derEncoded: $0)) }
            }
            throw TSAError("the TSA refused the request (PKIStatus \(status)\(text.map { ": " + $0.joined(separator: " ") } ?? ""))")
        }
        guard parts.count >= 2 else { throw TSAError("a granted response without a time-stamp token") }
        return try parseToken(Array(parts[1].encodedBytes))
    }

    /// Reads a `TimeStampToken` (CMS ContentInfo with SignedData over a TSTInfo).
    public static func parseToken(_ der: [UInt8]) throws -> Token {
        let contentInfo = try children(try DER.parse(der), "ContentInfo")
        guard contentInfo.count == 2, try ASN1ObjectIdentifier(derEncoded: contentInfo[0]) == signedData else {
            throw TSAError("the token is not CMS SignedData")
        }
        let explicit = try children(contentInfo[1], "[0]")
        guard let sd = explicit.first else { throw TSAError("no SignedData") }
        let signed = try children(sd, "SignedData")
        guard signed.count >= 4 else { throw TSAError("SignedData is incomplete") }
        let encap = try children(signed[2], "EncapsulatedContentInfo")
        guard encap.count == 2, try ASN1ObjectIdentifier(derEncoded: encap[0]) == tstInfo else {
            throw TSAError("the signed content is not a TSTInfo")
        }
        guard let octets = try children(encap[1], "[0] eContent").first else { throw TSAError("no TSTInfo content") }
        let content = Array(try ASN1OctetString(derEncoded: octets).bytes)
        guard let signerInfos = signed.last, case .constructed(let infos) = signerInfos.content, let signerInfo = infos.first(where: { _ in true })
        else { throw TSAError("no SignerInfo") }
        let si = try children(signerInfo, "SignerInfo")
        // version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, [1] unsignedAttrs
        guard si.count >= 5 else { throw TSAError("SignerInfo is incomplete") }
        let digestAlgorithm = try ASN1ObjectIdentifier(derEncoded: try children(si[2], "AlgorithmIdentifier")[0])
        guard si[3].identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) else {
            throw TSAError("the SignerInfo has no signed attributes (RFC 3161 requires them)")
        }
        // The signature covers the attributes as a SET OF, not as the [0] IMPLICIT tag they are stored under.
        var signedAttributes = Array(si[3].encodedBytes)
        signedAttributes[0] = 0x31
        var messageDigest: [UInt8]? = nil
        var contentType: ASN1ObjectIdentifier? = nil
        for attribute in try children(si[3], "signedAttrs") {
            let a = try children(attribute, "Attribute")
            guard a.count == 2, let value = try children(a[1], "AttributeValues").first else { continue }
            let type = try ASN1ObjectIdentifier(derEncoded: a[0])
            if type == messageDigestAttribute { messageDigest = Array(try ASN1OctetString(derEncoded: value).bytes) }
            if type == contentTypeAttribute { contentType = try ASN1ObjectIdentifier(derEncoded: value) }
        }
        let signatureAlgorithm = try ASN1ObjectIdentifier(derEncoded: try children(si[4], "AlgorithmIdentifier")[0])
        guard si.count >= 6 else { throw TSAError("SignerInfo has no signature") }
        let signature = Array(try ASN1OctetString(derEncoded: si[5]).bytes)

        let info = try children(try DER.parse(content), "TSTInfo")
        guard info.count >= 5 else { throw TSAError("TSTInfo is incomplete") }
        let policy = try ASN1ObjectIdentifier(derEncoded: info[1])
        let imprintParts = try children(info[2], "MessageImprint")
        guard imprintParts.count == 2 else { throw TSAError("MessageImprint is incomplete") }
        let imprintAlgorithm = try ASN1ObjectIdentifier(derEncoded: try children(imprintParts[0], "AlgorithmIdentifier")[0])
        let imprint = Array(try ASN1OctetString(derEncoded: imprintParts[1]).bytes)
        let serial = Array(try ArraySlice<UInt8>(derEncoded: info[3]))
        let time = try GeneralizedTime(derEncoded: info[4])
        var nonce: UInt64? = nil
        for node in info.dropFirst(5) where node.identifier == .integer {
            nonce = try? UInt64(derEncoded: node)
        }
        return Token(
            der: der, policy: policy.description, imprintAlgorithm: imprintAlgorithm.description, imprint: imprint, serialNumber: serial,
            genTime: iso(time), nonce: nonce, content: content, digestAlgorithm: digestAlgorithm, signatureAlgorithm: signatureAlgorithm,
            signedAttributes: signedAttributes, messageDigest: messageDigest, contentTypeAttribute: contentType, signature: signature)
    }

    /// Checks a token: its imprint is `imprint` (SHA-256), its signed attributes name a TSTInfo and carry the digest
    /// of the TSTInfo, and the signature over them verifies with the TSA certificate's key.
    public static func verify(_ token: Token, imprint: [UInt8], certificate: Certificate, nonce: UInt64? = nil) throws {
        guard token.imprintAlgorithm == sha256.description else { throw TSAError("the token's imprint is not SHA-256") }
        guard token.imprint == imprint else { throw TSAError("the token stamps \(Hex.encode(token.imprint)), not the root \(Hex.encode(imprint))") }
        if let nonce, token.nonce != nonce & 0x7fff_ffff_ffff_ffff { throw TSAError("the token's nonce is not the request's") }
        guard token.contentTypeAttribute == tstInfo else { throw TSAError("the signed content-type attribute is not TSTInfo") }
        let digest: [UInt8]
        let algorithm: Certificate.SignatureAlgorithm
        let isRSA = token.signatureAlgorithm == rsaEncryption
        switch token.digestAlgorithm {
        case sha256:
            digest = Array(SHA256.hash(data: token.content))
            algorithm = isRSA ? .sha256WithRSAEncryption : Certificate.SignatureAlgorithm(oid: token.signatureAlgorithm) ?? .ecdsaWithSHA256
        case sha384:
            digest = Array(SHA384.hash(data: token.content))
            algorithm = isRSA ? .sha384WithRSAEncryption : Certificate.SignatureAlgorithm(oid: token.signatureAlgorithm) ?? .ecdsaWithSHA384
        case sha512:
            digest = Array(SHA512.hash(data: token.content))
            algorithm = isRSA ? .sha512WithRSAEncryption : Certificate.SignatureAlgorithm(oid: token.signatureAlgorithm) ?? .ecdsaWithSHA512
        default: throw TSAError("unsupported digest algorithm \(token.digestAlgorithm)")
        }
        guard token.messageDigest == digest else { throw TSAError("the signed message digest is not the TSTInfo's: the token was altered") }
        guard certificate.publicKey.isValidSignature(token.signature, for: token.signedAttributes, signatureAlgorithm: algorithm) else {
            throw TSAError("the token's signature does not verify with the TSA certificate")
        }
    }

    static func children(_ node: ASN1Node, _ what: String) throws -> [ASN1Node] {
        guard case .constructed(let nodes) = node.content else { throw TSAError("\(what) is not a constructed value") }
        return Array(nodes)
    }

    static func iso(_ t: GeneralizedTime) -> String {
        func pad(_ v: Int, _ n: Int) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "\(pad(t.year, 4))-\(pad(t.month, 2))-\(pad(t.day, 2))T\(pad(t.hours, 2)):\(pad(t.minutes, 2)):\(pad(t.seconds, 2))Z"
    }
}

extension Certificate.SignatureAlgorithm {
    init?(oid: ASN1ObjectIdentifier) {
        switch oid.description {
        case "1.2.840.10045.4.3.2": self = .ecdsaWithSHA256
        case "1.2.840.10045.4.3.3": self = .ecdsaWithSHA384
        case "1.2.840.10045.4.3.4": self = .ecdsaWithSHA512
        case "1.2.840.113549.1.1.11": self = .sha256WithRSAEncryption
        case "1.2.840.113549.1.1.12": self = .sha384WithRSAEncryption
        case "1.2.840.113549.1.1.13": self = .sha512WithRSAEncryption
        case "1.3.101.112": self = .ed25519
        default: return nil
        }
    }
}
