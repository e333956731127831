/// The single pass over ER7 bytes: finds segments and records every delimiter, at a few cycles per byte.
///
/// It scans one *unit*: a message (an MSH segment and every segment up to the next MSH or batch segment) or one
/// batch control segment (FHS, BHS, BTS, FTS). Offsets in the result are relative to the unit's first byte;
/// offsets in errors are absolute.
struct ER7Scanner {
    struct Unit {
        var index: ER7Index
        var encoding: EncodingCharacters
        var headerID: SegmentID
        var start: Int
        var end: Int
        /// Some byte is 0x80 or above, so the character set must be checked.
        var hasNonASCII: Bool
    }

    /// A segment id packed into 24 bits, for cheap comparisons.
    struct SegmentID: Hashable, Sendable, CustomStringConvertible {
        var raw: UInt32
        init(_ a: UInt8, _ b: UInt8, _ c: UInt8) { raw = UInt32(a) << 16 | UInt32(b) << 8 | UInt32(c) }
        init(_ s: StaticString) {
            let p = s.utf8Start
            self.init(p[0], p[1], p[2])
        }
        static let msh = SegmentID("MSH"), fhs = SegmentID("FHS"), bhs = SegmentID("BHS")
        static let bts = SegmentID("BTS"), fts = SegmentID("FTS")
        var isHeader: Bool { self == .msh || self == .fhs || self == .bhs }
        var isBatchControl: Bool { self == .fhs || self == .bhs || self == .bts || self == .fts }
        var description: String {
            String(decoding: [UInt8(truncatingIfNeeded: raw >> 16), UInt8(truncatingIfNeeded: raw >> 8), UInt8(truncatingIfNeeded: raw)], as: UTF8.self)
        }
    }

    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let terminatorClass: UInt8 = 5

    /// Class of every byte for one set of encoding characters: 0 text, 1–4 a delimiter kind, 5 a segment terminator.
    static func classTable(for enc: EncodingCharacters) -> [UInt8] {
        var table = [UInt8](repeating: 0, count: 256)
        table[Int(cr)] = terminatorClass
        table[Int(lf)] = terminatorClass
        table[Int(enc.field)] = UInt8(ER7Index.Kind.field.rawValue)
        table[Int(enc.repetition)] = UInt8(ER7Index.Kind.repetition.rawValue)
        table[Int(enc.component)] = UInt8(ER7Index.Kind.component.rawValue)
        table[Int(enc.subcomponent)] = UInt8(ER7Index.Kind.subcomponent.rawValue)
        return table
    }

    static func isIDByte(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) }

    /// Reads the segment id at `i`; it must be followed by the field separator (if known), a terminator or the end.
    static func segmentID(
        _ buf: UnsafeBufferPointer<UInt8>, at i: Int, fieldSeparator: UInt8?, segmentIndex: Int
    ) throws(HL7ParseError) -> SegmentID {
        let n = buf.count
        guard i + 3 <= n, isIDByte(buf[i]), isIDByte(buf[i + 1]), isIDByte(buf[i + 2]) else {
            throw HL7ParseError(
                .invalidSegmentID, segmentIndex: segmentIndex, byteOffset: i,
                reason: "a segment must start with a three-character id of upper-case letters or digits")
        }
        let id = SegmentID(buf[i], buf[i + 1], buf[i + 2])
        // A header segment declares its own field separator; it is checked with the encoding characters.
        if i + 3 < n, !id.isHeader {
            let next = buf[i + 3]
            let ok = next == cr || next == lf || (fieldSeparator.map { next == $0 } ?? true)
            guard ok else {
                throw HL7ParseError(
                    .invalidSegmentID, segmentIndex: segmentIndex, segmentID: id.description, byteOffset: i + 3,
                    reason: "the segment id must be followed by the field separator or a segment terminator")
            }
        }
        return id
    }

    /// Reads MSH-1/MSH-2 (or FHS/BHS) at `i`, the offset of the segment id.
    static func encodingCharacters(
        _ buf: UnsafeBufferPointer<UInt8>, at i: Int, id: SegmentID, segmentIndex: Int
    ) throws(HL7ParseError) -> EncodingCharacters {
        let n = buf.count
        func fail(_ field: Int, _ offset: Int, _ reason: String) -> HL7ParseError {
            HL7ParseError(.badEncodingCharacters, segmentIndex: segmentIndex, segmentID: id.description, field: field, byteOffset: offset, reason: reason)
        }
        guard i + 3 < n, buf[i + 3] != cr, buf[i + 3] != lf else {
            throw fail(1, min(i + 3, n), "\(id)-1 (the field separator) is missing")
        }
        let sep = buf[i + 3]
        var j = i + 4
        while j < n, buf[j] != sep, buf[j] != cr, buf[j] != lf { j += 1 }
        let chars = UnsafeBufferPointer(rebasing: buf[(i + 4)..<j])
        guard !chars.isEmpty else { throw fail(2, i + 4, "\(id)-2 (the encoding characters) is empty") }
        guard let enc = EncodingCharacters(field: sep, encodingField: chars) else {
            throw fail(2, i + 4, "\(id)-1 and \(id)-2 must declare distinct printable delimiters: four characters (five with the v2.7 truncation character) after the field separator")
        }
        return enc
    }

    /// Scans one unit starting at `start` (a segment id). `inherited` gives the delimiters for BTS/FTS.
    static func scanUnit(
        _ buf: UnsafeBufferPointer<UInt8>, from start: Int, inherited: EncodingCharacters?, maxBytes: Int, segmentBase: Int
    ) throws(HL7ParseError) -> Unit {
        let n = buf.count
        let firstID = try segmentID(buf, at: start, fieldSeparator: nil, segmentIndex: segmentBase)
        let encoding: EncodingCharacters
        if firstID.isHeader {
            encoding = try encodingCharacters(buf, at: start, id: firstID, segmentIndex: segmentBase)
        } else if let inherited, firstID == .bts || firstID == .fts {
            encoding = inherited
        } else {
            throw HL7ParseError(
                .missingHeader, segmentIndex: segmentBase, segmentID: firstID.description, byteOffset: start,
                reason: inherited == nil ? "a message must start with MSH (a batch with FHS or BHS)" : "a segment stands outside any message: MSH expected")
        }
        let singleSegment = firstID != .msh
        let maxBytes = min(maxBytes, ER7Index.maximumMessageBytes)
        var index = ER7Index()
        let estimate = min(n - start, 8192)
        index.tokens.reserveCapacity(estimate / 3)
        index.fieldTokens.reserveCapacity(estimate / 6)
        index.segments.reserveCapacity(estimate / 64 + 1)

        let table = classTable(for: encoding)
        var accumulated: UInt8 = 0
        var i = start
        try table.withUnsafeBufferPointer { (table) throws(HL7ParseError) in
            let sep = encoding.field
            while i < n {
                let segStart = i
                let id: SegmentID
                if index.segments.isEmpty {
                    id = firstID
                } else {
                    id = try segmentID(buf, at: i, fieldSeparator: sep, segmentIndex: segmentBase + index.segments.count)
                    if id.isHeader || id.isBatchControl { break }
                }
                let tokenStart = index.tokens.count
                let fieldStart = index.fieldTokens.count
                i += 3
                if id.isHeader, i < n, buf[i] == sep {
                    // MSH-1 is the separator itself; MSH-2 is not split.
                    index.fieldTokens.append(UInt32(index.tokens.count))
                    index.tokens.append(UInt32(i - start) << 3 | ER7Index.Kind.field.rawValue)
                    i += 1
                    while i < n {
                        let b = buf[i]
                        if b == sep || b == cr || b == lf { break }
                        accumulated |= b
                        i += 1
                    }
                }
                // The hot loop: most bytes are text.
                while i < n {
                    let b = buf[i]
                    let c = table[Int(b)]
                    if c == 0 {
                        accumulated |= b
                        i += 1
                        continue
                    }
                    if c == terminatorClass { break }
                    if c == 1 { index.fieldTokens.append(UInt32(index.tokens.count)) }
                    index.tokens.append(UInt32(truncatingIfNeeded: i - start) << 3 | UInt32(c))
                    i += 1
                }
                let contentEnd = i
                while i < n, buf[i] == cr || buf[i] == lf { i += 1 }
                index.segments.append(
                    ER7Index.SegmentRecord(
                        start: UInt32(truncatingIfNeeded: segStart - start),
                        contentEnd: UInt32(truncatingIfNeeded: contentEnd - start),
                        end: UInt32(truncatingIfNeeded: i - start),
                        tokenStart: UInt32(tokenStart), tokenEnd: UInt32(index.tokens.count),
                        fieldStart: UInt32(fieldStart), fieldCount: UInt32(index.fieldTokens.count - fieldStart),
                        isHeader: id.isHeader))
                if i - start > maxBytes {
                    throw HL7ParseError(
                        .messageTooLarge, segmentIndex: segmentBase + index.segments.count - 1, byteOffset: start + maxBytes,
                        reason: "the message is larger than the maximum of \(maxBytes) bytes")
                }
                if singleSegment { break }
            }
        }
        return Unit(index: index, encoding: encoding, headerID: firstID, start: start, end: i, hasNonASCII: accumulated >= 0x80)
    }
}
