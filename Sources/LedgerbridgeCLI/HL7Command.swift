import ArgumentParser

/// `ledgerbridge hl7 …`: HL7 v2 tools.
struct HL7Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hl7",
        abstract: "Work with HL7 v2 (ER7) files.",
        subcommands: [HL7ParseCommand.self]
    )
}
