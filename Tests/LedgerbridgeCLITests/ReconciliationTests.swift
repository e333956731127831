import FHIR
import Foundation
import GatewayAPI
import Mapping
import TestSupport
import Testing

/// Two sources about one patient, on the real gateway: linked by a shared identifier and by a merge, merged with
/// the provenance of each value, the birth date conflict shown with the precedence's choice.
@Suite("reconciled views over HTTP", .serialized)
struct ReconciliationTests {
    static func start(precedence: [String], unlinked: [[String]] = []) async throws -> (GatewayProcess, String) {
        let (gateway, config) = try await GatewayProcess.embedded(
            adminKey: "recon-admin-key",
            extra: """
                ledger:
                  batchSeconds: 0.3
                reconciliation:
                  precedence: [\(precedence.joined(separator: ", "))]
                  unlinked: [\(unlinked.map { "[" + $0.joined(separator: ", ") + "]" }.joined(separator: ", "))]
                """, prefix: "lb-recon")
        for file in ["source-a.hl7", "source-b.hl7"] {
            let body = Array(FileManager.default.contents(atPath: TestEnvironment.packageRoot + "/Deploy/demo/" + file)!)
            let (status, answer) = try await gateway.request(
                "POST", "/feeds/hl7v2", body: body, headers: ["Content-Type": "x-application/hl7-v2+er7"])
            #expect(status == 200, "\(String(decoding: answer, as: UTF8.self))")
        }
        return (gateway, config)
    }

    static let admin = ["Authorization": "Bearer recon-admin-key"]

    static func get(_ gateway: GatewayProcess, _ path: String, headers: [String: String] = admin) async throws -> (Int, [String: Any]) {
        let (status, body) = try await gateway.request("GET", path, headers: headers)
        return (status, (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:])
    }

    static func patientIDs(_ gateway: GatewayProcess) async throws -> (a: String, b: String) {
        let (_, a) = try await get(gateway, "/fhir/Patient?identifier=E100234")
        let (_, b) = try await get(gateway, "/fhir/Patient?identifier=L-778")
        func id(_ bundle: [String: Any]) -> String? {
            ((bundle["entry"] as? [[String: Any]])?.first?["resource"] as? [String: Any])?["id"] as? String
        }
        return (try #require(id(a)), try #require(id(b)))
    }

    @Test(
        "two sources, one person: linked by the shared identifier; every value with its records; the birth date conflict, chosen by recency or precedence"
    )
    func reconciledView() async throws {
        let (gateway, config) = try await Self.start(precedence: [])
        defer { gateway.stop() }
        let (a, b) = try await Self.patientIDs(gateway)
        #expect(a != b, "two records: different MRNs from different authorities")
        let (status, view) = try await Self.get(gateway, "/reconciliation/Patient/\(a)")
        #expect(status == 200, "\(view)")
        let records = (view["records"] as? [[String: Any]]) ?? []
        #expect(Set(records.compactMap { $0["record"] as? String }) == ["Patient/\(a)", "Patient/\(b)"])
        #expect(Set(records.compactMap { $0["sender"] as? String }) == ["EPIC^GENHOSP", "LABSYS^CITYLAB"])
        #expect(records.allSatisfy { $0["message"] != nil && $0["mappingVersion"] != nil && $0["integrity"] != nil })
        let conflicts = (view["conflicts"] as? [[String: Any]]) ?? []
        let birth = try #require(conflicts.first { $0["element"] as? String == "birthDate" }, "\(conflicts)")
        #expect((birth["values"] as? [[String: Any]])?.count == 2)
        #expect(birth["chosen"] as? String == "1972-03-16" && birth["rule"] as? String == "most recent record", "the lab's message came last")
        #expect(!conflicts.contains { $0["element"] as? String == "gender" }, "both say female: no conflict")
        let patient = try #require(view["patient"] as? [String: Any])
        #expect(patient["gender"] as? String == "female" && patient["birthDate"] as? String == "1972-03-16")
        let values = Set(((patient["identifier"] as? [[String: Any]]) ?? []).compactMap { $0["value"] as? String })
        #expect(values == ["E100234", "L-778", "123-45-6789"], "both MRNs and the shared number")
        let provenance = try #require(view["provenance"] as? [String: Any])
        let gender = (provenance["gender"] as? [[String: Any]])?.first?["records"] as? [String]
        #expect(Set(gender ?? []) == ["Patient/\(a)", "Patient/\(b)"])

        // The same provenance as FHIR Provenance resources: one per record, each naming the elements it gave.
        let provenances = (view["provenanceResources"] as? [[String: Any]]) ?? []
        #expect(provenances.count == 2)
        for p in provenances {
            let data = try JSONSerialization.data(withJSONObject: p)
            let resource = try FHIRJSON().parse(Array(data))
            #expect(FHIRValidator().validate(resource).filter { $0.severity == .error }.isEmpty, "\(p)")
            #expect("\(p)".contains("targetElement") && "\(p)".contains("birthDate"))
        }
        let (_, list) = try await Self.get(gateway, "/reconciliation/conflicts")
        #expect((list["total"] as? Int ?? 0) >= 1)
        #expect("\(list)".contains("birthDate"))
        // A patient/ token of one record sees only that record: no conflict with what it may not read.
        let token = try HL7ParseCommandTests.run(["token", "--config", config, "--scope", "patient/*.read", "--patient", a])
        let mine = ["Authorization": "Bearer " + token.out.trimmingCharacters(in: .whitespacesAndNewlines)]
        let (own, ownView) = try await Self.get(gateway, "/reconciliation/Patient/\(a)", headers: mine)
        #expect(own == 200 && (ownView["records"] as? [Any])?.count == 1 && (ownView["conflicts"] as? [Any])?.isEmpty == true)
        #expect(try await Self.get(gateway, "/reconciliation/conflicts", headers: mine).0 == 403)
    }

    @Test("a birth time (_birthDate) goes with the birth date chosen, from the record that sent it: never one source's date with another's time")
    func birthTimeFollowsItsDate() throws {
        func record(_ n: Int, _ members: [(String, JSONValue)], sender: String) -> PatientReconciler.Record {
            var resource = JSONObject([("resourceType", .string("Patient")), ("id", .string("p\(n)"))])
            for (k, v) in members { resource[k] = v }
            return PatientReconciler.Record(
                reference: "Patient/p\(n)", resource: resource, sender: sender, sourceReference: nil, storedAt: "", mappingVersion: nil,
                integrity: nil, lastUpdated: Int64(n))
        }
        func time(_ t: String) -> JSONValue {
            .object(
                JSONObject([
                    (
                        "extension",
                        .array([
                            .object(
                                JSONObject([
                                    ("url", .string("http://hl7.org/fhir/StructureDefinition/patient-birthTime")), ("valueDateTime", .string(t)),
                                ]))
                        ])
                    )
                ]))
        }
        let withTime = record(1, [("birthDate", .string("1988-08-18")), ("_birthDate", time("1988-08-18T11:26:00+02:00"))], sender: "A^X")
        let dateOnly = record(2, [("birthDate", .string("1988-08-19"))], sender: "B^Y")
        var configuration = PatientReconciler.Configuration()
        // The newer record's date has no time: the older record's time is not put beside it.
        var view = PatientReconciler.view([withTime, dateOnly], configuration: configuration)
        #expect(view.patient["birthDate"] == .string("1988-08-19") && view.patient["_birthDate"] == nil, "\(view.patient)")
        #expect(view.conflicts.map(\.element) == ["birthDate"])
        // Chosen by precedence, the date keeps its own time.
        configuration.precedence = ["A"]
        view = PatientReconciler.view([withTime, dateOnly], configuration: configuration)
        #expect(view.patient["birthDate"] == .string("1988-08-18") && view.patient["_birthDate"] == time("1988-08-18T11:26:00+02:00"))
        // The same date with two times: the times are the conflict.
        let otherTime = record(3, [("birthDate", .string("1988-08-18")), ("_birthDate", time("1988-08-18T23:00:00+02:00"))], sender: "C^Z")
        view = PatientReconciler.view([withTime, otherTime], configuration: PatientReconciler.Configuration())
        #expect(view.conflicts.map(\.element) == ["_birthDate"] && view.patient["_birthDate"] == time("1988-08-18T23:00:00+02:00"))
    }

    @Test("an operator's unlinking keeps two records apart: no shared view, no conflict")
    func unlinking() async throws {
        let a = "Patient/" + StableID.make(type: "Patient", namespace: "GENHOSP", value: "E100234")
        let b = "Patient/" + StableID.make(type: "Patient", namespace: "CITYLAB", value: "L-778")
        let (gateway, _) = try await Self.start(precedence: [], unlinked: [[a, b]])
        defer { gateway.stop() }
        let (ids, _) = (try await Self.patientIDs(gateway), ())
        #expect("Patient/\(ids.a)" == a && "Patient/\(ids.b)" == b, "ids derive from MRN and authority")
        let (_, view) = try await Self.get(gateway, "/reconciliation/\(a)")
        #expect((view["records"] as? [Any])?.count == 1 && (view["conflicts"] as? [Any])?.isEmpty == true, "\(view)")
        let (_, list) = try await Self.get(gateway, "/reconciliation/conflicts")
        #expect(list["total"] as? Int == 0)
    }

    @Test("unlinking through the API: the decision is a stored, anchored Basic record; the view parts the records; withdrawing it joins them again")
    func unlinkingThroughTheAPI() async throws {
        let (gateway, _) = try await Self.start(precedence: [])
        defer { gateway.stop() }
        let ids = try await Self.patientIDs(gateway)
        let (a, b) = ("Patient/\(ids.a)", "Patient/\(ids.b)")
        func records() async throws -> Int {
            ((try await Self.get(gateway, "/reconciliation/\(a)").1["records"] as? [Any]) ?? []).count
        }
        #expect(try await records() == 2)

        func post(_ body: String, headers: [String: String] = Self.admin) async throws -> (Int, [String: Any]) {
            let (status, data) = try await gateway.request(
                "POST", "/reconciliation/unlinks", body: Array(body.utf8),
                headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a })
            return (status, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
        }
        #expect(try await post(#"{"patients": ["\#(a)", "\#(b)"]}"#, headers: [:]).0 == 401)
        #expect(try await post(#"{"patients": ["\#(a)"]}"#).0 == 400)
        #expect(try await post(#"{"patients": ["\#(a)", "\#(a)"]}"#).0 == 400)
        #expect(try await post(#"{"patients": ["\#(a)", "Patient/nobody"]}"#).0 == 404)
        let (created, decision) = try await post(#"{"patients": ["\#(b)", "\#(a)"], "reason": "twins, checked at the desk"}"#)
        #expect(created == 201 && decision["resourceType"] as? String == "Basic", "\(decision)")
        let id = try #require(decision["id"] as? String)
        #expect(try await records() == 1)
        let (_, list) = try await Self.get(gateway, "/reconciliation/unlinks")
        let listed = try #require((list["unlinks"] as? [[String: Any]])?.first)
        #expect(listed["patients"] as? [String] == [a, b].sorted() && listed["reason"] as? String == "twins, checked at the desk")
        #expect(listed["source"] as? String == "operator" && listed["by"] as? String == "admin key")
        // A record like any other: read back with its integrity status.
        let stored = try await gateway.response("GET", "/fhir/Basic/\(id)", headers: Self.admin)
        #expect(
            stored.status == 200 && ["pending", "anchored"].contains(stored.header("X-Integrity-Status") ?? ""),
            "\(stored.status) \(String(decoding: stored.body, as: UTF8.self))")

        let (deleted, _) = try await gateway.request("DELETE", "/reconciliation/unlinks/\(id)", headers: Self.admin)
        #expect(deleted == 204)
        #expect(try await records() == 2)
        #expect(try await gateway.request("DELETE", "/reconciliation/unlinks/\(id)", headers: Self.admin).0 == 404)
        #expect(try await gateway.response("GET", "/fhir/Basic/\(id)", headers: Self.admin).status == 410)
    }

    @Test("a configured precedence decides the conflict; a merge message (A40) links the prior record through Patient.link")
    func precedenceAndMerge() async throws {
        let (gateway, _) = try await Self.start(precedence: ["EPIC"])
        defer { gateway.stop() }
        let (a, _) = try await Self.patientIDs(gateway)
        let (_, view) = try await Self.get(gateway, "/reconciliation/Patient/\(a)")
        let birth = ((view["conflicts"] as? [[String: Any]]) ?? []).first { $0["element"] as? String == "birthDate" }
        #expect(birth?["chosen"] as? String == "1972-03-15" && birth?["rule"] as? String == "precedence: EPIC first")

        // An old registration under another MRN, then an A40 merging it into E100234.
        let old =
            "MSH|^~\\&|EPIC|GENHOSP|LB|LB|20260101090000+0100||ADT^A04^ADT_A01|OLD-1|P|2.5.1\rPID|1||E099999^^^GENHOSP^MR||Meyer^Anne||19720315|F\r"
        let merge =
            "MSH|^~\\&|EPIC|GENHOSP|LB|LB|20260305090000+0100||ADT^A40^ADT_A39|MRG-1|P|2.5.1\rEVN|A40|20260305090000\rPID|1||E100234^^^GENHOSP^MR~123-45-6789^^^SSA^SS||Meyer^Anna||19720315|F\rMRG|E099999^^^GENHOSP^MR\r"
        for m in [old, merge] {
            let (status, _) = try await gateway.request(
                "POST", "/feeds/hl7v2", body: Array(m.utf8), headers: ["Content-Type": "x-application/hl7-v2+er7"])
            #expect(status == 200)
        }
        let (_, merged) = try await Self.get(gateway, "/reconciliation/Patient/\(a)")
        let records = Set(((merged["records"] as? [[String: Any]]) ?? []).compactMap { $0["record"] as? String })
        #expect(records.count == 3, "the EHR's record, the lab's, and the merged-away registration: \(records)")
        let names = "\((merged["patient"] as? [String: Any])?["name"] ?? "")"
        #expect(names.contains("Anne") && names.contains("Anna"))
    }
}
