/// Why an input is not a well-formed HL7 v2 message, and where: segment index, field and byte offset.
///
/// The description names places and rules, never a value from the message, so that errors can be logged without
/// leaking patient data.
public struct HL7ParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Base: Sendable, Hashable {
            case emptyInput, missingHeader, badEncodingCharacters, invalidSegmentID, missingMessageType
            case invalidCharacters, unsupportedCharacterSet, messageTooLarge, unexpectedSegment, batchCountMismatch
        }
        let base: Base
        /// The input holds no segment.
        public static let emptyInput = Code(base: .emptyInput)
        /// A message does not start with MSH (or a batch with FHS/BHS), or text stands before it.
        public static let missingHeader = Code(base: .missingHeader)
        /// MSH-1/MSH-2 do not declare four distinct usable delimiters.
        public static let badEncodingCharacters = Code(base: .badEncodingCharacters)
        /// A segment id is not three upper-case letters or digits followed by the field separator.
        public static let invalidSegmentID = Code(base: .invalidSegmentID)
        /// MSH-9 (message type) is empty.
        public static let missingMessageType = Code(base: .missingMessageType)
        /// Bytes that are not valid in the character set declared by MSH-18.
        public static let invalidCharacters = Code(base: .invalidCharacters)
        /// MSH-18 names a character set this parser cannot decode.
        public static let unsupportedCharacterSet = Code(base: .unsupportedCharacterSet)
        /// The message is larger than the configured maximum.
        public static let messageTooLarge = Code(base: .messageTooLarge)
        /// A batch segment (BTS, FTS, BHS) where it may not stand.
        public static let unexpectedSegment = Code(base: .unexpectedSegment)
        /// BTS-1 or FTS-1 disagrees with the number of messages or batches.
        public static let batchCountMismatch = Code(base: .batchCountMismatch)

        public var description: String {
            switch base {
            case .emptyInput: "emptyInput"
            case .missingHeader: "missingHeader"
            case .badEncodingCharacters: "badEncodingCharacters"
            case .invalidSegmentID: "invalidSegmentID"
            case .missingMessageType: "missingMessageType"
            case .invalidCharacters: "invalidCharacters"
            case .unsupportedCharacterSet: "unsupportedCharacterSet"
            case .messageTooLarge: "messageTooLarge"
            case .unexpectedSegment: "unexpectedSegment"
            case .batchCountMismatch: "batchCountMismatch"
            }
        }
    }

    public var code: Code
    /// Zero-based index of the segment within the input.
    public var segmentIndex: Int
    /// The segment id when it could be read (never a data value).
    public var segmentID: String?
    /// The field number (MSH-1 numbering) the problem is in, if any.
    public var field: Int?
    /// Zero-based offset of the offending byte within the whole input.
    public var byteOffset: Int
    /// A fixed, data-free explanation.
    public var reason: String

    public init(_ code: Code, segmentIndex: Int, segmentID: String? = nil, field: Int? = nil, byteOffset: Int, reason: String) {
        self.code = code
        self.segmentIndex = segmentIndex
        self.segmentID = segmentID
        self.field = field
        self.byteOffset = byteOffset
        self.reason = reason
    }

    /// `byte 120 (segment 3 PID-18): reason`.
    public var description: String {
        var place = "segment \(segmentIndex)"
        if let segmentID {
            place += " \(segmentID)"
            if let field { place += "-\(field)" }
        } else if let field {
            place += " field \(field)"
        }
        return "byte \(byteOffset) (\(place)): \(reason)"
    }

    /// The same error with its offsets moved by `delta` bytes and `segments` segments, for messages inside a larger input.
    func shifted(bytes delta: Int, segments: Int) -> HL7ParseError {
        var e = self
        e.byteOffset += delta
        e.segmentIndex += segments
        return e
    }
}
