import FHIR
import HTTPTypes
import Hummingbird
import Ingest
import Store

extension GatewayServices {
    /// Runs `body` for the caller the bearer token (or admin key) names; 401 without one, 503 while the store is down.
    /// The access is audited (an `AuditEvent`, when the gateway keeps an audit trail), whatever the answer.
    func authorized(
        _ request: Request, _ context: GatewayRequestContext, xml: Bool, _ body: (Caller) async throws -> Response
    ) async throws -> Response {
        // No access that cannot be audited: while the trail's buffer is full (the store down or behind), refuse.
        if let audit, !audit.accepting {
            requestsCounted.increment("refused-unaudited", "503")
            return Reply.unavailable("the audit trail cannot be written now; no access is served unaudited", xml: xml)
        }
        var subject = "anonymous"
        let response = try await checked(request, xml: xml) { caller in
            subject = caller.isAdmin ? "admin key" : caller.subject
            return try await body(caller)
        }
        let access = AuditTrail.access(request, context, subject: subject, status: Int(response.status.code))
        audit?.record(access)
        requestsCounted.increment(access.interaction, String(access.status))
        return response
    }

    private func checked(_ request: Request, xml: Bool, _ body: (Caller) async throws -> Response) async throws -> Response {
        func unauthorized(_ why: String) -> Response {
            var r = Reply.outcome(.unauthorized, code: "login", why, xml: xml)
            r.headers[.wwwAuthenticate] = "Bearer"
            return r
        }
        guard let presented = bearerToken(request) else {
            return unauthorized("a bearer token is required (Authorization: Bearer …; 'ledgerbridge token' issues one)")
        }
        let caller: Caller
        if let key = configuration.adminKey, constantTimeEqual(presented, key) {
            caller = .admin
        } else if let verifier = tokens {
            do { caller = try await verifier.caller(token: presented) } catch { return unauthorized("\(error)") }
        } else {
            return unauthorized("this gateway has no token verifier configured")
        }
        do {
            return try await body(caller)
        } catch let error as StoreError {
            return Reply.unavailable(error.description, xml: xml)
        }
    }

}
