import Foundation
import GatewayAPI
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import Store
import Testing

@Suite("the audit trail's bound")
struct AuditBackpressureTests {
    @Test("no access is served unaudited: while the trail's buffer is full the API answers 503, and serves again once it is written")
    func fullTrailRefuses() async throws {
        let store = try await StoreKind.sqlite.open()
        let pipeline = IngestPipeline(store: store)
        var http = HTTPConfiguration()
        http.port = 0
        http.adminKey = "audit-test-admin-key"
        var services = GatewayServices(hl7: pipeline.hl7, fhir: pipeline.fhir, store: store, configuration: http)
        // Not run as a service, so nothing is written until the test flushes it.
        let audit = AuditTrail(queue: pipeline.queue, capacity: 2, logger: TestGateway.logger)
        services.audit = audit
        let app = GatewayApplication.make(services, logger: TestGateway.logger, background: [])
        try await app.test(.live) { client in
            let admin: HTTPFields = [.authorization: "Bearer audit-test-admin-key"]
            for _ in 0..<2 {
                try await client.execute(uri: "/fhir/Patient/nobody", method: .get, headers: admin) { #expect($0.status == .notFound) }
            }
            #expect(!audit.accepting)
            try await client.execute(uri: "/fhir/Patient/nobody", method: .get, headers: admin) { r in
                #expect(r.status == .serviceUnavailable)
                #expect(r.headers[.retryAfter] == "5")
                let body = String(buffer: r.body)
                #expect(body.contains("OperationOutcome") && body.contains("audit trail"), "\(body)")
            }
            await audit.flush()
            #expect(audit.stored == 2 && audit.accepting)
            let events = try await store.history(type: "AuditEvent", since: nil, limit: 10)
            #expect(events.count == 2)
            try await client.execute(uri: "/fhir/Patient/nobody", method: .get, headers: admin) { #expect($0.status == .notFound) }
        }
        try await store.close()
    }
}
