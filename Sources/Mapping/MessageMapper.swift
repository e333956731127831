import FHIR
import HL7v2

/// Turns one inbound message, document or table row into FHIR R4 resources. Ingest depends on this seam only; the
/// declarative engine of issue #4 (files in `Mappings/`) and the interim built-in mapping both implement it.
public protocol MessageMapper: Sendable {
    /// The mapping set's version: a SHA-256 (hex) of what defines the mapping, stored with every record it produced.
    var version: String { get }

    /// Maps one HL7 v2 message. Throws when the message cannot be mapped (it is then dead-lettered with the reason).
    func map(_ message: Message, context: MappingContext) throws(MappingError) -> [JSONObject]

    /// Maps one row of a legacy table, given as its column names and values (text; SQL NULL is absent).
    func map(row: [String: String], table: String, context: MappingContext) throws(MappingError) -> [JSONObject]

    /// The same, with the coverage report when the mapper makes one.
    func mapWithCoverage(_ message: Message, context: MappingContext) throws(MappingError) -> MappingResult
    func mapWithCoverage(row: [String: String], table: String, context: MappingContext) throws(MappingError) -> MappingResult

    /// Maps an XML document (a C-CDA, another export) by its root element.
    func mapDocument(_ bytes: [UInt8], context: MappingContext) throws(MappingError) -> MappingResult
}

extension MessageMapper {
    public func mapWithCoverage(_ message: Message, context: MappingContext) throws(MappingError) -> MappingResult {
        MappingResult(resources: try map(message, context: context), coverage: nil)
    }

    public func mapWithCoverage(row: [String: String], table: String, context: MappingContext) throws(MappingError) -> MappingResult {
        MappingResult(resources: try map(row: row, table: table, context: context), coverage: nil)
    }

    public func mapDocument(_ bytes: [UInt8], context: MappingContext) throws(MappingError) -> MappingResult {
        throw MappingError(.unmappedType, reason: "this mapper maps no XML documents")
    }
}

/// Where the input came from, for ids that need a namespace and for errors.
public struct MappingContext: Sendable, Hashable {
    /// The sender or source name (MSH-3^MSH-4, a poller's configured name).
    public var sender: String

    public init(sender: String) {
        self.sender = sender
    }
}

/// Why an input could not be mapped. Names the place (segment and field, column), never a value.
public struct MappingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// No mapping covers the message type (or table).
        case unmappedType = "unmapped-type"
        /// A required part of the input is missing (PID for a patient message, PID-3, OBX-3, …).
        case missingRequired = "missing-required"
        /// A value could not be converted to its FHIR type.
        case invalidValue = "invalid-value"
    }

    public var code: Code
    /// `PID-3`, `OBX[2]-5`, `column mrn`.
    public var location: String?
    public var reason: String

    public init(_ code: Code, location: String? = nil, reason: String) {
        self.code = code
        self.location = location
        self.reason = reason
    }

    public var description: String {
        if let location { return "\(code.rawValue) at \(location): \(reason)" }
        return "\(code.rawValue): \(reason)"
    }
}
