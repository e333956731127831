import FHIR
import Foundation
import TestSupport
import Testing

@Suite("the real gateway anchoring to real ledgers, and 'verify' checking the anchors", .serialized)
struct AnchorCommandTests {
    @Test(
        "serve anchors to local, Ethereum and RFC 3161; $proof over HTTP verifies with --rpc and --tsa-cert; a ledger out of reach fails the step that needs it"
    )
    func serveAnchorsAndVerify() async throws {
        let directory = NSTemporaryDirectory() + "lb-anchor-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let eth = try EthereumPeer()
        let tsa = try TSAPeer(directory: directory + "/tsa")
        defer {
            eth.stop()
            tsa.stop()
        }
        let (gateway, config) = try await GatewayProcess.embedded(
            adminKey: nil,
            extra: """
                ledger:
                  batchSeconds: 0.5
                  retryInitialSeconds: 0.1
                  backends:
                    - type: local
                    - name: chain
                      type: ethereum
                      rpcURL: \(eth.rpcURL)
                      confirmations: 1
                      pollSeconds: 0.1
                    - name: tsa
                      type: rfc3161
                      url: \(tsa.url)
                      certificate: \(tsa.certificatePath)
                """, prefix: "lb-anchor-cli")
        defer { gateway.stop() }

        let message = Array(
            ("MSH|^~\\&|EHR|HOSP|LB|LB|20260101120000||ADT^A01^ADT_A01|CLI1|P|2.5\rPID|1||MRN77^^^HOSP^MR||Roe^Ann||19700101|F\r").utf8)
        let (status, body) = try await gateway.request(
            "POST", "/feeds/hl7v2", body: message, headers: ["Content-Type": "x-application/hl7-v2+er7", "Accept": "application/json"])
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
        let summary = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        let resources = ((summary?["messages"] as? [[String: Any]])?.first?["resources"] as? [[String: Any]]) ?? []
        let patient = try #require(resources.compactMap { $0["reference"] as? String }.first { $0.hasPrefix("Patient/") })

        // The gateway seals and anchors by itself within a few batch windows.
        var anchored = false
        for _ in 0..<100 {
            let (_, statusBody) = try await gateway.request("GET", "/ledger/status")
            let backends = (try JSONSerialization.jsonObject(with: statusBody) as? [String: Any])?["backends"] as? [[String: Any]] ?? []
            if backends.count == 3,
                backends.allSatisfy({ ($0["anchored"] as? Int ?? 0) >= 1 && ($0["pending"] as? Int) == 0 && ($0["submitted"] as? Int) == 0 })
            {
                anchored = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(anchored, "\(gateway.log)")

        // FHIR reads need a bearer token whose scopes allow them.
        let patientID = String(patient.split(separator: "/")[1])
        func token(_ arguments: [String]) throws -> String {
            let t = try HL7ParseCommandTests.run(["token", "--config", config] + arguments)
            #expect(t.status == 0, "\(t.err)")
            return t.out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let mine = ["Authorization": "Bearer " + (try token(["--scope", "patient/*.read", "--patient", patientID]))]
        let system = ["Authorization": "Bearer " + (try token(["--scope", "system/*.read"]))]
        // $proof and $integrity need what reading the version needs.
        #expect(try await gateway.response("GET", "/fhir/\(patient)/_history/1/$proof").status == 401)
        let otherPatient = ["Authorization": "Bearer " + (try token(["--scope", "patient/*.read", "--patient", "another"]))]
        #expect(try await gateway.response("GET", "/fhir/\(patient)/_history/1/$proof", headers: otherPatient).status == 403)
        let (proofStatus, bundle) = try await gateway.request("GET", "/fhir/\(patient)/_history/1/$proof", headers: mine)
        #expect(proofStatus == 200, "\(String(decoding: bundle, as: UTF8.self))")
        try bundle.write(to: URL(fileURLWithPath: directory + "/bundle.json"))
        let (integrityStatus, integrity) = try await gateway.request("GET", "/fhir/\(patient)/_history/1/$integrity", headers: mine)
        #expect(integrityStatus == 200 && String(decoding: integrity, as: UTF8.self).contains(#""status":"anchored""#))
        let (_, keyBody) = try await gateway.request("GET", "/ledger/key")
        let key = try #require((try JSONSerialization.jsonObject(with: keyBody) as? [String: Any])?["publicKey"] as? String)
        #expect(try HL7ParseCommandTests.run(["ledger", "key", "--config", config]).out.contains(key))
        let (_, heads) = try await gateway.request("GET", "/ledger/tree-heads")
        #expect(String(decoding: heads, as: UTF8.self).contains(#""txHash""#) && String(decoding: heads, as: UTF8.self).contains(#""token""#))
        let (missing, _) = try await gateway.request("GET", "/fhir/Patient/nope/_history/1/$proof", headers: system)
        #expect(missing == 404)

        // The command-line bundle is the same bundle; it also writes the record to check against.
        let cli = try HL7ParseCommandTests.run(["proof", "--config", config, "--record-out", directory + "/record.json", "\(patient)/_history/1"])
        #expect(cli.status == 0, "\(cli.err)")
        let fromHTTP = try JSONSerialization.jsonObject(with: bundle) as? NSDictionary
        let fromCLI = try JSONSerialization.jsonObject(with: Data(cli.out.utf8)) as? NSDictionary
        #expect(fromHTTP == fromCLI)

        let verified = try HL7ParseCommandTests.run([
            "verify", directory + "/bundle.json", "--record", directory + "/record.json", "--key", key, "--rpc", eth.rpcURL, "--tsa-cert",
            tsa.certificatePath,
        ])
        #expect(verified.status == 0, "\(verified.out) \(verified.err)")
        for step in ["ok   record", "ok   inclusion", "ok   signature", "ok   anchor chain", "ok   anchor tsa", "note anchor local"] {
            #expect(verified.out.contains(step), "\(step) in \(verified.out)")
        }
        let anonymous = try await gateway.response("GET", "/fhir/\(patient)")
        #expect(anonymous.status == 401 && anonymous.header("WWW-Authenticate") == "Bearer")
        let garbage = try await gateway.response("GET", "/fhir/\(patient)", headers: ["Authorization": "Bearer not-a-token"])
        #expect(garbage.status == 401)
        let someoneElse = ["Authorization": "Bearer " + (try token(["--scope", "patient/*.read", "--patient", "another"]))]
        #expect(try await gateway.response("GET", "/fhir/\(patient)", headers: someoneElse).status == 403)
        let observationsOnly = ["Authorization": "Bearer " + (try token(["--scope", "user/Observation.read"]))]
        #expect(try await gateway.response("GET", "/fhir/\(patient)", headers: observationsOnly).status == 403)
        #expect(try await gateway.response("GET", "/fhir/\(patient)", headers: system).status == 200)
        let badScope = try HL7ParseCommandTests.run(["token", "--config", config, "--scope", "everything"])
        #expect(badScope.status != 0 && badScope.err.contains("not a SMART scope"))

        // FHIR read and vread serve the record with its integrity status outside it: the body still hashes to its entry.
        let read = try await gateway.response("GET", "/fhir/\(patient)", headers: mine)
        #expect(read.status == 200 && read.header("X-Integrity-Status") == "anchored" && read.header("ETag") == "W/\"1\"", "\(read.headers)")
        #expect(
            read.header("Link") == "</fhir/\(patient)/_history/1/$proof>; rel=\"proof\"" && read.header("Last-Modified")?.hasSuffix("GMT") == true)
        let served = try FHIRJSON().parse(Array(read.body))
        let bundleJSON = try JSONSerialization.jsonObject(with: bundle) as? [String: Any]
        let entryHash = (bundleJSON?["entry"] as? [String: Any])?["recordHash"] as? String
        #expect(FHIRCanonicalForm.sha256Hex(served) == entryHash)
        let vread = try await gateway.response("GET", "/fhir/\(patient)/_history/1?_format=xml", headers: mine)
        #expect(vread.status == 200 && vread.header("Content-Type") == "application/fhir+xml")
        #expect(FHIRCanonicalForm.sha256Hex(try FHIRXMLParser().parse(Array(vread.body))) == entryHash, "XML and JSON are the same record")
        let history = try await gateway.response("GET", "/fhir/\(patient)/_history", headers: mine)
        let historyBundle = try FHIRJSON().parse(Array(history.body))
        #expect(history.status == 200 && FHIRValidator().validate(historyBundle).filter { $0.severity == .error }.isEmpty)
        #expect(String(decoding: history.body, as: UTF8.self).contains(#""valueCode":"anchored""#))
        let metadata = try await gateway.response("GET", "/fhir/metadata")
        let capability = try FHIRJSON().parse(Array(metadata.body))
        #expect(
            metadata.status == 200 && FHIRValidator().validate(capability).filter { $0.severity == .error }.isEmpty,
            "\(FHIRValidator().validate(capability))")
        let unknown = try await gateway.response("GET", "/fhir/Patient/nope", headers: system)
        #expect(unknown.status == 404 && String(decoding: unknown.body, as: UTF8.self).contains("OperationOutcome"))
        let notAType = try await gateway.response("GET", "/fhir/Patients/\(patientID)", headers: system)
        #expect(notAType.status == 404 && String(decoding: notAType.body, as: UTF8.self).contains("not a FHIR R4 resource type"))
        let badVersion = try await gateway.response("GET", "/fhir/\(patient)/_history/x", headers: mine)
        #expect(badVersion.status == 400)

        let unchecked = try HL7ParseCommandTests.run(["verify", directory + "/bundle.json", "--key", key])
        #expect(unchecked.status == 0 && unchecked.out.contains("not checked (pass --rpc URL)") && unchecked.out.contains("(pass --tsa-cert PEM)"))

        // Another TSA's certificate, and a node that cannot be reached: those steps fail, and the exit status says so.
        let stranger = try TSAPeer(directory: directory + "/stranger")
        stranger.stop()
        let wrongCert = try HL7ParseCommandTests.run(["verify", directory + "/bundle.json", "--tsa-cert", stranger.certificatePath])
        #expect(wrongCert.status != 0 && wrongCert.out.contains("FAIL anchor tsa"), "\(wrongCert.out)")
        try await eth.setRPC(up: false)
        let offline = try HL7ParseCommandTests.run(["verify", directory + "/bundle.json", "--rpc", eth.rpcURL])
        #expect(offline.status != 0 && offline.out.contains("FAIL anchor chain"), "\(offline.out)")
        let ledgerStatus = try HL7ParseCommandTests.run(["ledger", "status", "--config", config])
        #expect(ledgerStatus.out.contains("chain: ") && ledgerStatus.out.contains("tsa: "), "\(ledgerStatus.out)")
    }
}
