/// A whole ER7 input: one message, a plain sequence of messages, or an FHS/BHS batch file.
///
/// Keeps every byte (a leading byte-order mark or blank lines included), so ``ER7Serializer`` gives the input back.
public struct HL7Batch: Sendable {
    /// One piece of the input, in order.
    public enum Part: Sendable {
        case fileHeader(Message)
        case batchHeader(Message)
        case message(Message)
        case batchTrailer(Message)
        case fileTrailer(Message)

        /// The message or one-segment control unit this part holds.
        public var message: Message {
            switch self {
            case .fileHeader(let m), .batchHeader(let m), .message(let m), .batchTrailer(let m), .fileTrailer(let m): m
            }
        }

        public var isMessage: Bool {
            if case .message = self { return true }
            return false
        }
    }

    /// Bytes before the first segment: a UTF-8 byte-order mark and blank lines.
    public var prefix: [UInt8]
    public var parts: [Part]

    /// The messages only (MSH units), in order.
    public var messages: [Message] {
        parts.compactMap { if case .message(let m) = $0 { m } else { nil } }
    }
}
