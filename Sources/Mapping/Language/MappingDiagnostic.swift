/// A problem in a mapping file, at the place it was found (`messages/adt.yaml:12:9`).
public struct MappingDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file's path as given to the loader (relative to the mapping folder).
    public var file: String
    /// 1-based line and column; 0 when the problem is the file as a whole.
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { line > 0 ? "\(file):\(line):\(column): \(message)" : "\(file): \(message)" }
}

/// Every problem found while loading a mapping set: loading goes on after the first one, so an engineer sees them all.
public struct MappingLoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [MappingDiagnostic]

    public init(diagnostics: [MappingDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
