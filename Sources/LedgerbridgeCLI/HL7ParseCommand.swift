import ArgumentParser
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

    @Argument(help: "HL7 v2 files: single messages, files of many messages, or FHS/BHS batches.")
    var files: [String]

    func run() throws {
        var output = BufferedOutput(fd: 1)
        var errors = BufferedOutput(fd: 2)
        let runner = HL7ParseRunner(check: check, quiet: quiet)
        let summary = runner.run(files: files, output: &output, errors: &errors)
        if stats {
            errors.write("{\"bytes\":\(summary.bytes),\"messages\":\(summary.messages),\"subcomponents\":\(summary.subcomponents),\"seconds\":\(summary.parseSeconds)}\n")
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
            let started = Clock.now()
            let (batch, problems) = parser.parseRecovering(bytes)
            var reached = 0
            if quiet {
                for message in batch.messages { reached += SubcomponentCounter.count(message) }
            }
            summary.parseSeconds += Clock.now() - started
            summary.subcomponents += reached
            for problem in problems {
                errors.write("\(file):\(problem.byteOffset): \(problem.reason) (\(problem.placeDescription))\n")
                summary.failures += 1
            }
            for (n, message) in batch.messages.enumerated() {
                summary.messages += 1
                if !quiet { JSONLines.write(message, file: file, index: n, to: &output) }
                if check, ER7Serializer().serialize(message) != message.bytes {
                    errors.write("\(file):\(message.startOffset): message \(n) does not round-trip\n")
                    summary.failures += 1
                }
            }
            if check, problems.isEmpty, ER7Serializer().serialize(batch) != bytes {
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
        var count = 0
        var length = 0
        mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool) {
            count += 1
            length &+= range.count
        }
    }

    static func count(_ message: Message) -> Int {
        var v = Visitor()
        message.walk(&v)
        return v.count + (v.length & 0)
    }
}

enum Clock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
