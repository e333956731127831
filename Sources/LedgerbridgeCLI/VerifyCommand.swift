import ArgumentParser
import Crypto
import FHIR
import Foundation
import Ledger
import LedgerAnchors

/// `ledgerbridge verify BUNDLE [--record FILE] [--key HEX] [--rpc URL] [--tsa-cert PEM]`: checks a proof bundle.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a record's proof bundle offline: record hash, entry, inclusion path, tree-head signature.",
        discussion: "Exit status 0 only when every step holds; each step is printed with why it failed."
    )

    @Argument(help: "A proof bundle (JSON), as GET /fhir/{type}/{id}/_history/{vid}/$proof returns it.")
    var bundle: String

    @Option(help: "The record itself (FHIR XML or JSON): its canonical SHA-256 must be the entry's record hash.")
    var record: String?

    @Option(help: "The gateway's Ed25519 public key you trust (64 hex digits, from /ledger/key); default: the bundle's own.")
    var key: String?

    @Option(help: "An Ethereum JSON-RPC URL: check that each Ethereum receipt's transaction is on that chain and carries the tree head.")
    var rpc: String?

    @Option(help: "The TSA certificate you trust (PEM): check that each RFC 3161 token stamps the root and is signed by it.")
    var tsaCert: String?

    func run() async throws {
        let data = try FileBytes.read(bundle)
        let proof: ProofBundle
        do {
            proof = try JSONDecoder().decode(ProofBundle.self, from: Data(data))
        } catch {
            throw CLIError("\(bundle): not a proof bundle (\(error.localizedDescription))")
        }
        var recordHash: Hash?
        if let record {
            recordHash = Hash(hex: FHIRCanonicalForm.sha256Hex(try FHIRFile.read(record)))
        }
        var trusted: Curve25519.Signing.PublicKey?
        if let key {
            guard let raw = Hex.decode(key), let k = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                throw CLIError("--key: not a 32-byte Ed25519 public key in hex")
            }
            trusted = k
        }
        var result = ProofBundleVerification(proof, recordHash: recordHash, trustedKey: trusted)
        var notes: [String] = []
        if record == nil { notes.append("record: not checked (pass --record FILE to recompute the record hash)") }
        let rpcURL = try rpc.map { text throws(CLIError) -> URL in
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else { throw CLIError("--rpc: not an http(s) URL") }
            return url
        }
        let certificate = try tsaCert.map { path throws(CLIError) in
            do { return try RFC3161Backend.loadCertificate(path) } catch { throw CLIError("--tsa-cert: \(error)") }
        }
        let head = proof.treeHead.signed
        let anchors = proof.anchors ?? []
        if anchors.isEmpty { notes.append("anchors: the bundle carries no anchor receipts") }
        for receipt in anchors {
            switch receipt.type {
            case "rfc3161":
                if let certificate, let head {
                    result.steps.append(AnchorChecks.rfc3161(receipt, root: head.root.array, certificate: certificate))
                } else {
                    notes.append("anchor \(receipt.backend): RFC 3161 token not checked (pass --tsa-cert PEM)")
                }
            case "ethereum":
                if let rpcURL, let head {
                    result.steps.append(await AnchorChecks.ethereum(receipt, head: head, rpc: rpcURL))
                } else {
                    notes.append("anchor \(receipt.backend): Ethereum transaction \(receipt.txHash ?? "?") not checked (pass --rpc URL)")
                }
            case "local":
                notes.append(
                    "anchor \(receipt.backend): \(receipt.status) in the gateway's checkpoint file \(receipt.checkpointFile ?? "?") at offset \(receipt.checkpointOffset.map(String.init) ?? "?") (the gateway's own record; not independently checkable)"
                )
            default:
                notes.append("anchor \(receipt.backend): unknown type \(receipt.type), not checked")
            }
            if receipt.status != "anchored" { notes.append("anchor \(receipt.backend): still \(receipt.status) when the bundle was made") }
        }
        var out = BufferedOutput(fd: 1)
        for step in result.steps {
            out.write("\(step.passed ? "ok  " : "FAIL") \(step.name): \(step.detail)\n")
        }
        for note in notes { out.write("note \(note)\n") }
        out.write(result.passed ? "verified\n" : "NOT verified\n")
        out.flush()
        if !result.passed { throw ExitCode(1) }
    }
}
