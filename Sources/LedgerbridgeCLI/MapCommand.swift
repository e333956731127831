import ArgumentParser
import FHIR
import Foundation
import HL7v2
import Ingest
import Mapping

/// `ledgerbridge map [--mappings DIR] [--format json|xml] [--coverage] FILE…`
struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Map HL7 v2 files, XML documents (C-CDA) or table rows (CSV) to FHIR R4: one transaction Bundle per message.",
        discussion: """
            Each message (or CSV row) becomes a Bundle of type transaction: one PUT per resource by its stable id, and a \
            Provenance naming the input and the mapping set's version. One bundle prints as one document; several print \
            as JSON Lines (one bundle per line). A message that cannot be mapped is reported on stderr as \
            file#index: reason, and the exit status is 1.
            """
    )

    @Option(help: "The mapping folder.")
    var mappings = "Mappings"

    @Option(help: "json or xml.")
    var format = "json"

    @Option(help: "Map the files as CSV rows of this table (first line: column names) instead of HL7 v2.")
    var table: String? = nil

    @Flag(help: "Also print each input's coverage report (what no rule read) on stderr.")
    var coverage = false

    @Argument(help: "HL7 v2 files (single messages or batches), XML documents (C-CDA), or CSV files with --table.")
    var files: [String]

    func run() throws {
        guard format == "json" || format == "xml" else { throw ValidationError("--format is json or xml") }
        let mapper = try MappingsCommand.loadOrExplain(mappings)
        var out = BufferedOutput(fd: 1)
        var err = BufferedOutput(fd: 2)
        var bundles: [JSONObject] = []
        var failures = 0
        var summary = CoverageSummary()
        for file in files {
            let inputs: [MappingInputFile.Item]
            do {
                inputs = try table != nil ? MappingInputFile.rows(file) : MappingInputFile.messages(file)
            } catch {
                err.write("\(file): \(error)\n")
                failures += 1
                continue
            }
            for item in inputs {
                do {
                    let (bundle, report) = try MappingInputFile.bundle(item, table: table, mapper: mapper, file: file)
                    bundles.append(bundle)
                    if coverage, let report {
                        summary.add(report)
                        err.write(
                            "\(file)#\(item.index): \(Int((report.ratio * 100).rounded()))% of \(report.values) values mapped; not mapped: \(report.unmapped.joined(separator: " "))\n"
                        )
                    }
                } catch {
                    err.write("\(file)#\(item.index): \(error)\n")
                    failures += 1
                }
            }
        }
        for bundle in bundles {
            if format == "xml" {
                out.write(try FHIRXMLWriter().write(bundle))
                out.write("\n")
            } else if bundles.count == 1 {
                out.write(FHIRJSON().write(bundle, pretty: true))
                out.write("\n")
            } else {
                out.write(FHIRJSON().write(bundle))
                out.write("\n")
            }
        }
        if coverage && summary.inputs > 1 {
            let top = summary.unmapped.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(30).map { "\($0.key)×\($0.value)" }
            err.write(
                "total: \(summary.mappedValues) of \(summary.values) values mapped over \(summary.inputs) inputs; most often not mapped: \(top.joined(separator: " "))\n"
            )
        }
        out.flush()
        err.flush()
        if failures > 0 { throw ExitCode(1) }
    }
}

/// Inputs of `map` and of fixtures: HL7 v2 messages of a file, or CSV rows.
enum MappingInputFile {
    struct Item {
        var index: Int
        var message: Message?
        var row: [String: String]?
        var document: [UInt8]? = nil
    }

    struct InputError: Error, CustomStringConvertible {
        var description: String
    }

    static func messages(_ file: String) throws -> [Item] {
        let bytes = try FileBytes.read(file)
        // An XML document (a C-CDA): mapped whole by the document map of its root element.
        if bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }) == UInt8(ascii: "<")
        {
            return [Item(index: 0, document: bytes)]
        }
        var items: [Item] = []
        var problem: String? = nil
        _ = ER7Parser().forEachPart(in: bytes) { result in
            switch result {
            case .failure(let e):
                problem = "byte \(e.byteOffset): \(e.reason) (\(e.placeDescription))"
                return false
            case .success(let part):
                if part.isMessage { items.append(Item(index: items.count, message: part.message)) }
                return true
            }
        }
        if let problem { throw InputError(description: problem) }
        if items.isEmpty { throw InputError(description: "no HL7 v2 message in the file") }
        return items
    }

    /// CSV with a header line; fields may be quoted ("a, b" and "" for a quote). Empty fields are absent (SQL NULL).
    static func rows(_ file: String) throws -> [Item] {
        let text = String(decoding: try FileBytes.read(file), as: UTF8.self)
        var records = CSV.parse(text)
        guard !records.isEmpty else { throw InputError(description: "the file has no header line") }
        let header = records.removeFirst()
        return records.enumerated().compactMap { i, values in
            if values.count == 1 && values[0].isEmpty { return nil }
            var row: [String: String] = [:]
            for (name, value) in zip(header, values) where !value.isEmpty { row[name] = value }
            return Item(index: i, row: row)
        }
    }

    static func bundle(_ item: Item, table: String?, mapper: DeclarativeMapper, file: String) throws -> (JSONObject, CoverageReport?) {
        let name = (file as NSString).lastPathComponent
        if let document = item.document {
            let result = try mapper.mapDocument(document, context: MappingContext(sender: "file:\(name)"))
            let origin = MappingBundle.Origin(
                source: "file:\(name)", reference: nil, recorded: ISO8601DateFormatter().string(from: Date()), mappingVersion: mapper.version)
            return (MappingBundle.transaction(result.resources, origin: origin), result.coverage)
        }
        if let message = item.message {
            let sender = HL7Ingestor.sender(of: message)
            let result = try mapper.mapWithCoverage(message, context: MappingContext(sender: sender))
            let msh7 = message.segment(at: 0).value(field: 7)
            let recorded = MappingBundle.recorded(fromMSH7: msh7) ?? ISO8601DateFormatter().string(from: Date())
            let origin = MappingBundle.Origin(
                source: "file:\(name)", reference: message.controlID, recorded: recorded, occurred: MappingBundle.occurred(fromMSH7: msh7),
                mappingVersion: mapper.version)
            return (MappingBundle.transaction(result.resources, origin: origin), result.coverage)
        }
        let table = table ?? ""
        let result = try mapper.mapWithCoverage(row: item.row ?? [:], table: table, context: MappingContext(sender: "table:\(table)"))
        let origin = MappingBundle.Origin(
            source: "file:\(name)", reference: "row \(item.index + 1)", recorded: ISO8601DateFormatter().string(from: Date()),
            mappingVersion: mapper.version)
        return (MappingBundle.transaction(result.resources, origin: origin), result.coverage)
    }
}

enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var chars = text.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? chars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let n = chars.next() {
                        if n == "\"" {
                            field.append("\"")
                        } else {
                            quoted = false
                            pending = n
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                record.append(field)
                field = ""
            } else if c == "\n" || c == "\r\n" || c == "\r" {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.append(c)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }
}

/// `ledgerbridge mappings check [DIR]`
struct MappingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mappings", abstract: "Check the mapping folder.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load every mapping file, report every error with file:line:column, and run the fixtures.",
            discussion: """
                Fixtures are pairs under DIR/fixtures: an input (NAME.hl7, or NAME.csv whose first line is `# table: \
                NAME` followed by the CSV) and the bundle it must give (NAME.json). The Provenance entry (the set's version, \
                the time of mapping) is not compared. \
                The exit status is 1 when a file does not load or a fixture differs.
                """)

        @Argument(help: "The mapping folder.")
        var directory = "Mappings"

        func run() throws {
            let mapper = try MappingsCommand.loadOrExplain(directory)
            var out = BufferedOutput(fd: 1)
            defer { out.flush() }
            func count(_ n: Int, _ what: String) -> String { "\(n) \(what)\(n == 1 ? "" : "s")" }
            let plan = mapper.plan
            out.write(
                "\(directory): \(count(plan.files.count, "file")) load; \(count(plan.messageTypes.count, "message type")), "
                    + "\(count(plan.tableNames.count, "table")), \(count(plan.documentRoots.count, "document root"))"
                    + (plan.documentRoots.isEmpty ? "" : " (\(plan.documentRoots.joined(separator: ", ")))")
                    + "; version \(mapper.version.prefix(12))\n")
            for w in mapper.plan.warnings { out.write("warning: \(w.inFolder(directory))\n") }
            var failed = 0
            let fixtures = MappingFolder(path: directory).fixtures()
            for fixture in fixtures {
                let problems = MappingsCommand.runFixture(fixture, mapper: mapper)
                if problems.isEmpty {
                    out.write("ok    \(fixture.input)\n")
                } else {
                    failed += 1
                    out.write("FAIL  \(fixture.input)\n")
                    for p in problems.prefix(40) { out.write("      \(p)\n") }
                    if problems.count > 40 { out.write("      … and \(problems.count - 40) more differences\n") }
                }
            }
            out.write("\(fixtures.count - failed) of \(fixtures.count) fixtures pass\n")
            if failed > 0 {
                out.flush()
                throw ExitCode(1)
            }
        }
    }

    /// Loads the folder for a gateway command; a problem is a `CLIError` listing every error (file:line:column).
    static func load(_ directory: String) throws -> DeclarativeMapper {
        do {
            return try MappingFolder(path: directory).load()
        } catch let e as MappingLoadError {
            let lines = e.diagnostics.map { $0.inFolder(directory).description }
            throw CLIError("the mapping folder does not load (\(lines.count) errors):\n" + lines.joined(separator: "\n"))
        } catch let e as MappingFolderError {
            throw CLIError("\(e.description) (set 'mappings:' in the configuration, or LEDGERBRIDGE_MAPPINGS)")
        }
    }

    /// Loads the folder, or prints every problem (file:line:column) and exits 1.
    static func loadOrExplain(_ directory: String) throws -> DeclarativeMapper {
        do {
            return try MappingFolder(path: directory).load()
        } catch let e as MappingLoadError {
            var err = BufferedOutput(fd: 2)
            for d in e.diagnostics { err.write("\(d.inFolder(directory))\n") }
            err.write("\(e.diagnostics.count) error\(e.diagnostics.count == 1 ? "" : "s") in \(directory)\n")
            err.flush()
            throw ExitCode(1)
        } catch {
            var err = BufferedOutput(fd: 2)
            err.write("\(error)\n")
            err.flush()
            throw ExitCode(1)
        }
    }

    /// The differences between a fixture's expected bundle and what the mapping gives now, as readable lines.
    static func runFixture(_ fixture: MappingFolder.Fixture, mapper: DeclarativeMapper) -> [String] {
        do {
            let expected = try FHIRFile.read(fixture.expected)
            var table: String? = nil
            var input = fixture.input
            if fixture.input.hasSuffix(".csv") {
                let text = try String(contentsOfFile: fixture.input, encoding: .utf8)
                guard text.hasPrefix("# table: "), let newline = text.firstIndex(of: "\n") else {
                    return ["a CSV fixture starts with a line '# table: NAME'"]
                }
                table = String(text[text.index(text.startIndex, offsetBy: 9)..<newline]).trimmingCharacters(in: .whitespaces)
                input = NSTemporaryDirectory() + "/lb-fixture-\(UUID().uuidString).csv"
                try String(text[text.index(after: newline)...]).write(toFile: input, atomically: true, encoding: .utf8)
            }
            defer { if input != fixture.input { try? FileManager.default.removeItem(atPath: input) } }
            let items = try table != nil ? MappingInputFile.rows(input) : MappingInputFile.messages(input)
            guard let first = items.first else { return ["the input has nothing to map"] }
            let (bundle, _) = try MappingInputFile.bundle(first, table: table, mapper: mapper, file: fixture.input)
            var lines: [String] = []
            JSONDiff.compare(.object(stripRecorded(expected)), .object(stripRecorded(bundle)), path: "Bundle", into: &lines)
            return lines
        } catch {
            return ["\(error)"]
        }
    }

    /// The bundle without its Provenance entry: what it says (the mapping set's version, the time of mapping) changes
    /// with every edit of any file, and is not what a fixture checks.
    static func stripRecorded(_ bundle: JSONObject) -> JSONObject {
        var b = bundle
        guard case .array(let entries)? = b["entry"] else { return b }
        b["entry"] = .array(
            entries.filter { e in
                let policy = e.objectValue?["resource"]?.objectValue?["policy"]?.arrayValue?.first?.stringValue ?? ""
                return !policy.hasPrefix("urn:ledgerbridge:mapping-set:")
            })
        return b
    }
}

/// Readable differences between two JSON values: `Bundle.entry[2].resource.gender: expected "male", got "female"`.
enum JSONDiff {
    static func compare(_ expected: JSONValue, _ actual: JSONValue, path: String, into lines: inout [String]) {
        switch (expected, actual) {
        case (.object(let e), .object(let a)):
            for (key, value) in e.members {
                if let other = a[key] {
                    compare(value, other, path: "\(path).\(key)", into: &lines)
                } else {
                    lines.append("\(path).\(key): missing (expected \(short(value)))")
                }
            }
            for (key, value) in a.members where e[key] == nil { lines.append("\(path).\(key): not expected (got \(short(value)))") }
        case (.array(let e), .array(let a)):
            for i in 0..<max(e.count, a.count) {
                if i >= a.count {
                    lines.append("\(path)[\(i)]: missing (expected \(short(e[i])))")
                } else if i >= e.count {
                    lines.append("\(path)[\(i)]: not expected (got \(short(a[i])))")
                } else {
                    compare(e[i], a[i], path: "\(path)[\(i)]", into: &lines)
                }
            }
        default:
            if !expected.isEquivalent(to: actual) { lines.append("\(path): expected \(short(expected)), got \(short(actual))") }
        }
    }

    static func short(_ v: JSONValue) -> String {
        let text = JSONWriter().string(v)
        return text.count > 120 ? String(text.prefix(117)) + "…" : text
    }
}

extension MappingDiagnostic {
    /// The same problem with its file named from the working directory (`Mappings/segments/PID-Patient.yaml:12:9`).
    func inFolder(_ directory: String) -> MappingDiagnostic {
        var d = self
        d.file = directory + "/" + file
        return d
    }
}
