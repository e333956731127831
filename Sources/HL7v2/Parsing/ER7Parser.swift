/// Parses ER7 (pipe-and-hat) input: single messages, plain files of many messages, and FHS/BHS batches.
public struct ER7Parser: Sendable {
    public var options: ER7ParseOptions

    public init(options: ER7ParseOptions = .init()) {
        self.options = options
    }

    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Parses a whole input. BTS-1 and FTS-1 counts, when given, must match what the input holds.
    public func parse(_ input: some Collection<UInt8>) throws(HL7ParseError) -> HL7Batch {
        let result: Result<HL7Batch, HL7ParseError>
        if let r = input.withContiguousStorageIfAvailable({ parse(buffer: $0) }) {
            result = r
        } else {
            let copy = Array(input)
            result = copy.withUnsafeBufferPointer { parse(buffer: $0) }
        }
        return try result.get()
    }

    /// Parses text (UTF-8).
    public func parse(_ text: String) throws(HL7ParseError) -> HL7Batch {
        try parse(Array(text.utf8))
    }

    func parse(buffer buf: UnsafeBufferPointer<UInt8>) -> Result<HL7Batch, HL7ParseError> {
        do throws(HL7ParseError) {
            return .success(try parseBatch(buf, recovering: nil))
        } catch {
            return .failure(error)
        }
    }

    /// Parses a whole input, skipping past malformed messages to the next MSH instead of stopping at the first.
    ///
    /// The batch holds every message that parsed; `errors` every problem, in input order. Use it where one bad
    /// message must not hold up the others (imports, dead-lettering).
    public func parseRecovering(_ input: some Collection<UInt8>) -> (batch: HL7Batch, errors: [HL7ParseError]) {
        var errors: [HL7ParseError] = []
        let body: (UnsafeBufferPointer<UInt8>) -> HL7Batch = { buf in
            do throws(HL7ParseError) {
                return try parseBatch(buf, recovering: &errors)
            } catch {
                errors.append(error)
                return HL7Batch(prefix: [], parts: [])
            }
        }
        if let batch = input.withContiguousStorageIfAvailable(body) { return (batch, errors) }
        let batch = Array(input).withUnsafeBufferPointer(body)
        return (batch, errors)
    }

    /// The offset of the next segment after `offset` that starts a message or a batch segment, or the end.
    static func nextUnitStart(_ buf: UnsafeBufferPointer<UInt8>, after offset: Int) -> Int {
        var i = offset + 1
        let n = buf.count
        while i < n {
            let b = buf[i]
            if (b == ER7Scanner.cr || b == ER7Scanner.lf), i + 4 <= n {
                let id = ER7Scanner.SegmentID(buf[i + 1], buf[i + 2], buf[i + 3])
                if id.isHeader || id.isBatchControl { return i + 1 }
            }
            i += 1
        }
        return n
    }

    private func parseBatch(_ buf: UnsafeBufferPointer<UInt8>, recovering errors: UnsafeMutablePointer<[HL7ParseError]>?) throws(HL7ParseError) -> HL7Batch {
        let n = buf.count
        var i = 0
        if n >= 3, buf[0] == 0xEF, buf[1] == 0xBB, buf[2] == 0xBF { i = 3 }
        while i < n, buf[i] == ER7Scanner.cr || buf[i] == ER7Scanner.lf { i += 1 }
        let prefix = Array(buf[0..<i])
        guard i < n else {
            throw HL7ParseError(.emptyInput, segmentIndex: 0, byteOffset: i, reason: "the input holds no segment")
        }

        var parts: [HL7Batch.Part] = []
        var segmentBase = 0
        var current: EncodingCharacters? = nil
        // Batch bookkeeping: messages in the open batch, batches in the file.
        var inFile = false, inBatch = false
        var messagesInBatch = 0, batchesInFile = 0

        while i < n {
            let unit: ER7Scanner.Unit
            let message: Message
            do throws(HL7ParseError) {
                unit = try ER7Scanner.scanUnit(buf, from: i, inherited: current, maxBytes: options.maxMessageBytes, segmentBase: segmentBase)
                message = try makeMessage(unit, buf, segmentBase: segmentBase)
            } catch {
                guard let errors else { throw error }
                errors.pointee.append(error)
                let next = Self.nextUnitStart(buf, after: max(i, min(error.byteOffset, n - 1)))
                var skip = i
                while skip < next {
                    if buf[skip] == ER7Scanner.cr || buf[skip] == ER7Scanner.lf { segmentBase += 1 }
                    skip += 1
                }
                i = next
                continue
            }
            current = unit.encoding
            func misplaced(_ what: String) -> HL7ParseError {
                HL7ParseError(.unexpectedSegment, segmentIndex: segmentBase, segmentID: unit.headerID.description, byteOffset: unit.start, reason: what)
            }
            switch unit.headerID {
            case .fhs:
                guard parts.isEmpty else { throw misplaced("FHS must be the first segment of a file") }
                inFile = true
                parts.append(.fileHeader(message))
            case .bhs:
                guard !inBatch else { throw misplaced("BHS inside an open batch: BTS expected first") }
                inBatch = true
                messagesInBatch = 0
                batchesInFile += 1
                parts.append(.batchHeader(message))
            case .bts:
                guard inBatch else { throw misplaced("BTS without a BHS before it") }
                try recordOrThrow(errors) { () throws(HL7ParseError) in try checkCount(message, expected: messagesInBatch, what: "BTS-1 (batch message count)", segmentBase: segmentBase) }
                inBatch = false
                parts.append(.batchTrailer(message))
            case .fts:
                guard inFile else { throw misplaced("FTS without an FHS before it") }
                try recordOrThrow(errors) { () throws(HL7ParseError) in try checkCount(message, expected: batchesInFile, what: "FTS-1 (file batch count)", segmentBase: segmentBase) }
                inFile = false
                inBatch = false
                parts.append(.fileTrailer(message))
            default:
                if inBatch { messagesInBatch += 1 }
                parts.append(.message(message))
            }
            segmentBase += unit.index.segments.count
            i = unit.end
        }
        return HL7Batch(prefix: prefix, parts: parts)
    }

    private func recordOrThrow(_ errors: UnsafeMutablePointer<[HL7ParseError]>?, _ body: () throws(HL7ParseError) -> Void) throws(HL7ParseError) {
        do throws(HL7ParseError) {
            try body()
        } catch {
            guard let errors else { throw error }
            errors.pointee.append(error)
        }
    }

    private func checkCount(_ trailer: Message, expected: Int, what: String, segmentBase: Int) throws(HL7ParseError) {
        let segment = trailer.segment(at: 0)
        guard let text = segment.value(field: 1), !text.isEmpty else { return }
        guard let count = Int(text.trimmingSpaces), count == expected else {
            throw HL7ParseError(
                .batchCountMismatch, segmentIndex: segmentBase, segmentID: segment.id, field: 1, byteOffset: trailer.startOffset,
                reason: "\(what) says \(Int(text.trimmingSpaces).map(String.init) ?? "a non-number") but the input holds \(expected)")
        }
    }

    private func makeMessage(_ unit: ER7Scanner.Unit, _ buf: UnsafeBufferPointer<UInt8>, segmentBase: Int) throws(HL7ParseError) -> Message {
        let bytes = Array(UnsafeBufferPointer(rebasing: buf[unit.start..<unit.end]))
        var message = Message(bytes: bytes, encoding: unit.encoding, characterSet: .utf8, index: unit.index)
        message.startOffset = unit.start
        guard unit.headerID == .msh else {
            if unit.hasNonASCII { try validate(message, as: .utf8, declared: false, segmentBase: segmentBase) }
            return message
        }
        let msh = message.segment(at: 0)
        if options.requireMessageType, (msh.value(field: 9) ?? "").isEmpty {
            let offset = unit.start + (message.index.fieldSlot(segment: 0, number: 9)?.start ?? Int(unit.index.segments[0].contentEnd))
            throw HL7ParseError(.missingMessageType, segmentIndex: segmentBase, segmentID: "MSH", field: 9, byteOffset: offset, reason: "MSH-9 (message type) is empty")
        }
        var charset = options.undeclaredCharacterSet
        var declaredCharset = false
        if let declared = msh.value(field: 18), !declared.isEmpty {
            guard let set = HL7CharacterSet(msh18: declared) else {
                let offset = unit.start + (message.index.fieldSlot(segment: 0, number: 18)?.start ?? 0)
                throw HL7ParseError(
                    .unsupportedCharacterSet, segmentIndex: segmentBase, segmentID: "MSH", field: 18, byteOffset: offset,
                    reason: "MSH-18 names a character set this gateway cannot decode (supported: ASCII, 8859/1, 8859/15, UNICODE UTF-8)")
            }
            charset = set
            declaredCharset = true
        }
        message = Message(bytes: message.bytes, encoding: unit.encoding, characterSet: charset, index: unit.index)
        message.startOffset = unit.start
        if unit.hasNonASCII { try validate(message, as: charset, declared: declaredCharset, segmentBase: segmentBase) }
        return message
    }

    private func validate(_ message: Message, as charset: HL7CharacterSet, declared: Bool, segmentBase: Int) throws(HL7ParseError) {
        let bad = message.bytes.withUnsafeBufferPointer { charset.firstInvalidByte(in: $0) }
        guard let bad else { return }
        let s = message.index.segments.firstIndex { Int($0.end) > bad } ?? 0
        throw HL7ParseError(
            .invalidCharacters, segmentIndex: segmentBase + s, segmentID: message.segmentID(s), byteOffset: message.startOffset + bad,
            reason: "a byte that is not valid \(charset) (the character set \(declared ? "declared in MSH-18" : "assumed when MSH-18 is empty") for this message)")
    }
}
