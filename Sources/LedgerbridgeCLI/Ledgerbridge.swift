import ArgumentParser

/// `ledgerbridge`: the gateway and its tools.
@main
struct Ledgerbridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledgerbridge",
        abstract: "A gateway beside legacy EHRs: ingests HL7 v2 and FHIR, maps to FHIR R4, anchors every record version to a ledger.",
        version: LedgerbridgeVersion.string,
        subcommands: [
            ServeCommand.self, ImportCommand.self, MigrateCommand.self, DeadLettersCommand.self, HL7Command.self, FHIRCommand.self,
            ProofCommand.self, VerifyCommand.self, AnchorCommand.self, LedgerCommand.self, TokenCommand.self, BenchCommand.self, MapCommand.self,
            MappingsCommand.self, ReconcileCommand.self,
        ]
    )
}

enum LedgerbridgeVersion {
    static let string = "0.1.0"
}
