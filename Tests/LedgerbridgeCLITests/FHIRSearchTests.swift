import FHIR
import Foundation
import TestSupport
import Testing

/// FHIR search, paging and $everything on the real gateway over real HTTP, and the SMART Python client reading it.
@Suite("FHIR search over HTTP", .serialized)
struct FHIRSearchTests {
    struct Gateway {
        let process: GatewayProcess
        let config: String
        let admin = ["Authorization": "Bearer search-admin-key"]

        func json(_ path: String, headers: [String: String]? = nil) async throws -> (Int, [String: Any]) {
            let (status, body) = try await process.request("GET", path, headers: headers ?? admin)
            return (status, (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:])
        }

        func ids(_ path: String, headers: [String: String]? = nil) async throws -> [String] {
            let (status, bundle) = try await json(path, headers: headers)
            #expect(status == 200, "\(path): \(bundle)")
            return ((bundle["entry"] as? [[String: Any]]) ?? []).compactMap { ($0["resource"] as? [String: Any])?["id"] as? String }
        }

        func token(_ arguments: [String]) throws -> [String: String] {
            let t = try HL7ParseCommandTests.run(["token", "--config", config] + arguments)
            #expect(t.status == 0, "\(t.err)")
            return ["Authorization": "Bearer " + t.out.trimmingCharacters(in: .whitespacesAndNewlines)]
        }
    }

    static func start() async throws -> Gateway {
        let (process, config) = try await GatewayProcess.embedded(adminKey: "search-admin-key", prefix: "lb-search")
        let gateway = Gateway(process: process, config: config)
        // Two patients: the fixture's Anna Meyer (an admission and a lab result), and Ben Roe (an admission).
        for file in ["adt-a01.hl7", "oru-r01.hl7"] {
            let body = Array(FileManager.default.contents(atPath: TestEnvironment.packageRoot + "/Mappings/fixtures/" + file)!)
            let (status, answer) = try await process.request(
                "POST", "/feeds/hl7v2", body: body, headers: ["Content-Type": "x-application/hl7-v2+er7"])
            #expect(status == 200, "\(String(decoding: answer, as: UTF8.self))")
        }
        let roe =
            "MSH|^~\\&|EPIC|GENHOSP|LB|LB|20260303090000+0100||ADT^A04^ADT_A01|ADM0002|P|2.5.1\rPID|1||E200777^^^GENHOSP^MR||Roe^Ben||19850704|M\rPV1|1|O|||||||||||||||||V20260303^^^GENHOSP^VN\r"
        let (status, _) = try await process.request(
            "POST", "/feeds/hl7v2", body: Array(roe.utf8), headers: ["Content-Type": "x-application/hl7-v2+er7"])
        #expect(status == 200)
        return gateway
    }

    @Test(
        "search: strings by prefix, tokens with or without system, dates by span and prefix, references, _id, _lastUpdated; unknown parameters are 400"
    )
    func parameters() async throws {
        let g = try await Self.start()
        defer { g.process.stop() }
        let anna = try #require(try await g.ids("/fhir/Patient?family=mey").first)
        #expect(try await g.ids("/fhir/Patient?family=MEYER") == [anna], "case-insensitive")
        #expect(try await g.ids("/fhir/Patient?name=ann") == [anna])
        #expect(try await g.ids("/fhir/Patient?family:exact=mey").isEmpty)
        #expect(try await g.ids("/fhir/Patient?gender=female") == [anna])
        #expect(try await g.ids("/fhir/Patient?birthdate=1972") == [anna])
        #expect(try await g.ids("/fhir/Patient?birthdate=ge1972-03-15&birthdate=lt1972-03-16") == [anna])
        #expect(try await g.ids("/fhir/Patient?birthdate=gt1972-03-15").count == 1, "only Ben, born 1985")
        #expect(try await g.ids("/fhir/Patient?identifier=E100234") == [anna])
        #expect(try await g.ids("/fhir/Patient?identifier=E100234,E200777").count == 2)
        #expect(try await g.ids("/fhir/Patient?_id=\(anna)") == [anna])

        let observations = try await g.ids("/fhir/Observation?patient=\(anna)")
        #expect(observations.count == 2)
        #expect(try await g.ids("/fhir/Observation?subject=Patient/\(anna)&code=http://loinc.org|718-7").count == 1)
        #expect(try await g.ids("/fhir/Observation?patient=\(anna)&code=718-7,882-1").count == 2)
        #expect(try await g.ids("/fhir/Observation?patient=\(anna)&code=http://snomed.info/sct|718-7").isEmpty, "another system")
        #expect(try await g.ids("/fhir/Observation?patient=\(anna)&date=2026-03-02").count == 1, "the one with a time")
        #expect(try await g.ids("/fhir/Observation?status=final").count == 2)
        #expect(try await g.ids("/fhir/Encounter?patient=\(anna)&class=IMP").count == 1)
        #expect(try await g.ids("/fhir/Encounter?date=ge2026-03-01&date=lt2026-03-02").count == 1)
        #expect(try await g.ids("/fhir/Condition?patient=\(anna)&code=J18.9").count == 1)
        #expect(try await g.ids("/fhir/AllergyIntolerance?patient=\(anna)").count == 1)
        let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
        #expect(try await g.ids("/fhir/Patient?_lastUpdated=ge\(today)").count == 2)
        #expect(try await g.ids("/fhir/Patient?_lastUpdated=lt2000-01-01").isEmpty)

        let (bad, outcome) = try await g.json("/fhir/Patient?colour=red")
        #expect(bad == 400 && outcome["resourceType"] as? String == "OperationOutcome")
        #expect("\(outcome)".contains("no search parameter") && "\(outcome)".contains("colour"))
        let (badDate, _) = try await g.json("/fhir/Patient?birthdate=yesterday")
        #expect(badDate == 400)
        let (unknownType, _) = try await g.json("/fhir/Patientz?name=x")
        #expect(unknownType == 404)
        let (_, metadata) = try await g.json("/fhir/metadata")
        #expect("\(metadata)".contains("search-type") && "\(metadata)".contains("everything"))
    }

    @Test("paging: _count and next links walk every match once; a patient/ token sees only its patient, totals included; $everything")
    func pagingScopesAndEverything() async throws {
        let g = try await Self.start()
        defer { g.process.stop() }
        let anna = try #require(try await g.ids("/fhir/Patient?family=meyer").first)
        var seen: [String] = []
        var (status, page) = try await g.json("/fhir/Observation?patient=\(anna)&_count=1")
        #expect(status == 200 && page["total"] as? Int == 2)
        while true {
            seen += ((page["entry"] as? [[String: Any]]) ?? []).compactMap { ($0["resource"] as? [String: Any])?["id"] as? String }
            guard let next = (page["link"] as? [[String: Any]])?.first(where: { $0["relation"] as? String == "next" })?["url"] as? String else {
                break
            }
            let url = try #require(URLComponents(string: next))
            (status, page) = try await g.json(url.path + "?" + (url.percentEncodedQuery ?? ""))
            #expect(status == 200)
        }
        #expect(seen.count == 2 && Set(seen).count == 2)

        let mine = try g.token(["--scope", "patient/*.read", "--patient", anna])
        #expect(try await g.ids("/fhir/Patient", headers: mine) == [anna], "the compartment: only the token's patient")
        let (_, all) = try await g.json("/fhir/Observation", headers: mine)
        #expect(all["total"] as? Int == 2)
        let other = try g.token(["--scope", "patient/*.read", "--patient", "someone-else"])
        let (_, none) = try await g.json("/fhir/Observation?code=718-7", headers: other)
        #expect(none["total"] as? Int == 0, "no count leaks out of another compartment")
        let system = try g.token(["--scope", "system/Observation.read"])
        #expect(try await g.json("/fhir/Patient?family=meyer", headers: system).0 == 403)

        let (everythingStatus, everything) = try await g.json("/fhir/Patient/\(anna)/$everything", headers: mine)
        #expect(everythingStatus == 200)
        let types = ((everything["entry"] as? [[String: Any]]) ?? []).compactMap { ($0["resource"] as? [String: Any])?["resourceType"] as? String }
        for t in ["Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance", "RelatedPerson", "DiagnosticReport"] {
            #expect(types.contains(t), "\(t) not in \(types)")
        }
        #expect(try await g.json("/fhir/Patient/\(anna)/$everything", headers: other).0 == 403)
    }

    @Test("every access is an AuditEvent: who, what, when, from where and the outcome; stored and logged like any record")
    func audit() async throws {
        let g = try await Self.start()
        defer { g.process.stop() }
        let anna = try #require(try await g.ids("/fhir/Patient?family=meyer").first)
        let mine = try g.token(["--scope", "patient/*.read", "--patient", anna, "--subject", "dr-house"])
        #expect(try await g.process.request("GET", "/fhir/Patient/\(anna)", headers: mine).0 == 200)
        #expect(try await g.process.request("GET", "/fhir/Observation?code=718-7", headers: mine).0 == 200)
        #expect(try await g.process.request("GET", "/fhir/Patient/\(anna)", headers: [:]).0 == 401)
        // The trail writes every 50 ms: wait for the last of the three.
        var events: [[String: Any]] = []
        for _ in 0..<50 {
            let (_, bundle) = try await g.json("/fhir/AuditEvent?_count=200")
            events = ((bundle["entry"] as? [[String: Any]]) ?? []).compactMap { $0["resource"] as? [String: Any] }
            if events.contains(where: { "\($0)".contains("anonymous") }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        func agent(_ e: [String: Any]) -> String? { ((e["agent"] as? [[String: Any]])?.first?["who"] as? [String: Any])?["display"] as? String }
        func subtype(_ e: [String: Any]) -> String? { (e["subtype"] as? [[String: Any]])?.first?["code"] as? String }
        let read = try #require(events.first { agent($0) == "dr-house" && subtype($0) == "read" }, "\(events.count) events")
        #expect("\(read["entity"] ?? "")".contains("Patient/\(anna)"))
        #expect(read["outcome"] as? String == "0" && read["recorded"] != nil)
        #expect("\(read["agent"] ?? "")".contains("127.0.0.1"))
        let search = try #require(events.first { agent($0) == "dr-house" && subtype($0) == "search-type" })
        #expect("\(search["entity"] ?? "")".contains(Data("code=718-7".utf8).base64EncodedString()))
        #expect(events.contains { agent($0) == "anonymous" && $0["outcome"] as? String == "4" }, "a refused read is audited too")
        #expect(events.contains { subtype($0) == "create" && ($0["outcomeDesc"] as? String)?.contains("/feeds/hl7v2") == true })
        // Ids are time-ordered (the millisecond clock first, as in UUIDv7), so the store's indexes grow at their end.
        let stamped = events.compactMap { e -> (id: String, at: String)? in
            guard let id = e["id"] as? String, let at = e["recorded"] as? String else { return nil }
            return (id, at)
        }
        #expect(stamped.count == events.count && stamped.allSatisfy { $0.id.count == 32 && $0.id.allSatisfy(\.isHexDigit) })
        let timesByID = stamped.sorted { $0.id < $1.id }.map(\.at)
        #expect(timesByID == timesByID.sorted(), "ids sort as their recorded times")
        // Stored like any record: a version with a ledger entry, so its integrity is known.
        let id = try #require(read["id"] as? String)
        let served = try await g.process.response("GET", "/fhir/AuditEvent/\(id)", headers: g.admin)
        #expect(served.status == 200 && ["pending", "anchored"].contains(served.header("X-Integrity-Status") ?? ""))
        let event = try FHIRJSON().parse(Array(served.body))
        #expect(FHIRValidator().validate(event).filter { $0.severity == .error }.isEmpty)
    }

    @Test("type history: every version of a type, newest first, _since and _count; a patient/ token sees its own")
    func typeHistory() async throws {
        let g = try await Self.start()
        defer { g.process.stop() }
        let (status, bundle) = try await g.json("/fhir/Patient/_history")
        #expect(status == 200 && bundle["type"] as? String == "history")
        let entries = (bundle["entry"] as? [[String: Any]]) ?? []
        let urls = entries.compactMap { $0["fullUrl"] as? String }
        #expect(urls.count == 3, "Anna's admission, the lab result's PID (a second version of her) and Ben: \(urls)")
        #expect(entries.allSatisfy { ($0["extension"] as? [Any])?.isEmpty == false }, "each with its integrity status")
        let (_, limited) = try await g.json("/fhir/Patient/_history?_count=1")
        #expect((limited["entry"] as? [Any])?.count == 1)
        let (_, none) = try await g.json("/fhir/Patient/_history?_since=2999-01-01T00:00:00Z")
        #expect((none["entry"] as? [Any])?.isEmpty ?? true)
        let anna = try #require(try await g.ids("/fhir/Patient?family=meyer").first)
        let mine = try g.token(["--scope", "patient/*.read", "--patient", anna])
        let (_, own) = try await g.json("/fhir/Patient/_history", headers: mine)
        let ownURLs = ((own["entry"] as? [[String: Any]]) ?? []).compactMap { $0["fullUrl"] as? String }
        #expect(!ownURLs.isEmpty && ownURLs.allSatisfy { $0.hasPrefix("Patient/\(anna)/") })
    }

    @Test("/metrics is open and in Prometheus text: messages by outcome, FHIR requests by interaction and status, the queue")
    func metrics() async throws {
        let g = try await Self.start()
        defer { g.process.stop() }
        _ = try await g.ids("/fhir/Patient?family=meyer")
        let (status, body) = try await g.process.request("GET", "/metrics")
        let text = String(decoding: body, as: UTF8.self)
        #expect(status == 200, "\(text)")
        #expect(text.contains("ledgerbridge_hl7_messages_total{") && text.contains("outcome=\"accepted\""), "\(text)")
        #expect(text.contains("ledgerbridge_fhir_requests_total{") && text.contains("interaction=\"search-type\""))
        #expect(text.contains("ledgerbridge_commit_queue_pending"))
    }

    @Test("the SMART Python client (fhirclient) reads the Patient and pages through its Observations")
    func fhirclient() async throws {
        let g = try await Self.start()
        defer { g.process.stop() }
        let anna = try #require(try await g.ids("/fhir/Patient?family=meyer").first)
        let token = try g.token(["--scope", "patient/*.read", "--patient", anna])["Authorization"]!.dropFirst("Bearer ".count)
        let result = try await TestEnvironment.runPython(
            script: "scripts/peers/fhirclient_check.py", [g.process.httpURL + "/fhir", String(token), anna])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let patient = summary["patient"] as? [String: Any]
        #expect(patient?["id"] as? String == anna && patient?["family"] as? String == "Meyer" && patient?["birthDate"] as? String == "1972-03-15")
        let observations = summary["observations"] as? [[String: Any]] ?? []
        #expect(Set(observations.compactMap { $0["code"] as? String }) == ["718-7", "882-1"], "\(summary)")
    }
}
