/// A code from HL7 table 0357 (message error condition codes), used in ERR-3.
public struct HL7ErrorCode: Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var text: String

    public init(code: String, text: String) {
        self.code = code
        self.text = text
    }

    public static let accepted = HL7ErrorCode(code: "0", text: "Message accepted")
    public static let segmentSequenceError = HL7ErrorCode(code: "100", text: "Segment sequence error")
    public static let requiredFieldMissing = HL7ErrorCode(code: "101", text: "Required field missing")
    public static let dataTypeError = HL7ErrorCode(code: "102", text: "Data type error")
    public static let tableValueNotFound = HL7ErrorCode(code: "103", text: "Table value not found")
    public static let valueTooLong = HL7ErrorCode(code: "104", text: "Value too long")
    public static let unsupportedMessageType = HL7ErrorCode(code: "200", text: "Unsupported message type")
    public static let unsupportedEventCode = HL7ErrorCode(code: "201", text: "Unsupported event code")
    public static let unsupportedProcessingID = HL7ErrorCode(code: "202", text: "Unsupported processing id")
    public static let unsupportedVersionID = HL7ErrorCode(code: "203", text: "Unsupported version id")
    public static let unknownKeyIdentifier = HL7ErrorCode(code: "204", text: "Unknown key identifier")
    public static let duplicateKeyIdentifier = HL7ErrorCode(code: "205", text: "Duplicate key identifier")
    public static let applicationRecordLocked = HL7ErrorCode(code: "206", text: "Application record locked")
    public static let applicationInternalError = HL7ErrorCode(code: "207", text: "Application internal error")

    public var description: String { "\(code) \(text)" }
}

/// Where an error is, as ERR-2 (ERL) gives it: segment id and sequence, field, repetition, component, subcomponent.
public struct HL7ErrorLocation: Sendable, Hashable {
    public var segmentID: String
    public var segmentSequence: Int
    public var field: Int?
    public var fieldRepetition: Int?
    public var component: Int?
    public var subcomponent: Int?

    public init(
        segmentID: String, segmentSequence: Int = 1, field: Int? = nil, fieldRepetition: Int? = nil, component: Int? = nil, subcomponent: Int? = nil
    ) {
        self.segmentID = segmentID
        self.segmentSequence = segmentSequence
        self.field = field
        self.fieldRepetition = fieldRepetition
        self.component = component
        self.subcomponent = subcomponent
    }
}

/// One ERR segment: what went wrong (table 0357), where, how severe, and a diagnostic text without patient data.
public struct HL7AcknowledgmentError: Sendable, Hashable {
    public enum Severity: String, Sendable, Hashable {
        case error = "E", warning = "W", information = "I", fatal = "F"
    }

    public var code: HL7ErrorCode
    public var location: HL7ErrorLocation?
    public var severity: Severity
    public var diagnostic: String?

    public init(code: HL7ErrorCode, location: HL7ErrorLocation? = nil, severity: Severity = .error, diagnostic: String? = nil) {
        self.code = code
        self.location = location
        self.severity = severity
        self.diagnostic = diagnostic
    }

    /// The ERR for a message that could not be parsed.
    public init(_ error: HL7ParseError) {
        let code: HL7ErrorCode
        switch error.code {
        case .missingMessageType: code = .requiredFieldMissing
        case .missingHeader, .invalidSegmentID, .unexpectedSegment, .emptyInput: code = .segmentSequenceError
        case .messageTooLarge: code = .valueTooLong
        case .batchCountMismatch: code = .segmentSequenceError
        default: code = .dataTypeError
        }
        let location = error.segmentID.map { HL7ErrorLocation(segmentID: $0, segmentSequence: 1, field: error.field) }
        self.init(code: code, location: location, severity: .error, diagnostic: error.description)
    }
}
