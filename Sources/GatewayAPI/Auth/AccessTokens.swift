import FHIR
import Foundation
import JWTKit
import LedgerAnchors
import Synchronization

/// Bearer tokens for the FHIR API (JWT). HS256 with the gateway's own secret for the embedded default
/// (`ledgerbridge token` issues them); RS256 / ES256 with the keys of a configured JWKS for an identity provider.
/// Scopes are SMART on FHIR's: `patient/*.read`, `user/Observation.read`, `system/*.write` (v1), or `.rs`-style (v2).
public struct AccessTokenConfiguration: Sendable, Hashable, Codable {
    /// The HS256 secret (a file, created owner-only on first use); default `jwt-hs256.key` beside the store.
    public var hs256SecretFile: String?
    /// A JWKS file with the identity provider's public keys (RS256, ES256).
    public var jwksFile: String?
    /// The identity provider's JWKS URL: fetched at start, again every `jwksRefreshMinutes`, and when a token is
    /// signed with a key not yet known (at most every 30 s), so the provider's key rotation needs no restart.
    public var jwksURL: String?
    public var jwksRefreshMinutes: Double?
    /// When set, tokens must name this issuer (`iss`) …
    public var issuer: String?
    /// … and this audience (`aud`).
    public var audience: String?

    public init() {}
}

/// The claims Ledgerbridge reads.
public struct AccessTokenClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim?
    public var iss: IssuerClaim?
    public var aud: AudienceClaim?
    /// Space-separated SMART scopes.
    public var scope: String
    /// The patient in context (a Patient id), for `patient/` scopes.
    public var patient: String?

    public init(subject: String, scope: String, patient: String?, expires: Date, issuer: String? = nil, audience: String? = nil) {
        sub = SubjectClaim(value: subject)
        exp = ExpirationClaim(value: expires)
        iat = IssuedAtClaim(value: Date())
        iss = issuer.map { IssuerClaim(value: $0) }
        aud = audience.map { AudienceClaim(value: [$0]) }
        self.scope = scope
        self.patient = patient
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// One SMART scope: `context/Type.permission`.
public struct SMARTScope: Sendable, Hashable {
    public enum Context: String, Sendable { case patient, user, system }
    public var context: Context
    /// A resource type, or `*`.
    public var type: String
    public var read: Bool
    public var write: Bool

    /// `patient/*.read`, `user/Observation.write`, `system/*.*`, or v2's `patient/Observation.rs`.
    public init?(_ text: Substring) {
        guard let slash = text.firstIndex(of: "/"), let dot = text.lastIndex(of: "."), slash < dot,
            let context = Context(rawValue: String(text[..<slash]))
        else { return nil }
        self.context = context
        type = String(text[text.index(after: slash)..<dot])
        let permission = text[text.index(after: dot)...]
        switch permission {
        case "read": (read, write) = (true, false)
        case "write": (read, write) = (false, true)
        case "*": (read, write) = (true, true)
        default:
            // SMART v2: c r u d s.
            guard !permission.isEmpty, permission.allSatisfy({ "cruds".contains($0) }) else { return nil }
            read = permission.contains("r") || permission.contains("s")
            write = permission.contains("c") || permission.contains("u") || permission.contains("d")
        }
    }

    func covers(_ resourceType: String) -> Bool { type == "*" || type == resourceType }
}

/// Who is asking, once their token or key is checked.
public struct Caller: Sendable {
    public var subject: String
    public var scopes: [SMARTScope]
    public var patient: String?
    /// The admin key: everything.
    public var isAdmin: Bool

    public static let admin = Caller(subject: "admin", scopes: [], patient: nil, isAdmin: true)

    public init(subject: String, scopes: [SMARTScope], patient: String?, isAdmin: Bool) {
        self.subject = subject
        self.scopes = scopes
        self.patient = patient
        self.isAdmin = isAdmin
    }

    /// Whether the caller may read this resource: a `user/` or `system/` read scope for its type, or a `patient/`
    /// one and the resource is in the patient's compartment (the Patient itself, or its `subject` / `patient`).
    public func mayRead(_ resource: JSONObject) -> Bool {
        if isAdmin { return true }
        guard let type = resource["resourceType"]?.stringValue else { return false }
        let readers = scopes.filter { $0.read && $0.covers(type) }
        if readers.contains(where: { $0.context != .patient }) { return true }
        guard readers.contains(where: { $0.context == .patient }), let patient else { return false }
        if type == "Patient" { return resource["id"]?.stringValue == patient }
        let target = "Patient/\(patient)"
        return ["subject", "patient"].contains { resource[$0]?.objectValue?["reference"]?.stringValue == target }
    }

    /// Whether the caller may read every resource of this type, without looking at it (no compartment to check).
    public func mayReadEvery(_ type: String) -> Bool { isAdmin || scopes.contains { $0.read && $0.covers(type) && $0.context != .patient } }

    /// Whether any scope lets the caller read this type at all (before looking at a resource).
    public func mayReadType(_ type: String) -> Bool { isAdmin || scopes.contains { $0.read && $0.covers(type) } }
}

/// Checks bearer tokens.
public struct AccessTokenVerifier: Sendable {
    let keys: JWTKeyCollection
    let configuration: AccessTokenConfiguration
    /// The identity provider's keys by URL, when configured.
    let remote: RemoteJWKS?
    /// Tokens already verified, with their callers, until they expire: a client presents the same token on every
    /// request, and checking its signature and decoding its claims each time cost more than the read it guards.
    private let verified = VerifiedTokens()

    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// Keys: the HS256 secret, and the JWKS file's and the JWKS URL's keys when configured. A JWKS URL that cannot
    /// be fetched now does not stop the gateway: its tokens are refused (saying why) until a later fetch succeeds, and
    /// `jwksProblem` says what went wrong for the log.
    public static func make(
        _ configuration: AccessTokenConfiguration, secret: [UInt8], jwksRetry: Duration = .seconds(30)
    ) async throws -> AccessTokenVerifier {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        if let file = configuration.jwksFile {
            guard let data = FileManager.default.contents(atPath: file) else { throw Refusal(description: "\(file): cannot read the JWKS") }
            try await keys.add(jwksJSON: String(decoding: data, as: UTF8.self))
        }
        var remote: RemoteJWKS? = nil
        if let text = configuration.jwksURL {
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? "") else {
                throw Refusal(description: "auth.jwksURL: \(text) is not an http(s) URL")
            }
            remote = RemoteJWKS(
                url: url, keys: keys, refresh: .seconds(60 * (configuration.jwksRefreshMinutes ?? 10)), retry: jwksRetry)
            try? await remote?.fetch()
        }
        return AccessTokenVerifier(keys: keys, configuration: configuration, remote: remote)
    }

    /// Why the JWKS URL's keys are not loaded, if they are not.
    public var jwksProblem: String? { remote?.problem }

    public func caller(token: String) async throws(Refusal) -> Caller {
        let now = Date().timeIntervalSince1970
        if let caller = verified.caller(for: token, at: now) { return caller }
        if let remote, remote.stale(now: .now) { Task { try? await remote.fetch() } }
        let claims: AccessTokenClaims
        do {
            claims = try await keys.verify(token, as: AccessTokenClaims.self)
        } catch {
            // A key the provider has just rotated in: fetch its keys again (not more often than `retry`) and retry once.
            guard let remote, remote.mayRetry(now: .now), (try? await remote.fetch()) != nil,
                let again = try? await keys.verify(token, as: AccessTokenClaims.self)
            else {
                let why = remote?.problem.map { " (the identity provider's keys: \($0))" } ?? ""
                throw Refusal(description: "the bearer token is not valid: \(error)\(why)")
            }
            claims = again
        }
        if let issuer = configuration.issuer, claims.iss?.value != issuer { throw Refusal(description: "the token's issuer is not \(issuer)") }
        if let audience = configuration.audience {
            do { try claims.aud?.verifyIntendedAudience(includes: audience) } catch { throw Refusal(description: "the token is not for \(audience)") }
            if claims.aud == nil { throw Refusal(description: "the token names no audience") }
        }
        let scopes = claims.scope.split(separator: " ").compactMap(SMARTScope.init)
        let caller = Caller(subject: claims.sub.value, scopes: scopes, patient: claims.patient, isAdmin: false)
        verified.keep(token, caller, until: claims.exp.value.timeIntervalSince1970, now: now)
        return caller
    }

    /// Signs a token with the HS256 secret (the embedded default's `ledgerbridge token`).
    public static func issue(_ claims: AccessTokenClaims, secret: [UInt8]) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }
}

/// Verified tokens and their callers, each until its `exp`; at most `limit` of them (expired ones are dropped first,
/// then all, when it is full). Only tokens that passed every check are kept, so a cached answer is one the full check
/// gave; a token that expires is checked again (and refused) from that second on.
final class VerifiedTokens: Sendable {
    private let entries = Mutex<[String: (caller: Caller, expires: Double)]>([:])
    let limit: Int

    init(limit: Int = 10_000) { self.limit = limit }

    func caller(for token: String, at now: Double) -> Caller? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard now < entry.expires else {
                entries[token] = nil
                return nil
            }
            return entry.caller
        }
    }

    func keep(_ token: String, _ caller: Caller, until expires: Double, now: Double) {
        entries.withLock { entries in
            if entries.count >= limit {
                entries = entries.filter { now < $0.value.expires }
                if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = (caller, expires)
        }
    }
}

/// An identity provider's JWKS, fetched by URL into the verifier's key collection (FoundationNetworking, 10 s timeout).
final class RemoteJWKS: Sendable {
    let url: URL
    let keys: JWTKeyCollection
    let refresh: Duration
    let retry: Duration

    private struct State {
        var fetched: ContinuousClock.Instant?
        var attempted: ContinuousClock.Instant?
        var problem: String?
    }
    private let state = Mutex(State())

    init(url: URL, keys: JWTKeyCollection, refresh: Duration, retry: Duration) {
        self.url = url
        self.keys = keys
        self.refresh = refresh
        self.retry = retry
    }

    var problem: String? { state.withLock { $0.problem } }

    /// The keys are older than `refresh` (or were never fetched) and no fetch was tried within `retry`.
    func stale(now: ContinuousClock.Instant) -> Bool {
        state.withLock { s in mayRetry(s, now) && (s.fetched.map { now - $0 >= refresh } ?? true) }
    }

    /// No fetch was tried within `retry`: a token with an unknown key may cause one.
    func mayRetry(now: ContinuousClock.Instant) -> Bool { state.withLock { mayRetry($0, now) } }

    private func mayRetry(_ s: State, _ now: ContinuousClock.Instant) -> Bool { s.attempted.map { now - $0 >= retry } ?? true }

    func fetch() async throws(AccessTokenVerifier.Refusal) {
        state.withLock { $0.attempted = .now }
        do {
            let (status, _, body) = try await HTTPPost.get(url, accept: "application/json", timeout: 10)
            guard status == 200 else { throw AccessTokenVerifier.Refusal(description: "\(url.absoluteString) answered HTTP \(status)") }
            do {
                try await keys.add(jwksJSON: String(decoding: body, as: UTF8.self))
            } catch {
                throw AccessTokenVerifier.Refusal(description: "\(url.absoluteString) is not a usable JWKS: \(error)")
            }
            state.withLock {
                $0.fetched = .now
                $0.problem = nil
            }
        } catch {
            let refusal = (error as? AccessTokenVerifier.Refusal) ?? AccessTokenVerifier.Refusal(description: "\(error)")
            state.withLock { $0.problem = refusal.description }
            throw refusal
        }
    }
}
