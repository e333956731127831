import FHIR
import Foundation
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
}
