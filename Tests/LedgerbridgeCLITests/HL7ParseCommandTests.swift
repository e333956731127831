import Foundation
import TestSupport
import Testing

@testable import LedgerbridgeCLI

@Suite("ledgerbridge hl7 parse")
struct HL7ParseCommandTests {
    static let packageRoot = TestEnvironment.packageRoot
    static let fixtures = packageRoot + "/Tests/HL7v2Tests/Fixtures"

    static func corpusFiles() -> [String] {
        ["hl7v2", "hl7v2-batch"].flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(atPath: fixtures + "/" + folder)) ?? []).sorted().map {
                fixtures + "/" + folder + "/" + $0
            }
        }
    }

    static func writeTemp(_ name: String, _ text: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lb-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("JSON Lines: one object per message, MSH numbering, escapes decoded")
    func jsonLines() throws {
        let path = try Self.writeTemp(
            "two.hl7",
            "MSH|^~\\&|A|B|C|D|2026||ADT^A01|M1|P|2.5\rPID|1||1^^^H&1.2&ISO~2||DOE\\S\\X^J\r\nMSH|^~\\&|A|B|C|D|2026||ADT^A08|M2|P|2.5\rPID|1\r")
        var out = MemoryOutput(), err = MemoryOutput()
        let summary = HL7ParseRunner(check: true, quiet: false).run(files: [path], output: &out, errors: &err)
        #expect(summary.failures == 0 && summary.messages == 2)
        #expect(err.bytes.isEmpty)
        let lines = out.text.split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["file"] as? String == path)
        #expect(first["index"] as? Int == 0)
        let segments = first["segments"] as! [[String: Any]]
        #expect(segments.map { $0["id"] as! String } == ["MSH", "PID"])
        let msh = segments[0]["fields"] as! [[[[String]]]]
        #expect(msh[0] == [[["MSH"]]])
        #expect(msh[1] == [[["|"]]])
        #expect(msh[2] == [[["^~\\&"]]])
        #expect(msh[9] == [[["ADT"], ["A01"]]])
        let pid = segments[1]["fields"] as! [[[[String]]]]
        #expect(pid[3] == [[["1"], [""], [""], ["H", "1.2", "ISO"]], [["2"]]])
        #expect(pid[5] == [[["DOE^X"], ["J"]]])
        #expect(pid[2] == [[[""]]])
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect(second["index"] as? Int == 1)
    }

    @Test("--check --quiet over the whole corpus: nothing printed, nothing fails")
    func corpusCheck() {
        var out = MemoryOutput(), err = MemoryOutput()
        let files = Self.corpusFiles()
        #expect(files.count >= 150)
        let summary = HL7ParseRunner(check: true, quiet: true).run(files: files, output: &out, errors: &err)
        #expect(summary.failures == 0, "\(err.text)")
        #expect(out.bytes.isEmpty)
        #expect(summary.messages >= 150)
        #expect(summary.subcomponents > 50_000)
    }

    @Test("malformed input: file:byte-offset: reason on stderr, good messages still printed")
    func malformed() throws {
        let path = try Self.writeTemp("bad.hl7", "MSH|^~\\&|A|B|C|D|2026||ADT^A01|M1|P|2.5\rPID|1\rMSH|^^\\&|A\r")
        var out = MemoryOutput(), err = MemoryOutput()
        let summary = HL7ParseRunner(check: false, quiet: false).run(files: [path, "/nonexistent/x.hl7"], output: &out, errors: &err)
        #expect(summary.failures == 2)
        #expect(out.text.split(separator: "\n").count == 1)
        let lines = err.text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("\(path):50: MSH-1 and MSH-2 must declare distinct printable delimiters"))
        #expect(lines[1].hasPrefix("/nonexistent/x.hl7: "))
    }

    /// The built executable, beside the test bundle.
    static func executable() throws -> String { try TestEnvironment.ledgerbridgeBinary() }

    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let result = try Subprocess.run(try executable(), arguments)
        return (result.status, result.output, result.error)
    }

    @Test("the real binary: exit status 0 for the corpus, 1 with a located error for malformed input")
    func binary() throws {
        let good = try Self.run(["hl7", "parse", "--check", "--quiet"] + Self.corpusFiles())
        #expect(good.status == 0 && good.out.isEmpty && good.err.isEmpty)
        let malformed = Self.fixtures + "/hl7v2-malformed/ti--msh_present_but_missing_msh-9.hl7"
        let bad = try Self.run(["hl7", "parse", malformed])
        #expect(bad.status == 1)
        #expect(bad.err == "\(malformed):186: MSH-9 (message type) is empty (segment 0 MSH-9)\n")
        let one = try Self.run(["hl7", "parse", Self.fixtures + "/hl7v2/ADT-A01-01.hl7"])
        #expect(one.status == 0 && one.out.hasPrefix("{\"file\":") && one.out.hasSuffix("]}\n"))
    }
}
