import FHIR
import Foundation
import GatewayAPI
import Testing

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
}
