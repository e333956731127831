/// Writes ER7. A parsed message is rebuilt from its index (ids, delimiters of each recorded kind, the text between
/// them); with ``Terminator/preserve`` that gives back the input byte for byte.
public struct ER7Serializer: Sendable {
    /// How segments end in the output.
    public enum Terminator: Sendable, Hashable {
        /// Each segment keeps the terminator it arrived with (including blank lines after it).
        case preserve
        /// `\r`, the standard.
        case carriageReturn
        case lineFeed
        case carriageReturnLineFeed

        var bytes: [UInt8] {
            switch self {
            case .preserve, .carriageReturn: [0x0D]
            case .lineFeed: [0x0A]
            case .carriageReturnLineFeed: [0x0D, 0x0A]
            }
        }
    }

    public var terminator: Terminator

    public init(terminator: Terminator = .preserve) {
        self.terminator = terminator
    }

    /// The message's bytes, rebuilt from its index.
    public func serialize(_ message: Message) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.bytes.count + 2)
        append(message, to: &out)
        return out
    }

    /// The whole input: prefix, control segments and messages in order.
    public func serialize(_ batch: HL7Batch) -> [UInt8] {
        var out = terminator == .preserve ? batch.prefix : Array(batch.prefix.prefix { $0 == 0xEF || $0 == 0xBB || $0 == 0xBF })
        for part in batch.parts { append(part.message, to: &out) }
        return out
    }

    func append(_ message: Message, to out: inout [UInt8]) {
        let index = message.index
        let enc = message.encoding
        let delimiter: [UInt8] = [0, enc.field, enc.repetition, enc.component, enc.subcomponent]
        message.bytes.withUnsafeBufferPointer { bytes in
            for seg in index.segments {
                var p = Int(seg.start)
                for t in Int(seg.tokenStart)..<Int(seg.tokenEnd) {
                    let token = index.tokens[t]
                    let q = ER7Index.offset(token)
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[p..<q]))
                    out.append(delimiter[Int(ER7Index.kind(token))])
                    p = q + 1
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[p..<Int(seg.contentEnd)]))
                if terminator == .preserve {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[Int(seg.contentEnd)..<Int(seg.end)]))
                } else {
                    out.append(contentsOf: terminator.bytes)
                }
            }
        }
    }

    /// Writes decoded segment values, escaping every value. For MSH, FHS and BHS, fields 1 and 2 come from `encoding`.
    public static func serialize(
        _ segments: [SegmentValue], encoding: EncodingCharacters = .standard, characterSet: HL7CharacterSet = .utf8,
        terminator: Terminator = .carriageReturn
    ) throws(HL7ValueError) -> [UInt8] {
        var out: [UInt8] = []
        for (s, segment) in segments.enumerated() {
            try segment.append(to: &out, encoding: encoding, characterSet: characterSet, position: s)
            out.append(contentsOf: terminator.bytes)
        }
        return out
    }
}
