import FHIR
import Foundation
import JWTKit
import TestSupport
import Testing

@testable import GatewayAPI

@Suite("bearer tokens and SMART scopes")
struct AccessTokenTests {
    let secret = Array("0123456789abcdef0123456789abcdef".utf8)

    func resource(_ type: String, id: String, subject: String? = nil) -> JSONObject {
        var r = JSONObject([("resourceType", .string(type)), ("id", .string(id))])
        if let subject { r["subject"] = .object(JSONObject([("reference", .string(subject))])) }
        return r
    }

    @Test("scopes: v1 and v2 forms parse; anything else does not")
    func scopes() {
        #expect(SMARTScope("patient/*.read")?.read == true && SMARTScope("patient/*.read")?.write == false)
        #expect(SMARTScope("user/Observation.write")?.write == true && SMARTScope("user/Observation.write")?.type == "Observation")
        #expect(SMARTScope("system/*.*").map { $0.read && $0.write } == true)
        #expect(SMARTScope("patient/Observation.rs")?.read == true && SMARTScope("patient/Observation.rs")?.write == false)
        for bad in ["openid", "patient/*", "doctor/*.read", "patient/*.x", "launch/patient"] { #expect(SMARTScope(Substring(bad)) == nil, "\(bad)") }
    }

    @Test("patient scopes read only the patient's compartment; user and system scopes read the type; nothing else is read")
    func compartments() {
        let pat = Caller(subject: "app", scopes: [SMARTScope("patient/*.read")!], patient: "p1", isAdmin: false)
        #expect(pat.mayRead(resource("Patient", id: "p1")))
        #expect(!pat.mayRead(resource("Patient", id: "p2")))
        #expect(pat.mayRead(resource("Observation", id: "o1", subject: "Patient/p1")))
        #expect(!pat.mayRead(resource("Observation", id: "o2", subject: "Patient/p2")))
        #expect(!pat.mayRead(resource("Observation", id: "o3")))
        let noPatient = Caller(subject: "app", scopes: [SMARTScope("patient/*.read")!], patient: nil, isAdmin: false)
        #expect(!noPatient.mayRead(resource("Patient", id: "p1")))
        let user = Caller(subject: "dr", scopes: [SMARTScope("user/Observation.read")!], patient: nil, isAdmin: false)
        #expect(user.mayRead(resource("Observation", id: "o2", subject: "Patient/p2")))
        #expect(!user.mayRead(resource("Patient", id: "p1")) && !user.mayReadType("Patient"))
        let writer = Caller(subject: "ehr", scopes: [SMARTScope("system/*.write")!], patient: nil, isAdmin: false)
        #expect(!writer.mayRead(resource("Patient", id: "p1")))
        #expect(Caller.admin.mayRead(resource("Patient", id: "p9")))
    }

    @Test("tokens signed with the secret verify; another secret, an expired token, or the wrong issuer or audience do not")
    func verification() async throws {
        var configuration = AccessTokenConfiguration()
        configuration.issuer = "https://gateway.example"
        configuration.audience = "fhir"
        let verifier = try await AccessTokenVerifier.make(configuration, secret: secret)
        let good = try await AccessTokenVerifier.issue(
            AccessTokenClaims(
                subject: "alice", scope: "patient/*.read user/Observation.read", patient: "p1", expires: Date().addingTimeInterval(60),
                issuer: "https://gateway.example", audience: "fhir"), secret: secret)
        let caller = try await verifier.caller(token: good)
        #expect(caller.subject == "alice" && caller.patient == "p1" && caller.scopes.count == 2 && !caller.isAdmin)

        func refused(_ token: String) async -> Bool {
            do {
                _ = try await verifier.caller(token: token)
                return false
            } catch { return true }
        }
        let otherSecret = try await AccessTokenVerifier.issue(
            AccessTokenClaims(
                subject: "eve", scope: "system/*.read", patient: nil, expires: Date().addingTimeInterval(60), issuer: "https://gateway.example",
                audience: "fhir"),
            secret: Array("another secret, another secret!!".utf8))
        #expect(await refused(otherSecret))
        let expired = try await AccessTokenVerifier.issue(
            AccessTokenClaims(
                subject: "bob", scope: "system/*.read", patient: nil, expires: Date().addingTimeInterval(-5), issuer: "https://gateway.example",
                audience: "fhir"),
            secret: secret)
        #expect(await refused(expired))
        let wrongIssuer = try await AccessTokenVerifier.issue(
            AccessTokenClaims(
                subject: "bob", scope: "system/*.read", patient: nil, expires: Date().addingTimeInterval(60), issuer: "https://elsewhere",
                audience: "fhir"),
            secret: secret)
        #expect(await refused(wrongIssuer))
        let noAudience = try await AccessTokenVerifier.issue(
            AccessTokenClaims(
                subject: "bob", scope: "system/*.read", patient: nil, expires: Date().addingTimeInterval(60), issuer: "https://gateway.example"),
            secret: secret)
        #expect(await refused(noAudience))
        #expect(await refused("not.a.token"))
        // A token whose payload was edited (a wider scope) fails its signature.
        let parts = good.split(separator: ".")
        let widened = Data(#"{"sub":"alice","exp":4102444800,"scope":"system/*.*","iss":"https://gateway.example","aud":["fhir"]}"#.utf8)
            .base64EncodedString().replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(
                of: "/", with: "_")
        #expect(await refused("\(parts[0]).\(widened).\(parts[2])"))
    }

    @Test("a verified token is remembered until it expires, then refused like any expired token; the memory is bounded")
    func rememberedUntilExpiry() async throws {
        let verifier = try await AccessTokenVerifier.make(AccessTokenConfiguration(), secret: secret)
        // JWT times are whole seconds: this one expires at the second after next.
        let expires = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 2).rounded(.up))
        let token = try await AccessTokenVerifier.issue(
            AccessTokenClaims(subject: "carol", scope: "system/*.read", patient: nil, expires: expires), secret: secret)
        for _ in 0..<3 { #expect(try await verifier.caller(token: token).subject == "carol") }
        try await Task.sleep(for: .seconds(expires.timeIntervalSinceNow + 0.2))
        await #expect(throws: AccessTokenVerifier.Refusal.self) { try await verifier.caller(token: token) }

        let cache = VerifiedTokens(limit: 2)
        let caller = Caller(subject: "x", scopes: [], patient: nil, isAdmin: false)
        cache.keep("a", caller, until: 100, now: 0)
        cache.keep("b", caller, until: 5, now: 0)
        #expect(cache.caller(for: "a", at: 50)?.subject == "x" && cache.caller(for: "b", at: 50) == nil)
        // Full: the expired ones go first, then everything.
        cache.keep("c", caller, until: 100, now: 50)
        cache.keep("d", caller, until: 100, now: 50)
        #expect(cache.caller(for: "d", at: 60) != nil)
    }

    /// A JWK of an ES256 public key, and its private key.
    static func es256(kid: String) -> (ES256PrivateKey, String) {
        let key = ES256PrivateKey()
        let p = key.publicKey.parameters!
        return (key, #"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(kid)","x":"\#(p.x)","y":"\#(p.y)"}"#)
    }

    /// A JWK of an RS256 public key made by openssl, and the private key's PEM.
    static func rs256(kid: String, in directory: String) throws -> (String, String) {
        let path = directory + "/\(kid).pem"
        _ = try Subprocess.run("/usr/bin/openssl", ["genrsa", "-out", path, "2048"])
        let modulus = try Subprocess.run("/usr/bin/openssl", ["rsa", "-in", path, "-noout", "-modulus"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "Modulus=", with: "")
        var bytes: [UInt8] = []
        var i = modulus.startIndex
        while i < modulus.endIndex {
            let j = modulus.index(i, offsetBy: 2)
            bytes.append(UInt8(modulus[i..<j], radix: 16)!)
            i = j
        }
        let n = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return (try String(contentsOfFile: path, encoding: .utf8), #"{"kty":"RSA","alg":"RS256","use":"sig","kid":"\#(kid)","n":"\#(n)","e":"AQAB"}"#)
    }

    @Test("an identity provider's JWKS by URL: RS256 and ES256 tokens verify; a rotated-in key is fetched when a token names it")
    func jwksByURL() async throws {
        let directory = NSTemporaryDirectory() + "lb-jwks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (ecKey, ecJWK) = Self.es256(kid: "ec-1")
        let (rsaPEM, rsaJWK) = try Self.rs256(kid: "rsa-1", in: directory)
        try #"{"keys":[\#(ecJWK),\#(rsaJWK)]}"#.write(toFile: directory + "/jwks.json", atomically: true, encoding: .utf8)
        let peer = try PythonPeer(script: "scripts/peers/jwks_peer.py", ["--dir", directory])
        defer { peer.stop() }
        var configuration = AccessTokenConfiguration()
        configuration.jwksURL = "http://127.0.0.1:\(peer.ports[0])/jwks.json"
        configuration.issuer = "https://idp.example"
        let verifier = try await AccessTokenVerifier.make(configuration, secret: secret, jwksRetry: .milliseconds(300))
        #expect(verifier.jwksProblem == nil)

        let provider = JWTKeyCollection()
        await provider.add(ecdsa: ecKey, kid: "ec-1")
        await provider.add(rsa: try Insecure.RSA.PrivateKey(pem: rsaPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        func token(_ kid: String, subject: String) async throws -> String {
            try await provider.sign(
                AccessTokenClaims(
                    subject: subject, scope: "user/*.read", patient: nil, expires: Date().addingTimeInterval(60), issuer: "https://idp.example"),
                kid: JWKIdentifier(string: kid))
        }
        #expect(try await verifier.caller(token: try await token("ec-1", subject: "ec-user")).subject == "ec-user")
        #expect(try await verifier.caller(token: try await token("rsa-1", subject: "rsa-user")).subject == "rsa-user")

        // The provider rotates in a new key: the first token signed with it makes the gateway fetch the keys again.
        let (newKey, newJWK) = Self.es256(kid: "ec-2")
        try #"{"keys":[\#(newJWK),\#(ecJWK),\#(rsaJWK)]}"#.write(toFile: directory + "/jwks.json", atomically: true, encoding: .utf8)
        await provider.add(ecdsa: newKey, kid: "ec-2")
        try await Task.sleep(for: .milliseconds(400))
        let fetchesBefore = try String(contentsOfFile: directory + "/requests.log", encoding: .utf8).split(separator: "\n").count
        #expect(try await verifier.caller(token: try await token("ec-2", subject: "rotated")).subject == "rotated")
        let fetchesAfter = try String(contentsOfFile: directory + "/requests.log", encoding: .utf8).split(separator: "\n").count
        #expect(fetchesAfter == fetchesBefore + 1)
        // A key the provider never published stays refused.
        let (strangerKey, _) = Self.es256(kid: "ec-9")
        await provider.add(ecdsa: strangerKey, kid: "ec-9")
        await #expect(throws: AccessTokenVerifier.Refusal.self) { try await verifier.caller(token: try await token("ec-9", subject: "stranger")) }
    }

    @Test("a JWKS URL that cannot be fetched: the gateway starts, says why, and refuses the provider's tokens; its own tokens still verify")
    func jwksUnreachable() async throws {
        var configuration = AccessTokenConfiguration()
        configuration.jwksURL = "http://127.0.0.1:\(try TestPostgres.freePort())/jwks.json"
        let verifier = try await AccessTokenVerifier.make(configuration, secret: secret, jwksRetry: .milliseconds(100))
        #expect(verifier.jwksProblem != nil)
        let (key, _) = Self.es256(kid: "ec-1")
        let provider = JWTKeyCollection()
        await provider.add(ecdsa: key, kid: "ec-1")
        let foreign = try await provider.sign(
            AccessTokenClaims(subject: "x", scope: "user/*.read", patient: nil, expires: Date().addingTimeInterval(60)), kid: "ec-1")
        do {
            _ = try await verifier.caller(token: foreign)
            Issue.record("a token no known key signed was accepted")
        } catch {
            #expect(error.description.contains("identity provider"), "\(error)")
        }
        let own = try await AccessTokenVerifier.issue(
            AccessTokenClaims(subject: "local", scope: "system/*.read", patient: nil, expires: Date().addingTimeInterval(60)), secret: secret)
        #expect(try await verifier.caller(token: own).subject == "local")
        var bad = AccessTokenConfiguration()
        bad.jwksURL = "ftp://idp.example/keys"
        await #expect(throws: (any Error).self) { try await AccessTokenVerifier.make(bad, secret: secret) }
    }
}
