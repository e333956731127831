import FHIR
import Foundation
import Ingest
import Store
import TestSupport
import Testing

@Suite("commits racing for the same new record")
struct CommitRaceTests {
    /// A unit that writes a shared Organization (the same for every message, as a sending facility is) and a Patient
    /// of its own.
    static func unit(_ n: Int) throws -> IngestUnit {
        let organization = JSONObject([("resourceType", .string("Organization")), ("id", .string("shared-org")), ("name", .string("HOSP"))])
        let patient = JSONObject([("resourceType", .string("Patient")), ("id", .string("p-\(n)")), ("gender", .string("female"))])
        let writes = try [organization, patient].map { try ResourceWrite(resource: $0, source: "test", sourceReference: nil, mappingVersion: nil) }
        let inbound = InboundMessage(
            channel: "test", sender: "RACE", key: "m-\(n)", contentType: "application/fhir+json", body: Array("{}".utf8),
            receivedAt: StoreTime.nowMillis())
        return IngestUnit(inbound: inbound, disposition: .accept(writes))
    }

    @Test("two gateways on one PostgreSQL database, every message at once: each is committed, the shared record once")
    func twoGateways() async throws {
        let pg = try await TestPostgres.shared()
        let url = pg.url(database: try pg.createDatabase("race"))
        let stores = [
            try await PostgresStore(configuration: PostgresStoreConfiguration(url: url), logger: TestGateway.logger),
            try await PostgresStore(configuration: PostgresStoreConfiguration(url: url), logger: TestGateway.logger),
        ]
        try await stores[0].migrate()
        let queues = stores.map { CommitQueue(store: $0) }
        // One caller per message, as MLLP connections are: a conflict must not fail a caller that is alone in its
        // group (before the fix, the loser of the race was answered AE).
        let outcomes = try await withThrowingTaskGroup(of: [UnitResult].self) { group in
            for n in 0..<24 {
                group.addTask { try await queues[n % 2].submit([try Self.unit(n)]) }
            }
            var all: [UnitResult] = []
            for try await r in group { all += r }
            return all
        }
        #expect(outcomes.count == 24 && outcomes.allSatisfy { $0.outcome == .accepted })
        let history = try await stores[0].history(type: "Organization", id: "shared-org")
        #expect(history.count == 1, "one version of the shared record, however many wrote it at once")
        for s in stores { try await s.close() }
    }
}
