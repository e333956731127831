import ArgumentParser
import Dispatch
import HL7v2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `ledgerbridge hl7 parse [--check] [--quiet] FILE…`
struct HL7ParseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Parse HL7 v2 files and print every message as JSON Lines.",
        discussion: """
            Each line is {"file", "index", "segments": [{"id", "fields"}]}: fields[i] is field i (fields[0] the segment \
            id; for MSH, fields[1] is the field separator and fields[2] the encoding characters), each an array of \
            repetitions of components of subcomponents, escapes decoded. `index` counts messages from 0 within a file. \
            Malformed input is reported on stderr as file:byte-offset: reason, and the exit status is 1.
            """
    )

    @Flag(help: "Also re-serialise every message and report those that do not round-trip byte for byte.")
    var check = false

    @Flag(help: "Parse everything (every subcomponent reached) and print nothing: for timing.")
    var quiet = false

    @Flag(help: ArgumentHelp("Print totals and in-process parse time as JSON on stderr.", visibility: .hidden))
    var stats = false

    @Flag(help: ArgumentHelp("With --quiet: also decode every subcomponent into a String (escapes, character set).", visibility: .hidden))
    var decode = false

    @Argument(help: "HL7 v2 files: single messages, files of many messages, or FHS/BHS batches.")
    var files: [String]

    func run() throws {
        var output = BufferedOutput(fd: 1)
        var errors = BufferedOutput(fd: 2)
        let runner = HL7ParseRunner(check: check, quiet: quiet, decode: decode)
        let summary = runner.run(files: files, output: &output, errors: &errors)
        if stats {
            errors.write(
                "{\"bytes\":\(summary.bytes),\"messages\":\(summary.messages),\"subcomponents\":\(summary.subcomponents),\"seconds\":\(summary.parseSeconds)}\n"
            )
        }
        output.flush()
        errors.flush()
        if summary.failures > 0 { throw ExitCode(1) }
    }
}

/// The work of `hl7 parse`, separate from argument parsing so tests can drive it.
struct HL7ParseRunner {
    struct Summary {
        var bytes = 0
        var messages = 0
        var subcomponents = 0
        var failures = 0
        var parseSeconds = 0.0
    }

    var check: Bool
    var quiet: Bool
    var decode = false

    func run(files: [String], output: inout some ByteSink, errors: inout some ByteSink) -> Summary {
        var summary = Summary()
        let parser = ER7Parser()
        for file in files {
            let bytes: [UInt8]
            do {
                bytes = try FileBytes.read(file)
            } catch {
                errors.write("\(file): \(error)\n")
                summary.failures += 1
                continue
            }
            summary.bytes += bytes.count
            var index = 0
            var nextOffset: Int? = nil
            var firstOffset = 0
            var tiled = true
            var elapsed = 0.0
            var started = Clock.now()
            let prefix = parser.forEachPart(in: bytes) { result in
                switch result {
                case .failure(let problem):
                    elapsed += Clock.now() - started
                    errors.write("\(file):\(problem.byteOffset): \(problem.reason) (\(problem.placeDescription))\n")
                    summary.failures += 1
                    tiled = false
                case .success(let part):
                    let message = part.message
                    if check {
                        // Each part rebuilds exactly its own bytes of the file, and the parts tile the file.
                        let start = message.startOffset, end = start + message.bytes.count
                        if nextOffset == nil { firstOffset = start }
                        if nextOffset != nil && nextOffset != start { tiled = false }
                        nextOffset = end
                        if ER7Serializer().serialize(message)[...] != bytes[start..<end] {
                            errors.write("\(file):\(start): \(part.isMessage ? "message \(index)" : "batch segment") does not round-trip\n")
                            summary.failures += 1
                        }
                    }
                    guard part.isMessage else { return true }
                    if quiet {
                        summary.subcomponents += SubcomponentCounter.count(message, decoding: decode)
                        elapsed += Clock.now() - started
                    } else {
                        elapsed += Clock.now() - started
                        JSONLines.write(message, file: file, index: index, to: &output)
                    }
                    summary.messages += 1
                    index += 1
                }
                started = Clock.now()
                return true
            }
            elapsed += Clock.now() - started
            summary.parseSeconds += elapsed
            if check, tiled, firstOffset != prefix.count || nextOffset != bytes.count || !bytes.starts(with: prefix) {
                errors.write("\(file):0: the file does not round-trip\n")
                summary.failures += 1
            }
        }
        return summary
    }
}

extension HL7ParseError {
    /// `segment 3 PID-18`, for messages on a terminal.
    var placeDescription: String {
        var place = "segment \(segmentIndex)"
        if let segmentID { place += " \(segmentID)" + (field.map { "-\($0)" } ?? "") }
        return place
    }
}

/// Visits every subcomponent of a message, so a timing run reaches everything the index holds.
enum SubcomponentCounter {
    struct Visitor: ER7Visitor {
        let message: Message
        let decoding: Bool
        var count = 0
        var length = 0
        mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool) {
            count += 1
            length &+= decoding ? message.text(in: range).utf8.count : range.count
        }
    }

    /// The number of subcomponents; every one is reached (and decoded into a String when asked).
    static func count(_ message: Message, decoding: Bool = false) -> Int {
        var v = Visitor(message: message, decoding: decoding)
        message.walk(&v)
        return v.count + (v.length & 0)
    }
}

enum Clock {
    static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}
