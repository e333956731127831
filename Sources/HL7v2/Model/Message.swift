/// One parsed HL7 v2 message (or batch control segment): its exact bytes and an index of every delimiter.
///
/// Values are decoded on access, so parsing costs one pass over the bytes; every field, repetition, component and
/// subcomponent is reachable by index without copying. `Message` is a value: ``set(_:to:)`` makes a new version.
public struct Message: Sendable {
    /// The message's bytes exactly as received, segment terminators included.
    public let bytes: [UInt8]
    /// The delimiters declared by MSH-1 and MSH-2.
    public let encoding: EncodingCharacters
    /// The character set declared by MSH-18 (or the undeclared default).
    public let characterSet: HL7CharacterSet
    @usableFromInline let index: ER7Index

    init(bytes: [UInt8], encoding: EncodingCharacters, characterSet: HL7CharacterSet, index: ER7Index) {
        self.bytes = bytes
        self.encoding = encoding
        self.characterSet = characterSet
        self.index = index
    }

    /// Parses exactly one message (a leading UTF-8 byte-order mark and trailing blank lines are allowed).
    public init(parsing bytes: some Collection<UInt8>, options: ER7ParseOptions = .init()) throws(HL7ParseError) {
        let batch = try ER7Parser(options: options).parse(bytes)
        guard batch.parts.count == 1, case .message(let message) = batch.parts[0] else {
            let offset = batch.parts.count > 1 ? batch.parts[1].message.startOffset : 0
            throw HL7ParseError(
                .unexpectedSegment, segmentIndex: batch.parts.first?.message.segmentCount ?? 0, byteOffset: offset,
                reason: "expected exactly one message, found a batch or several messages")
        }
        self = message
    }

    /// Parses a message given as text (segments separated by `\r` or `\n`).
    public init(parsing text: String, options: ER7ParseOptions = .init()) throws(HL7ParseError) {
        try self.init(parsing: Array(text.utf8), options: options)
    }

    /// Offset of this message within the input it was parsed from.
    public internal(set) var startOffset: Int = 0

    // MARK: Segments

    /// The number of segments.
    public var segmentCount: Int { index.segments.count }

    /// The segments, in order.
    public var segments: [Segment] { (0..<segmentCount).map { Segment(message: self, position: $0) } }

    /// The segment at a zero-based position.
    public func segment(at position: Int) -> Segment { Segment(message: self, position: position) }

    /// The `occurrence`-th (1-based) segment with this id.
    public func segment(_ id: String, occurrence: Int = 1) -> Segment? {
        var seen = 0
        for s in 0..<segmentCount where segmentIDMatches(s, id) {
            seen += 1
            if seen == occurrence { return Segment(message: self, position: s) }
        }
        return nil
    }

    /// Every segment with this id, in order.
    public func segments(_ id: String) -> [Segment] {
        (0..<segmentCount).filter { segmentIDMatches($0, id) }.map { Segment(message: self, position: $0) }
    }

    func segmentIDMatches(_ s: Int, _ id: String) -> Bool {
        let start = Int(index.segments[s].start)
        let u = id.utf8
        guard u.count == 3 else { return false }
        var k = start
        for c in u {
            if bytes[k] != c { return false }
            k += 1
        }
        return true
    }

    func segmentID(_ s: Int) -> String {
        let start = Int(index.segments[s].start)
        return String(decoding: bytes[start..<(start + 3)], as: UTF8.self)
    }

    // MARK: Header fields

    /// MSH-9.1, the message code (`ADT`, `ORU`…).
    public var messageCode: String? { headerValue(9, 1) }
    /// MSH-9.2, the trigger event (`A01`, `R01`…).
    public var triggerEvent: String? { headerValue(9, 2) }
    /// MSH-9.3, the message structure (`ADT_A01`…).
    public var messageStructure: String? { headerValue(9, 3) }
    /// MSH-10, the message control id.
    public var controlID: String? { headerValue(10, 1) }
    /// MSH-11.1, the processing id (`P`, `T`, `D`).
    public var processingID: String? { headerValue(11, 1) }
    /// MSH-12.1, the version id (`2.5.1`…).
    public var versionID: String? { headerValue(12, 1) }

    private func headerValue(_ field: Int, _ component: Int) -> String? {
        guard segmentCount > 0 else { return nil }
        let v = segment(at: 0).value(field: field, component: component)
        return v?.isEmpty == true ? nil : v
    }

    // MARK: Decoding

    /// Text for the bytes in `range`, escape sequences decoded.
    func decode(_ range: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { buf in
            EscapeCodec.unescape(UnsafeBufferPointer(rebasing: buf[range]), encoding: encoding, characterSet: characterSet)
        }
    }

    /// Text for the bytes in `range` as they stand, escapes included.
    func rawText(_ range: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { buf in characterSet.decode(UnsafeBufferPointer(rebasing: buf[range])) }
    }
}

extension Message: Equatable {
    /// Two messages are equal when their bytes are.
    public static func == (a: Message, b: Message) -> Bool { a.bytes == b.bytes }
}

extension Message: CustomStringConvertible {
    /// A description without content: type, control id position and size, never values.
    public var description: String {
        "Message(\(messageCode ?? "?")^\(triggerEvent ?? "?"), \(segmentCount) segments, \(bytes.count) bytes)"
    }
}
