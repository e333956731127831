/// Builds original-mode acknowledgements: an MSH answering the sender, MSA with the acknowledgment code and the
/// original control id, and one ERR per error (ERR-2 location, ERR-3 table 0357 code, ERR-4 severity, ERR-7
/// diagnostic; ERR-1 too for versions before 2.5).
public struct ACKBuilder: Sendable {
    /// MSA-1.
    public enum Code: String, Sendable, Hashable {
        /// Accepted and committed.
        case accept = "AA"
        /// Application error: the sender may correct and resend.
        case error = "AE"
        /// Application reject: the message will never be processed as sent.
        case reject = "AR"
    }

    public init() {}

    /// Acknowledges a parsed message.
    /// - Parameters:
    ///   - controlID: MSH-10 of the ACK itself.
    ///   - timestamp: MSH-7 (an HL7 DTM such as `20260101120000+0000`); the caller's clock keeps this type pure.
    public func acknowledge(
        _ message: Message, code: Code, errors: [HL7AcknowledgmentError] = [], controlID: String, timestamp: String
    ) -> Message {
        let msh = message.segment(at: 0).value
        return build(
            original: msh, version: message.versionID, encoding: message.encoding, characterSet: message.characterSet,
            code: code, errors: errors, controlID: controlID, timestamp: timestamp)
    }

    /// Acknowledges input that could not be parsed: as much of its MSH as can be read is answered, else a bare MSH.
    public func reject(
        _ input: some Collection<UInt8>, error: HL7ParseError, code: Code = .reject, controlID: String, timestamp: String
    ) -> Message {
        var header: Message? = nil
        var bytes = Array(input)
        if bytes.starts(with: ER7Parser.byteOrderMark) { bytes.removeFirst(3) }
        if let end = bytes.firstIndex(where: { $0 == 0x0D || $0 == 0x0A }) { bytes = Array(bytes[..<end]) }
        var options = ER7ParseOptions()
        options.requireMessageType = false
        if bytes.starts(with: Array("MSH".utf8)), let m = try? Message(parsing: bytes, options: options) { header = m }
        let msh = header?.segment(at: 0).value ?? SegmentValue(id: "MSH")
        return build(
            original: msh, version: header?.versionID, encoding: header?.encoding ?? .standard,
            characterSet: header?.characterSet ?? .utf8, code: code, errors: [HL7AcknowledgmentError(error)],
            controlID: controlID, timestamp: timestamp)
    }

    private func build(
        original msh: SegmentValue, version: String?, encoding original: EncodingCharacters, characterSet: HL7CharacterSet,
        code: Code, errors: [HL7AcknowledgmentError], controlID: String, timestamp: String
    ) -> Message {
        let encoding = original.escape == nil ? EncodingCharacters.standard : original
        var ack = SegmentValue(id: "MSH")
        ack.set(field: 1, to: String(decoding: [encoding.field], as: UTF8.self))
        ack.set(field: 2, to: String(decoding: encoding.encodingFieldBytes, as: UTF8.self))
        // The ACK goes back: its sender is the original receiver.
        for (to, from) in [(3, 5), (4, 6), (5, 3), (6, 4)] where from < msh.fields.count {
            while ack.fields.count <= to { ack.fields.append([[[""]]]) }
            ack.fields[to] = msh.fields[from]
        }
        ack.set(field: 7, to: timestamp)
        ack.set(field: 9, component: 1, to: "ACK")
        if let trigger = msh.value(field: 9, component: 2), !trigger.isEmpty {
            ack.set(field: 9, component: 2, to: trigger)
            ack.set(field: 9, component: 3, to: "ACK")
        }
        ack.set(field: 10, to: controlID)
        ack.set(field: 11, to: msh.value(field: 11) ?? "P")
        ack.set(field: 12, to: version ?? "2.5.1")
        if let charset = msh.value(field: 18), !charset.isEmpty { ack.set(field: 18, to: charset) }

        var msa = SegmentValue(id: "MSA")
        msa.set(field: 1, to: code.rawValue)
        msa.set(field: 2, to: msh.value(field: 10) ?? "")
        if code != .accept, let first = errors.first {
            msa.set(field: 3, to: first.code.text)
        }

        let legacyERR = Self.isBefore25(version)
        var segments = [ack, msa]
        for error in errors {
            var err = SegmentValue(id: "ERR")
            if let loc = error.location {
                if legacyERR {
                    err.set(field: 1, component: 1, to: loc.segmentID)
                    err.set(field: 1, component: 2, to: String(loc.segmentSequence))
                    if let f = loc.field { err.set(field: 1, component: 3, to: String(f)) }
                    err.set(field: 1, component: 4, subcomponent: 1, to: error.code.code)
                    err.set(field: 1, component: 4, subcomponent: 2, to: error.code.text)
                    err.set(field: 1, component: 4, subcomponent: 3, to: "HL70357")
                }
                err.set(field: 2, component: 1, to: loc.segmentID)
                err.set(field: 2, component: 2, to: String(loc.segmentSequence))
                if let f = loc.field { err.set(field: 2, component: 3, to: String(f)) }
                if let r = loc.fieldRepetition { err.set(field: 2, component: 4, to: String(r)) }
                if let c = loc.component { err.set(field: 2, component: 5, to: String(c)) }
                if let s = loc.subcomponent { err.set(field: 2, component: 6, to: String(s)) }
            }
            err.set(field: 3, component: 1, to: error.code.code)
            err.set(field: 3, component: 2, to: error.code.text)
            err.set(field: 3, component: 3, to: "HL70357")
            err.set(field: 4, to: error.severity.rawValue)
            if let diagnostic = error.diagnostic { err.set(field: 7, to: diagnostic) }
            segments.append(err)
        }
        // Every value was decoded from a valid message or is ours; escaping makes it writable in the same set.
        var options = ER7ParseOptions()
        options.undeclaredCharacterSet = characterSet
        if let built = try? Message(segments: segments, encoding: encoding, characterSet: characterSet, options: options) {
            return built
        }
        // A value the character set cannot carry: fall back to UTF-8 with the standard delimiters.
        segments[0].fields = Array(segments[0].fields.prefix(18))
        if segments[0].fields.count > 18 { segments[0].fields[18] = [[[""]]] }
        return try! Message(segments: segments, encoding: .standard, characterSet: .utf8)
    }

    static func isBefore25(_ version: String?) -> Bool {
        guard let version else { return false }
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2, parts[0] == 2 else { return false }
        return parts[1] < 5
    }
}
