import ArgumentParser
import FHIR
import Foundation
import Ingest
import Logging
import Store

#if canImport(Glibc)
import Glibc
#endif

/// `ledgerbridge import PATH…`: files and folders into the store, through the same pipeline as the feeds.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import HL7 v2 (.hl7 .er7 .txt .msg) and FHIR (.json .xml) files and folders into the store.",
        discussion: """
            Each file goes through the same path as a feed: HL7 v2 messages are mapped and stored (or kept as rejected or \
            dead letters with the reason), FHIR resources and Bundles are stored with their batch/transaction semantics. \
            A progress bar shows on a terminal; a summary follows. Exit status 1 when any message was rejected or \
            dead-lettered, 2 when the store could not be reached.
            """)

    @Option(name: .shortAndLong, help: "The configuration file (default: ./ledgerbridge.yaml when present).")
    var config: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Argument(help: "Files and folders (folders are walked recursively).")
    var paths: [String]

    func run() async throws {
        let configuration = try GatewayConfiguration.load(path: config)
        let logger = LogSetup.bootstrap(level: "warning")
        let gateway = try await IngestPipeline.open(configuration, logger: logger, migrate: true)
        defer { Task { try? await gateway.store.close() } }

        let files = try Self.files(paths)
        var summary = ImportSummary()
        var progress = ProgressBar(total: files.count, enabled: isatty(2) != 0 && !json)
        for (n, file) in files.enumerated() {
            progress.update(done: n, label: file)
            guard let data = FileManager.default.contents(atPath: file) else {
                summary.problems.append("\(file): cannot read")
                summary.unreadable += 1
                continue
            }
            do {
                try await Self.importFile(file, [UInt8](data), gateway: gateway, summary: &summary)
            } catch {
                progress.finish()
                FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        progress.finish()
        if json {
            print(String(decoding: JSONWriter(style: .pretty).write(summary.json(files: files.count)), as: UTF8.self))
        } else {
            print(summary.text(files: files.count))
        }
        if summary.rejected + summary.deadLetters > 0 { throw ExitCode(1) }
    }

    /// One file through the pipeline; throws only when the store could not take it.
    static func importFile(_ file: String, _ bytes: [UInt8], gateway: IngestPipeline, summary: inout ImportSummary) async throws {
        let kind = kind(file, bytes)
        switch kind {
        case .hl7:
            let outcomes = try await gateway.hl7.ingest(bytes, channel: "import", peer: file)
            for (i, o) in outcomes.enumerated() {
                summary.count(o.result.outcome, resources: o.result.versions.filter(\.created).count)
                if let reason = o.result.reason, o.result.outcome != .accepted {
                    summary.problems.append("\(file): message \(i + 1): \(o.result.outcome.rawValue): \(reason)")
                }
            }
        case .fhirJSON, .fhirXML:
            let format: FHIRIngestor.Format = kind == .fhirJSON ? .json : .xml
            let r = try await gateway.fhir.ingest(bytes, format: format, channel: "import", sender: "import")
            if r.status >= 400 {
                summary.count(.rejected, resources: 0)
                let diagnostics = r.body["issue"]?.arrayValue?.first?.objectValue?["diagnostics"]?.stringValue ?? "invalid"
                summary.problems.append("\(file): rejected: \(diagnostics)")
            } else {
                summary.count(.accepted, resources: r.status == 201 ? 1 : 0)
            }
        case .unknown:
            summary.skipped += 1
        }
    }

    enum Kind { case hl7, fhirJSON, fhirXML, unknown }

    static func kind(_ path: String, _ bytes: [UInt8]) -> Kind {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "hl7", "er7", "msg", "txt": return .hl7
        case "json": return .fhirJSON
        case "xml": return .fhirXML
        default:
            let body = bytes.drop { $0 == 0xEF || $0 == 0xBB || $0 == 0xBF || $0 == 0x20 || $0 == 0x0A || $0 == 0x0D }
            if body.starts(with: Array("MSH".utf8)) || body.starts(with: Array("FHS".utf8)) || body.starts(with: Array("BHS".utf8)) { return .hl7 }
            if body.first == UInt8(ascii: "{") { return .fhirJSON }
            if body.first == UInt8(ascii: "<") { return .fhirXML }
            return .unknown
        }
    }

    /// The files named, folders walked in name order (hidden files skipped).
    static func files(_ paths: [String]) throws -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CLIError("\(path): no such file or folder") }
            if isDirectory.boolValue {
                let entries = (fm.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
                for entry in entries where !entry.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                    let full = (path as NSString).appendingPathComponent(entry)
                    var dir: ObjCBool = false
                    if fm.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue { out.append(full) }
                }
            } else {
                out.append(path)
            }
        }
        return out
    }
}

struct ImportSummary {
    var accepted = 0, duplicates = 0, rejected = 0, deadLetters = 0, resources = 0, skipped = 0, unreadable = 0
    var problems: [String] = []

    mutating func count(_ outcome: InboundOutcome, resources: Int) {
        switch outcome {
        case .accepted: accepted += 1
        case .duplicate: duplicates += 1
        case .rejected: rejected += 1
        case .deadLetter: deadLetters += 1
        }
        self.resources += resources
    }

    func text(files: Int) -> String {
        var lines = [
            "\(files) files: \(accepted) accepted, \(duplicates) duplicates, \(deadLetters) dead letters, \(rejected) rejected; "
                + "\(resources) resource versions written\(skipped > 0 ? "; \(skipped) files skipped (unknown kind)" : "")"
        ]
        lines += problems.prefix(50)
        if problems.count > 50 { lines.append("… and \(problems.count - 50) more (see `ledgerbridge dead-letters list`)") }
        return lines.joined(separator: "\n")
    }

    func json(files: Int) -> JSONValue {
        .object(
            JSONObject([
                ("files", .number(String(files))), ("accepted", .number(String(accepted))), ("duplicates", .number(String(duplicates))),
                ("deadLetters", .number(String(deadLetters))), ("rejected", .number(String(rejected))),
                ("resourceVersions", .number(String(resources))), ("skipped", .number(String(skipped))),
                ("problems", .array(problems.map(JSONValue.string))),
            ]))
    }
}

/// A one-line progress bar on stderr (only on a terminal).
struct ProgressBar {
    let total: Int
    let enabled: Bool
    private var lastDraw = 0.0

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    mutating func update(done: Int, label: String) {
        guard enabled, total > 0 else { return }
        let now = Date().timeIntervalSince1970
        guard now - lastDraw > 0.1 || done == 0 else { return }
        lastDraw = now
        let width = 30
        let filled = width * done / total
        let name = label.count > 40 ? "…" + label.suffix(39) : label
        let line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total) \(name)"
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
