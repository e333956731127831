import ArgumentParser
import Foundation
import Ingest
import Logging
import Store

/// `ledgerbridge reconcile [--config FILE] [--json]`
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Scan every legacy source table and report rows that changed, vanished or were missed without a feed.",
        discussion: """
            Each configured source is read in full with its own query and compared with what the gateway stored from it: a \
            row whose content differs while its watermark is the one stored was changed behind the gateway's back (no poll \
            will see it); a stored row no longer in the table vanished; a row at or behind the stored watermark that was \
            never stored was missed. Exit status 1 when any is found. `serve` runs the same scan every \
            integrityScanMinutes and shows the latest at GET /integrity/report.
            """)

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let configuration = try GatewayConfiguration.load(path: config)
        var logger = Logger(label: "ledgerbridge")
        logger.logLevel = .warning
        let store = try await StoreFactory.open(try configuration.storeLocation)
        defer { Task { try? await store.close() } }
        let report = try await LegacyIntegrityScan.scan(configuration.sources, store: store, logger: logger)
        try await store.close()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            if report.sources.isEmpty { print("no legacy sources configured") }
            for s in report.sources {
                print("\(s.source): \(s.scannedRows) rows in the table, \(s.storedRows) stored; \(s.pending) waiting for the next poll")
                if let note = s.note { print("  note: \(note)") }
                for k in s.changed { print("  CHANGED  row \(k): content differs from what was stored, under the same watermark") }
                for k in s.vanished { print("  VANISHED row \(k): stored, no longer in the table") }
                for k in s.missed { print("  MISSED   row \(k): behind the watermark, never stored") }
            }
            print(report.problems == 0 ? "no drift found" : "\(report.problems) rows changed behind the gateway's back")
        }
        if report.problems > 0 { throw ExitCode(1) }
    }
}
