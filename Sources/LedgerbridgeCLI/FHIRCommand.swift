import ArgumentParser
import FHIR

/// `ledgerbridge fhir …`: FHIR R4 tools.
struct FHIRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fhir",
        abstract: "Convert, validate and hash FHIR R4 resources (XML or JSON).",
        subcommands: [FHIRConvertCommand.self, FHIRValidateCommand.self, FHIRHashCommand.self]
    )
}

/// Reads a resource file as XML or JSON (by its first non-blank byte).
enum FHIRFile {
    static func read(_ path: String, keepUnknown: Bool = false) throws -> JSONObject {
        try parse(try FileBytes.read(path), path: path, keepUnknown: keepUnknown)
    }

    static func parse(_ bytes: [UInt8], path: String, keepUnknown: Bool = false) throws -> JSONObject {
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
        let result: Result<JSONObject, FHIRCodecError>
        if first == UInt8(ascii: "<") {
            result = Result { () throws(FHIRCodecError) in try FHIRXMLParser().parse(bytes) }
        } else {
            var options = FHIRJSON.Options()
            options.keepUnknownElements = keepUnknown
            result = Result { () throws(FHIRCodecError) in try FHIRJSON(options: options).parse(bytes) }
        }
        switch result {
        case .success(let resource): return resource
        case .failure(let error): throw CLIError("\(path): \(error)")
        }
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct FHIRConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert", abstract: "Convert resources between XML and JSON (to stdout).")

    enum Format: String, ExpressibleByArgument { case json, xml }

    @Option(help: "The output format: json or xml.")
    var to: Format

    @Flag(help: "Indent the output (JSON; XML is always indented).")
    var pretty = false

    @Flag(help: ArgumentHelp("Print totals and in-process read+convert time as JSON on stderr; no output.", visibility: .hidden))
    var stats = false

    @Argument(help: "FHIR R4 resources, XML or JSON.")
    var files: [String]

    func run() throws {
        var out = BufferedOutput(fd: 1)
        defer { out.flush() }
        var seconds = 0.0, bytes = 0
        _ = FHIRTypeTable.r4.definitions.count
        for file in files {
            let data = try FileBytes.read(file)
            bytes += data.count
            let started = Clock.now()
            let resource = try FHIRFile.parse(data, path: file)
            let converted: [UInt8]
            switch to {
            case .json:
                converted = FHIRJSON().write(resource, pretty: pretty) + (pretty ? [] : [0x0A])
            case .xml:
                do { converted = try FHIRXMLWriter().write(resource) } catch { throw CLIError("\(file): \(error)") }
            }
            seconds += Clock.now() - started
            if !stats { out.write(converted) }
        }
        if stats {
            var err = BufferedOutput(fd: 2)
            err.write("{\"bytes\":\(bytes),\"files\":\(files.count),\"seconds\":\(seconds)}\n")
            err.flush()
        }
    }
}

struct FHIRValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate resources against FHIR R4; prints an OperationOutcome for each invalid file.",
        discussion: "Exit status 1 when any file has an error or cannot be read; warnings are printed but do not fail."
    )

    @Flag(help: ArgumentHelp("Print totals and in-process parse+validate time as JSON on stderr; no outcomes.", visibility: .hidden))
    var stats = false

    @Argument(help: "FHIR R4 resources, XML or JSON.")
    var files: [String]

    func run() throws {
        var out = BufferedOutput(fd: 1)
        var err = BufferedOutput(fd: 2)
        var failed = false
        var seconds = 0.0, bytes = 0
        // Load the type table before timing anything: a one-time start-up cost, like the peer's model imports.
        _ = FHIRTypeTable.r4.definitions.count
        for file in files {
            let resource: JSONObject
            let issues: [FHIRValidator.Issue]
            do {
                let data = try FileBytes.read(file)
                bytes += data.count
                let started = Clock.now()
                resource = try FHIRFile.parse(data, path: file, keepUnknown: true)
                issues = FHIRValidator().validate(resource)
                seconds += Clock.now() - started
            } catch {
                err.write("\(error)\n")
                failed = true
                continue
            }
            if stats { continue }
            if !issues.isEmpty {
                let errors = issues.filter { $0.severity == .error }.count
                if errors > 0 { failed = true }
                err.write(
                    "\(file): \(errors) error\(errors == 1 ? "" : "s"), \(issues.count - errors) warning\(issues.count - errors == 1 ? "" : "s")\n")
                out.write(JSONWriter(style: .pretty).write(.object(FHIRValidator.operationOutcome(issues))))
            }
        }
        if stats { err.write("{\"bytes\":\(bytes),\"files\":\(files.count),\"seconds\":\(seconds)}\n") }
        out.flush()
        err.flush()
        if failed { throw ExitCode(1) }
    }
}

struct FHIRHashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the SHA-256 of a resource's canonical form (docs/canonical-form.md): the record hash the ledger anchors."
    )

    @Flag(help: "Print the canonical form itself instead of its hash.")
    var canonical = false

    @Argument(help: "A FHIR R4 resource, XML or JSON.")
    var file: String

    func run() throws {
        let resource = try FHIRFile.read(file)
        var out = BufferedOutput(fd: 1)
        if canonical {
            out.write(FHIRCanonicalForm.bytes(resource))
            out.write("\n")
        } else {
            out.write(FHIRCanonicalForm.sha256Hex(resource) + "\n")
        }
        out.flush()
    }
}
