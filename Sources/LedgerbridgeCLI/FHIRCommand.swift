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
        let bytes = try FileBytes.read(path)
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

    @Argument(help: "FHIR R4 resources, XML or JSON.")
    var files: [String]

    func run() throws {
        var out = BufferedOutput(fd: 1)
        defer { out.flush() }
        for file in files {
            let resource = try FHIRFile.read(file)
            switch to {
            case .json:
                out.write(FHIRJSON().write(resource, pretty: pretty))
                if !pretty { out.write("\n") }
            case .xml:
                do { out.write(try FHIRXMLWriter().write(resource)) } catch { throw CLIError("\(file): \(error)") }
            }
        }
    }
}

struct FHIRValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate resources against FHIR R4; prints an OperationOutcome for each invalid file.",
        discussion: "Exit status 1 when any file is invalid or unreadable."
    )

    @Argument(help: "FHIR R4 resources, XML or JSON.")
    var files: [String]

    func run() throws {
        var out = BufferedOutput(fd: 1)
        var err = BufferedOutput(fd: 2)
        var failed = false
        for file in files {
            let resource: JSONObject
            do {
                resource = try FHIRFile.read(file, keepUnknown: true)
            } catch {
                err.write("\(error)\n")
                failed = true
                continue
            }
            let issues = FHIRValidator().validate(resource)
            if !issues.isEmpty {
                failed = true
                err.write("\(file): \(issues.count) issue\(issues.count == 1 ? "" : "s")\n")
                out.write(JSONWriter(style: .pretty).write(.object(FHIRValidator.operationOutcome(issues))))
            }
        }
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
