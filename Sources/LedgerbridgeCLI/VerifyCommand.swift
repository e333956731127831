import ArgumentParser
import Crypto
import FHIR
import Foundation
import Ledger

/// `ledgerbridge verify BUNDLE [--record FILE] [--key HEX]`: checks a proof bundle offline.
struct VerifyCommand: ParsableCommand {
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

    func run() throws {
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
        let result = ProofBundleVerification(proof, recordHash: recordHash, trustedKey: trusted)
        var out = BufferedOutput(fd: 1)
        for step in result.steps {
            out.write("\(step.passed ? "ok  " : "FAIL") \(step.name): \(step.detail)\n")
        }
        if record == nil { out.write("note record: not checked (pass --record FILE to recompute the record hash)\n") }
        out.write("note anchors: not checked by this version\n")
        out.write(result.passed ? "verified\n" : "NOT verified\n")
        out.flush()
        if !result.passed { throw ExitCode(1) }
    }
}
