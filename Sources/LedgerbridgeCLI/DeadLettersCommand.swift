import ArgumentParser
import Foundation
import Ingest
import Store

/// `ledgerbridge dead-letters list|replay`: messages that could not be mapped, and replaying them after a fix.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "List dead letters, or replay them through the current mappings.",
        subcommands: [List.self, Replay.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest first.")
        @Option(name: .shortAndLong, help: "The configuration file.") var config: String?
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let configuration = try GatewayConfiguration.load(path: config)
            let store = try await StoreFactory.open(try configuration.storeLocation)
            let letters = try await store.inbound(outcome: .deadLetter, limit: limit)
            try await store.close()
            if letters.isEmpty { print("no dead letters") }
            for m in letters {
                print("\(m.id)\t\(StoreTime.instant(m.receivedAt))\t\(m.channel)\t\(m.messageType ?? "-")\t\(m.key ?? "-")\t\(m.reason ?? "")")
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replay dead letters (the ids given, or --all) through the current mappings.")
        @Option(name: .shortAndLong, help: "The configuration file.") var config: String?
        @Flag(help: "Replay every dead letter.") var all = false
        @Argument(help: "Inbound message ids.") var ids: [Int64] = []

        func validate() throws {
            if all == !ids.isEmpty { throw ValidationError("give dead-letter ids or --all (not both)") }
        }

        func run() async throws {
            let configuration = try GatewayConfiguration.load(path: config)
            let gateway = try await IngestPipeline.open(configuration, logger: LogSetup.bootstrap(level: "warning"), migrate: false)
            let outcomes: [DeadLetterReplayer.Outcome]
            do {
                outcomes = try await DeadLetterReplayer(ingestor: gateway.hl7).replay(ids: all ? nil : ids)
            } catch let error as DeadLetterReplayer.ReplayError {
                try? await gateway.store.close()
                throw CLIError(error.description)
            }
            try await gateway.store.close()
            let accepted = outcomes.filter { $0.outcome == .accepted }.count
            print("\(outcomes.count) replayed: \(accepted) accepted, \(outcomes.count - accepted) still dead letters")
            for o in outcomes where o.outcome != .accepted { print("\(o.id)\t\(o.reason ?? "")") }
        }
    }
}
