import ArgumentParser
import Store

/// `ledgerbridge migrate`: applies the store's migrations not yet applied.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the record store's pending migrations (SQLite or PostgreSQL, per the configuration).")

    @Option(name: .shortAndLong, help: "The configuration file (default: ./ledgerbridge.yaml when present).")
    var config: String?

    func run() async throws {
        let configuration = try GatewayConfiguration.load(path: config)
        let store = try await StoreFactory.open(try configuration.storeLocation)
        let applied: [String]
        do {
            applied = try await store.migrate()
        } catch {
            try? await store.close()
            throw CLIError("migration failed: \(error)")
        }
        try await store.close()
        print(applied.isEmpty ? "the store is up to date" : applied.map { "applied \($0)" }.joined(separator: "\n"))
    }
}
