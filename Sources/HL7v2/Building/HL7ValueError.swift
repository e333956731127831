/// Why a value could not be written into a message; `location` names the place, never the value.
public struct HL7ValueError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// The text has a character the message's character set cannot carry, or a delimiter and no escape character.
        public static let unrepresentable = Code(name: "unrepresentable")
        /// The path is not of the terser form (`PID-3[2].1.1`).
        public static let invalidPath = Code(name: "invalidPath")
        /// MSH-1 and MSH-2 define the delimiters and cannot be set as values.
        public static let readOnly = Code(name: "readOnly")
        /// The addressed segment does not exist and cannot be appended.
        public static let segmentNotFound = Code(name: "segmentNotFound")
        /// A segment id must be three upper-case letters or digits.
        public static let invalidSegmentID = Code(name: "invalidSegmentID")
        /// The result would not be a well-formed message.
        public static let invalidMessage = Code(name: "invalidMessage")
        public var description: String { name }
    }

    public var code: Code
    public var location: String

    public init(_ code: Code, location: String) {
        self.code = code
        self.location = location
    }

    public var description: String { "\(code) at \(location)" }
}
