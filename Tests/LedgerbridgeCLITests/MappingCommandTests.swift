import FHIR
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ledgerbridge map`, `mappings check`, the agreement with a peer converter, and a running gateway picking up edits.
@Suite("mapping commands and hot reload", .serialized)
struct MappingCommandTests {
    static let shipped = TestEnvironment.packageRoot + "/Mappings"

    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try HL7ParseCommandTests.run(arguments)
    }

    /// A copy of the shipped folder to edit.
    static func copyOfMappings() throws -> String {
        let directory = NSTemporaryDirectory() + "lb-mappings-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: shipped, toPath: directory)
        return directory
    }

    static func replace(_ old: String, with new: String, in file: String) throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains(old), "\(file) has no \(old)")
        try text.replacingOccurrences(of: old, with: new).write(toFile: file, atomically: true, encoding: .utf8)
    }

    @Test(
        "mappings check: the shipped set loads and its fixtures pass; a broken file is named with line and column; a changed expectation shows a diff"
    )
    func check() throws {
        let ok = try Self.run(["mappings", "check", Self.shipped])
        #expect(ok.status == 0, "\(ok.out)\(ok.err)")
        #expect(ok.out.contains("4 of 4 fixtures pass"))
        #expect(!ok.out.contains("warning:"), "the shipped set includes every group it defines: \(ok.out)")

        let spare = try Self.copyOfMappings()
        try "group: spare\nresources: []\n".write(toFile: spare + "/groups/spare.yaml", atomically: true, encoding: .utf8)
        let warned = try Self.run(["mappings", "check", spare])
        #expect(warned.status == 0, "a warning does not fail the check: \(warned.out)\(warned.err)")
        #expect(warned.out.contains("warning: \(spare)/groups/spare.yaml:1:8: resource group 'spare' is not included"), "\(warned.out)")

        let copy = try Self.copyOfMappings()
        let pid = copy + "/segments/PID-Patient.yaml"
        try Self.replace("{from: PID-7, to: birthDate}", with: "{from: PID-7, to: birthdate}", in: pid)
        try Self.replace("vocabulary: IdentifierType}", with: "vocabulary: IdentifierTypes}", in: copy + "/datatypes/CX-Identifier.yaml")
        let broken = try Self.run(["mappings", "check", copy])
        #expect(broken.status == 1)
        let line =
            try #require(
                try String(contentsOfFile: pid, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
                    $0.contains("birthdate")
                }) + 1
        #expect(broken.err.contains("\(pid):\(line):23: Patient has no element 'birthdate'"), "\(broken.err)")
        #expect(broken.err.contains("CX-Identifier.yaml:") && broken.err.contains("no vocabulary named 'IdentifierTypes'"))
        #expect(broken.err.contains("2 errors in \(copy)"))

        let fixed = try Self.copyOfMappings()
        try Self.replace(#""gender": "female""#, with: #""gender": "male""#, in: fixed + "/fixtures/adt-a01.json")
        let differs = try Self.run(["mappings", "check", fixed])
        #expect(differs.status == 1)
        #expect(differs.out.contains("FAIL  \(fixed)/fixtures/adt-a01.hl7"))
        #expect(differs.out.contains(#".resource.gender: expected "male", got "female""#), "\(differs.out)")
        #expect(differs.out.contains("3 of 4 fixtures pass"))
    }

    @Test("map: one transaction Bundle of PUTs by stable id with a Provenance; XML too; a message without a map is named, exit 1")
    func map() throws {
        let input = Self.shipped + "/fixtures/oru-r01.hl7"
        let json = try Self.run(["map", "--mappings", Self.shipped, input])
        #expect(json.status == 0, "\(json.err)")
        let bundle = try FHIRJSON().parse(json.out)
        #expect(bundle["type"] == .string("transaction"))
        let entries = try #require(bundle["entry"]?.arrayValue)
        let types = entries.compactMap { $0.objectValue?["resource"]?.objectValue?["resourceType"]?.stringValue }
        #expect(types.contains("DiagnosticReport") && types.filter { $0 == "Observation" }.count == 2 && types.last == "Provenance")
        for e in entries {
            let r = try #require(e.objectValue?["resource"]?.objectValue)
            let url = e.objectValue?["request"]?.objectValue?["url"]?.stringValue
            #expect(url == "\(r["resourceType"]!.stringValue!)/\(r["id"]!.stringValue!)")
            #expect(e.objectValue?["request"]?.objectValue?["method"] == .string("PUT"))
        }
        #expect(FHIRValidator().validate(bundle).filter { $0.severity == .error }.isEmpty)
        // The Provenance (the guide's MSH[Provenance-Source]): occurred at MSH-7, authored by the sending facility.
        let provenance = try #require(entries.last?.objectValue?["resource"]?.objectValue)
        let header = try #require(entries.first?.objectValue?["resource"]?.objectValue)
        #expect(provenance["occurredDateTime"] == .string("2026-03-02T08:00:00+01:00"))
        let author = provenance["agent"]?.arrayValue?.first?.objectValue
        #expect(author?["type"]?.objectValue?["coding"]?.arrayValue?.first?.objectValue?["code"] == .string("author"))
        #expect(author?["who"] != nil && author?["who"] == header["sender"], "\(String(describing: author))")
        let xml = try Self.run(["map", "--mappings", Self.shipped, "--format", "xml", input])
        #expect(xml.status == 0)
        let fromXML = try FHIRXMLParser().parse(Array(xml.out.utf8))
        #expect(fromXML["entry"]?.arrayValue?.count == entries.count)

        let directory = NSTemporaryDirectory() + "lb-map-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ack = directory + "/ack.hl7"
        try "MSH|^~\\&|A|B|C|D|20260101||ACK^A01|1|P|2.5\rMSA|AA|1\r".write(toFile: ack, atomically: true, encoding: .utf8)
        let unmapped = try Self.run(["map", "--mappings", Self.shipped, ack])
        #expect(unmapped.status == 1)
        #expect(unmapped.err.contains("\(ack)#0: unmapped-type at MSH-9: no mapping for ACK^A01"), "\(unmapped.err)")
        let coverage = try Self.run(["map", "--mappings", Self.shipped, "--coverage", Self.shipped + "/fixtures/adt-a01.hl7"])
        #expect(coverage.err.contains("% of ") && coverage.err.contains("not mapped:"), "\(coverage.err)")
    }

    @Test("element agreement with the peer converter's bundles (hl7v2-expected), per message type: at least the recorded floor")
    func agreement() async throws {
        let out = NSTemporaryDirectory() + "lb-agreement-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try await TestEnvironment.runPython(
            script: "scripts/mapping/agreement.py",
            [
                "--binary", try TestEnvironment.ledgerbridgeBinary(), "--mappings", Self.shipped,
                "--messages", TestEnvironment.packageRoot + "/Tests/HL7v2Tests/Fixtures/hl7v2",
                "--expected", TestEnvironment.packageRoot + "/Tests/FHIRTests/Fixtures/hl7v2-expected", "--json", out,
            ])
        print(result.output)
        let figures = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any]
        let overall = try #require(figures?["overall"] as? Double)
        // The floor is the figure this mapping set reached when it was written (see docs/mapping.md); a change that
        // loses agreement fails here and has to say why.
        #expect(overall >= 0.70, "\(result.output)")
        #expect((figures?["notMapped"] as? [Any])?.isEmpty == true, "\(figures?["notMapped"] ?? "")")
        let perType = try #require(figures?["perMessageType"] as? [String: Double])
        #expect(perType.count >= 55)
    }

    @Test("serve picks up a valid edit of Mappings/ by itself and on SIGHUP, refuses an invalid one and keeps serving the previous set")
    func hotReload() async throws {
        let mappings = try Self.copyOfMappings()
        let (gateway, _) = try await GatewayProcess.embedded(
            adminKey: "test-admin-key",
            extra: """
                mappings: \(mappings)
                mappingsReloadSeconds: 0.2
                """, prefix: "lb-reload")
        defer { gateway.stop() }
        let admin = ["Authorization": "Bearer test-admin-key"]

        func post(_ n: Int) async throws -> String {
            let message = "MSH|^~\\&|EHR|HOSP|LB|LB|20260101120000+0000||ADT^A04^ADT_A01|R\(n)|P|2.5\rPID|1||MRN\(n)^^^HOSP^MR||Roe^Ann||19700101|F\r"
            let (status, body) = try await gateway.request(
                "POST", "/feeds/hl7v2", body: Array(message.utf8),
                headers: ["Content-Type": "x-application/hl7-v2+er7", "Accept": "application/json"])
            #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
            let summary = try JSONSerialization.jsonObject(with: body) as? [String: Any]
            let refs = ((summary?["messages"] as? [[String: Any]])?.first?["resources"] as? [[String: Any]] ?? []).compactMap {
                $0["reference"] as? String
            }
            return try #require(refs.first { $0.hasPrefix("Patient/") })
        }
        func patient(_ reference: String) async throws -> [String: Any] {
            let (status, body) = try await gateway.request("GET", "/fhir/\(reference)", headers: admin)
            #expect(status == 200)
            return try JSONSerialization.jsonObject(with: body) as? [String: Any] ?? [:]
        }
        func status() async throws -> [String: Any] {
            let (_, body) = try await gateway.request("GET", "/admin/mappings", headers: admin)
            return try JSONSerialization.jsonObject(with: body) as? [String: Any] ?? [:]
        }
        func waitFor(_ condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
            for _ in 0..<100 {
                let s = try await status()
                if condition(s) { return s }
                try await Task.sleep(for: .milliseconds(100))
            }
            return try await status()
        }

        let first = try await patient(try await post(1))
        #expect(first["birthDate"] as? String == "1970-01-01")
        let before = try await status()
        let version = try #require(before["version"] as? String)
        #expect((before["coverage"] as? [String: Any])?["messages"] as? Int == 1)

        // A valid edit: birth dates are no longer mapped. The watcher swaps the new set in.
        try Self.replace("  - {from: PID-7, to: birthDate}\n", with: "", in: mappings + "/segments/PID-Patient.yaml")
        let after = try await waitFor { ($0["version"] as? String) != version }
        let edited = try #require(after["version"] as? String)
        #expect(edited != version)
        let second = try await patient(try await post(2))
        #expect(second["birthDate"] == nil)

        // An invalid edit is refused: the error shows, with its place, and the edited set keeps serving.
        try "name: [unclosed\n".write(toFile: mappings + "/segments/Broken.yaml", atomically: true, encoding: .utf8)
        let refused = try await waitFor { $0["rejected"] != nil }
        let errors = (refused["rejected"] as? [String: Any])?["errors"] as? [String] ?? []
        #expect(errors.contains { $0.hasPrefix("segments/Broken.yaml:") && $0.contains("YAML syntax") }, "\(refused)")
        #expect(refused["version"] as? String == edited)
        let third = try await patient(try await post(3))
        #expect(third["birthDate"] == nil)
        #expect(gateway.log.contains("mapping edit refused"))

        // Fixed again, and a SIGHUP reloads at once.
        try FileManager.default.removeItem(atPath: mappings + "/segments/Broken.yaml")
        kill(gateway.pid, SIGHUP)
        let reloaded = try await waitFor { $0["rejected"] == nil }
        #expect(reloaded["version"] as? String == edited)
        #expect(gateway.log.contains("SIGHUP: reloading mappings"))
        #expect((reloaded["warnings"] as? [String])?.isEmpty == true, "\(reloaded)")

        // A group no map includes loads, with a warning on the admin endpoint and in the log.
        try "group: spare\nresources: []\n".write(toFile: mappings + "/groups/spare.yaml", atomically: true, encoding: .utf8)
        let warned = try await waitFor { !(($0["warnings"] as? [String]) ?? []).isEmpty }
        let warnings = warned["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.hasPrefix("groups/spare.yaml:1:8:") && $0.contains("not included") }, "\(warned)")
        #expect(warned["rejected"] == nil && (warned["version"] as? String) != edited)
        #expect(gateway.log.contains("mapping warning"))
    }
}
