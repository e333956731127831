/// Parses ER7 (pipe-and-hat) input: single messages, plain files of many messages, and FHS/BHS batches.
public struct ER7Parser: Sendable {
    public var options: ER7ParseOptions

    public init(options: ER7ParseOptions = .init()) {
        self.options = options
    }

    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Parses a whole input. BTS-1 and FTS-1 counts, when given, must match what the input holds.
    public func parse(_ input: some Collection<UInt8>) throws(HL7ParseError) -> HL7Batch {
        var parts: [HL7Batch.Part] = []
        var failure: HL7ParseError?
        let prefix = withBuffer(input) { buf in
            scan(buf) { result in
                switch result {
                case .success(let part): parts.append(part); return true
                case .failure(let error): failure = error; return false
                }
            }
        }
        if let failure { throw failure }
        return HL7Batch(prefix: prefix, parts: parts)
    }

    /// Parses text (UTF-8).
    public func parse(_ text: String) throws(HL7ParseError) -> HL7Batch {
        try parse(Array(text.utf8))
    }

    /// Parses a whole input, skipping past malformed messages to the next MSH instead of stopping at the first.
    ///
    /// The batch holds every message that parsed; `errors` every problem, in input order. Use it where one bad
    /// message must not hold up the others (imports, dead-lettering).
    public func parseRecovering(_ input: some Collection<UInt8>) -> (batch: HL7Batch, errors: [HL7ParseError]) {
        var parts: [HL7Batch.Part] = []
        var errors: [HL7ParseError] = []
        let prefix = withBuffer(input) { buf in
            scan(buf) { result in
                switch result {
                case .success(let part): parts.append(part)
                case .failure(let error): errors.append(error)
                }
                return true
            }
        }
        return (HL7Batch(prefix: prefix, parts: parts), errors)
    }

    /// Streams an input part by part (recovering after errors), so a large file is parsed in bounded memory.
    /// Return `false` from `body` to stop.
    /// - Returns: the bytes before the first segment (byte-order mark, blank lines).
    @discardableResult
    public func forEachPart(in input: some Collection<UInt8>, _ body: (Result<HL7Batch.Part, HL7ParseError>) -> Bool) -> [UInt8] {
        withBuffer(input) { buf in scan(buf, body) }
    }

    private func withBuffer<R>(_ input: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = input.withContiguousStorageIfAvailable(body) { return r }
        return Array(input).withUnsafeBufferPointer(body)
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

    /// The one loop over an input: emits each part or error in order, recovering after an error at the next unit.
    /// - Returns: the bytes before the first segment (byte-order mark, blank lines).
    private func scan(_ buf: UnsafeBufferPointer<UInt8>, _ emit: (Result<HL7Batch.Part, HL7ParseError>) -> Bool) -> [UInt8] {
        let n = buf.count
        var i = 0
        if n >= 3, buf[0] == 0xEF, buf[1] == 0xBB, buf[2] == 0xBF { i = 3 }
        while i < n, buf[i] == ER7Scanner.cr || buf[i] == ER7Scanner.lf { i += 1 }
        let prefix = Array(buf[0..<i])
        guard i < n else {
            _ = emit(.failure(HL7ParseError(.emptyInput, segmentIndex: 0, byteOffset: i, reason: "the input holds no segment")))
            return prefix
        }

        var segmentBase = 0
        var current: EncodingCharacters? = nil
        // Batch bookkeeping: messages in the open batch, batches in the file.
        var inFile = false, inBatch = false, anyPart = false
        let scratch = ER7Scanner.Scratch()
        var messagesInBatch = 0, batchesInFile = 0

        while i < n {
            let unit: ER7Scanner.Unit
            let message: Message
            do throws(HL7ParseError) {
                unit = try ER7Scanner.scanUnit(
                    buf, from: i, inherited: current, maxBytes: options.maxMessageBytes, segmentBase: segmentBase, scratch: scratch)
                message = try makeMessage(unit, buf, segmentBase: segmentBase)
            } catch {
                guard emit(.failure(error)) else { return prefix }
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
                HL7ParseError(
                    .unexpectedSegment, segmentIndex: segmentBase, segmentID: unit.headerID.description, byteOffset: unit.start, reason: what)
            }
            var result: Result<HL7Batch.Part, HL7ParseError>
            switch unit.headerID {
            case .fhs:
                if anyPart {
                    result = .failure(misplaced("FHS must be the first segment of a file"))
                } else {
                    inFile = true
                    result = .success(.fileHeader(message))
                }
            case .bhs:
                if inBatch {
                    result = .failure(misplaced("BHS inside an open batch: BTS expected first"))
                } else {
                    inBatch = true
                    messagesInBatch = 0
                    batchesInFile += 1
                    result = .success(.batchHeader(message))
                }
            case .bts:
                if !inBatch {
                    result = .failure(misplaced("BTS without a BHS before it"))
                } else {
                    inBatch = false
                    result = checkCount(message, expected: messagesInBatch, what: "BTS-1 (batch message count)", segmentBase: segmentBase)
                        .map { .batchTrailer(message) }
                }
            case .fts:
                if !inFile {
                    result = .failure(misplaced("FTS without an FHS before it"))
                } else {
                    inFile = false
                    inBatch = false
                    result = checkCount(message, expected: batchesInFile, what: "FTS-1 (file batch count)", segmentBase: segmentBase)
                        .map { .fileTrailer(message) }
                }
            default:
                if inBatch { messagesInBatch += 1 }
                result = .success(.message(message))
            }
            anyPart = true
            segmentBase += unit.index.segments.count
            i = unit.end
            guard emit(result) else { return prefix }
        }
        return prefix
    }

    private func checkCount(_ trailer: Message, expected: Int, what: String, segmentBase: Int) -> Result<Void, HL7ParseError> {
        let segment = trailer.segment(at: 0)
        guard let text = segment.value(field: 1), !text.isEmpty else { return .success(()) }
        guard let count = Int(text.trimmingSpaces), count == expected else {
            return .failure(
                HL7ParseError(
                    .batchCountMismatch, segmentIndex: segmentBase, segmentID: segment.id, field: 1, byteOffset: trailer.startOffset,
                    reason: "\(what) says \(Int(text.trimmingSpaces).map(String.init) ?? "a non-number") but the input holds \(expected)"))
        }
        return .success(())
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
            throw HL7ParseError(
                .missingMessageType, segmentIndex: segmentBase, segmentID: "MSH", field: 9, byteOffset: offset,
                reason: "MSH-9 (message type) is empty")
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
            reason:
                "a byte that is not valid \(charset) (the character set \(declared ? "declared in MSH-18" : "assumed when MSH-18 is empty") for this message)"
        )
    }
}
