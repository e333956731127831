import ArgumentParser
import Foundation
import GatewayAPI
import LedgerAnchors

/// `ledgerbridge token --scope …`: a bearer token for the FHIR API, signed with the gateway's HS256 secret.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Issue a bearer token (JWT, HS256) for the FHIR API of the embedded default.",
        discussion: """
            Scopes are SMART on FHIR's, space-separated: patient/*.read (with --patient: only that patient's records), \
            user/Observation.read, system/*.read. The token is signed with the secret in auth.hs256SecretFile (default \
            jwt-hs256.key beside the store, created mode 600); a gateway using an identity provider's JWKS takes that \
            provider's tokens instead.
            """)

    @Option(name: .shortAndLong, help: "The configuration file (default: ./ledgerbridge.yaml when present).")
    var config: String?

    @Option(help: "SMART scopes, space-separated (e.g. \"patient/*.read\").")
    var scope: String

    @Option(help: "The patient in context (a Patient id), for patient/ scopes.")
    var patient: String?

    @Option(help: "Who the token is for (the sub claim); it appears in audit records.")
    var subject = "ledgerbridge-token"

    @Option(help: "Seconds until the token expires.")
    var expires: Int = 3600

    func run() async throws {
        let configuration = try GatewayConfiguration.load(path: config)
        let scopes = scope.split(separator: " ")
        if let bad = scopes.first(where: { SMARTScope($0) == nil }) {
            throw CLIError("--scope: '\(bad)' is not a SMART scope (context/Type.permission, e.g. patient/*.read)")
        }
        if scopes.contains(where: { $0.hasPrefix("patient/") }) && patient == nil {
            throw CLIError("--patient is required with patient/ scopes")
        }
        guard expires > 0 else { throw CLIError("--expires must be positive") }
        do {
            let secret = try SecretFile.loadOrCreate(at: configuration.jwtSecretPath, bytes: 32)
            let claims = AccessTokenClaims(
                subject: subject, scope: scope, patient: patient, expires: Date().addingTimeInterval(Double(expires)),
                issuer: configuration.auth.issuer, audience: configuration.auth.audience)
            print(try await AccessTokenVerifier.issue(claims, secret: secret))
        } catch {
            throw CLIError("\(error)")
        }
    }
}
