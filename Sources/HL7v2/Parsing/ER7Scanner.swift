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
            String(
                decoding: [UInt8(truncatingIfNeeded: raw >> 16), UInt8(truncatingIfNeeded: raw >> 8), UInt8(truncatingIfNeeded: raw)], as: UTF8.self)
        }
    }

    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let terminatorClass: UInt8 = 5

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
            HL7ParseError(
                .badEncodingCharacters, segmentIndex: segmentIndex, segmentID: id.description, field: field, byteOffset: offset, reason: reason)
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
            throw fail(
                2, i + 4,
                "\(id)-1 and \(id)-2 must declare distinct printable delimiters: four characters (five with the v2.7 truncation character) after the field separator"
            )
        }
        return enc
    }

    /// Growable token buffers reused from message to message within one parse, so the hot loop appends with a
    /// single capacity check and the index arrays are made with one copy per message.
    final class Scratch {
        var tokens: UnsafeMutablePointer<UInt32>
        var tokenCount = 0
        var tokenCapacity: Int
        var fieldTokens: UnsafeMutablePointer<UInt32>
        var fieldCount = 0
        var fieldCapacity: Int

        init(capacity: Int = 4096) {
            tokenCapacity = capacity
            fieldCapacity = capacity / 2
            tokens = .allocate(capacity: tokenCapacity)
            fieldTokens = .allocate(capacity: fieldCapacity)
        }

        deinit {
            tokens.deallocate()
            fieldTokens.deallocate()
        }

        @inline(never)
        func growTokens() { Self.grow(&tokens, count: tokenCount, capacity: &tokenCapacity) }

        @inline(never)
        func growFields() { Self.grow(&fieldTokens, count: fieldCount, capacity: &fieldCapacity) }

        private static func grow(_ buffer: inout UnsafeMutablePointer<UInt32>, count: Int, capacity: inout Int) {
            let bigger = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: buffer, count: count)
            buffer.deallocate()
            buffer = bigger
            capacity *= 2
        }
    }

    /// Scans one unit starting at `start` (a segment id). `inherited` gives the delimiters for BTS/FTS.
    static func scanUnit(
        _ buf: UnsafeBufferPointer<UInt8>, from start: Int, inherited: EncodingCharacters?, maxBytes: Int, segmentBase: Int,
        scratch: Scratch = Scratch()
    ) throws(HL7ParseError) -> Unit {
        let firstID = try segmentID(buf, at: start, fieldSeparator: nil, segmentIndex: segmentBase)
        let encoding: EncodingCharacters
        if firstID.isHeader {
            encoding = try encodingCharacters(buf, at: start, id: firstID, segmentIndex: segmentBase)
        } else if let inherited, firstID == .bts || firstID == .fts {
            encoding = inherited
        } else {
            throw HL7ParseError(
                .missingHeader, segmentIndex: segmentBase, segmentID: firstID.description, byteOffset: start,
                reason: inherited == nil
                    ? "a message must start with MSH (a batch with FHS or BHS)" : "a segment stands outside any message: MSH expected")
        }
        var table = ClassTable(encoding)
        var segments: [ER7Index.SegmentRecord] = []
        segments.reserveCapacity(32)
        scratch.tokenCount = 0
        scratch.fieldCount = 0
        let (end, nonASCII) = try withUnsafePointer(to: &table.classes) { tuple throws(HL7ParseError) in
            try tuple.withMemoryRebound(to: UInt8.self, capacity: 256) { classes throws(HL7ParseError) in
                try scanSegmentsBlockwise(
                    buf, from: start, classes: classes, separator: encoding.field, firstID: firstID,
                    maxBytes: min(maxBytes, ER7Index.maximumMessageBytes),
                    segmentBase: segmentBase, scratch: scratch, segments: &segments)
            }
        }
        var index = ER7Index()
        index.segments = segments
        index.tokens = Array(UnsafeBufferPointer(start: scratch.tokens, count: scratch.tokenCount))
        index.fieldTokens = Array(UnsafeBufferPointer(start: scratch.fieldTokens, count: scratch.fieldCount))
        return Unit(index: index, encoding: encoding, headerID: firstID, start: start, end: end, hasNonASCII: nonASCII)
    }

    /// 256 byte classes on the stack.
    struct ClassTable {
        var classes:
            (
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        init(_ enc: EncodingCharacters) {
            withUnsafeMutableBytes(of: &classes) { raw in
                raw[Int(cr)] = terminatorClass
                raw[Int(lf)] = terminatorClass
                raw[Int(enc.field)] = UInt8(ER7Index.Kind.field.rawValue)
                raw[Int(enc.repetition)] = UInt8(ER7Index.Kind.repetition.rawValue)
                raw[Int(enc.component)] = UInt8(ER7Index.Kind.component.rawValue)
                raw[Int(enc.subcomponent)] = UInt8(ER7Index.Kind.subcomponent.rawValue)
            }
        }
    }

    /// The byte-at-a-time scan: the reference the block-wise scan is tested against, over raw pointers with every
    /// piece of state in locals.
    static func scanSegments(
        _ buf: UnsafeBufferPointer<UInt8>, from start: Int, classes: UnsafePointer<UInt8>, separator sep: UInt8, firstID: SegmentID,
        maxBytes: Int, segmentBase: Int, scratch: Scratch, segments: inout [ER7Index.SegmentRecord]
    ) throws(HL7ParseError) -> (end: Int, nonASCII: Bool) {
        let n = buf.count
        guard let p = buf.baseAddress else { return (start, false) }
        let singleSegment = firstID != .msh
        var accumulated: UInt8 = 0
        var i = start
        var tokens = scratch.tokens
        var tokenCount = scratch.tokenCount
        var tokenCapacity = scratch.tokenCapacity
        while i < n {
            let segStart = i
            let id: SegmentID
            if segments.isEmpty {
                id = firstID
            } else {
                id = try segmentID(buf, at: i, fieldSeparator: sep, segmentIndex: segmentBase + segments.count)
                if id.isHeader || id.isBatchControl { break }
            }
            let tokenStart = tokenCount
            let fieldStart = scratch.fieldCount
            i += 3
            if id.isHeader, i < n, p[i] == sep {
                // MSH-1 is the separator itself; MSH-2 is not split.
                if tokenCount == tokenCapacity {
                    scratch.tokenCount = tokenCount
                    scratch.growTokens()
                    tokens = scratch.tokens
                    tokenCapacity = scratch.tokenCapacity
                }
                if scratch.fieldCount == scratch.fieldCapacity { scratch.growFields() }
                scratch.fieldTokens[scratch.fieldCount] = UInt32(truncatingIfNeeded: tokenCount)
                scratch.fieldCount += 1
                tokens[tokenCount] = UInt32(truncatingIfNeeded: i - start) << 3 | ER7Index.Kind.field.rawValue
                tokenCount += 1
                i += 1
                while i < n {
                    let b = p[i]
                    if b == sep || b == cr || b == lf { break }
                    accumulated |= b
                    i += 1
                }
            }
            // The hot loop: most bytes are text.
            while i < n {
                let b = p[i]
                let c = classes[Int(b)]
                if c == 0 {
                    accumulated |= b
                    i &+= 1
                    continue
                }
                if c == terminatorClass { break }
                if tokenCount == tokenCapacity {
                    scratch.tokenCount = tokenCount
                    scratch.growTokens()
                    tokens = scratch.tokens
                    tokenCapacity = scratch.tokenCapacity
                }
                if c == 1 {
                    if scratch.fieldCount == scratch.fieldCapacity { scratch.growFields() }
                    scratch.fieldTokens[scratch.fieldCount] = UInt32(truncatingIfNeeded: tokenCount)
                    scratch.fieldCount += 1
                }
                tokens[tokenCount] = UInt32(truncatingIfNeeded: i &- start) << 3 | UInt32(c)
                tokenCount &+= 1
                i &+= 1
            }
            let contentEnd = i
            while i < n, p[i] == cr || p[i] == lf { i += 1 }
            segments.append(
                ER7Index.SegmentRecord(
                    unitStart: start, start: segStart, contentEnd: contentEnd, end: i, tokens: tokenStart..<tokenCount,
                    fields: fieldStart..<scratch.fieldCount, isHeader: id.isHeader))
            if i - start > maxBytes {
                scratch.tokenCount = tokenCount
                throw tooLarge(start, maxBytes, segmentBase + segments.count - 1)
            }
            if singleSegment { break }
        }
        scratch.tokenCount = tokenCount
        return (i, accumulated >= 0x80)
    }

    // MARK: Block-wise scan

    typealias Delimiters = (SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>)

    /// One bit per byte of `v` that is a delimiter or a terminator (compiles to `pcmpeqb` and `psadbw` on x86-64).
    @inline(__always)
    static func delimiterMask(_ v: SIMD16<UInt8>, _ d: Delimiters) -> UInt64 {
        let m = (v .== d.0) .| (v .== d.1) .| (v .== d.2) .| (v .== d.3) .| (v .== d.4) .| (v .== d.5)
        let lanes = unsafeBitCast(m, to: SIMD16<UInt8>.self) & SIMD16<UInt8>(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128)
        return UInt64(lanes.lowHalf.wrappedSum()) | UInt64(lanes.highHalf.wrappedSum()) << 8
    }

    /// The scan used in production: finds delimiters 64 bytes at a time (a bit mask per block, visited with
    /// trailingZeroBitCount), so the branch that mispredicts is taken once per block, not once per delimiter.
    /// Produces exactly what ``scanSegments`` produces.
    static func scanSegmentsBlockwise(
        _ buf: UnsafeBufferPointer<UInt8>, from start: Int, classes: UnsafePointer<UInt8>, separator sep: UInt8, firstID: SegmentID,
        maxBytes: Int, segmentBase: Int, scratch: Scratch, segments: inout [ER7Index.SegmentRecord]
    ) throws(HL7ParseError) -> (end: Int, nonASCII: Bool) {
        let n = buf.count
        guard let p = buf.baseAddress else { return (start, false) }
        let singleSegment = firstID != .msh
        var enc: Delimiters = (SIMD16(repeating: sep), .zero, .zero, .zero, SIMD16(repeating: cr), SIMD16(repeating: lf))
        var k = 0
        for b in 0..<256 where classes[b] >= 2 && classes[b] <= 4 {
            switch k {
            case 0: enc.1 = SIMD16(repeating: UInt8(b))
            case 1: enc.2 = SIMD16(repeating: UInt8(b))
            default: enc.3 = SIMD16(repeating: UInt8(b))
            }
            k += 1
        }
        var accumulated: UInt64 = 0
        var accumulatedVector = SIMD16<UInt8>.zero
        var tokens = scratch.tokens
        var tokenCount = scratch.tokenCount
        var fields = scratch.fieldTokens
        var fieldCount = scratch.fieldCount

        // The first segment's id was checked by the caller.
        var segStart = start
        var tokenStart = tokenCount
        var fieldStart = fieldCount
        var i = start + 3
        if firstID.isHeader, i < n, p[i] == sep {
            // MSH-1 is the separator itself; MSH-2 is not split.
            fields[fieldCount] = UInt32(truncatingIfNeeded: tokenCount)
            fieldCount += 1
            tokens[tokenCount] = UInt32(truncatingIfNeeded: i - start) << 3 | ER7Index.Kind.field.rawValue
            tokenCount += 1
            i += 1
            while i < n {
                let b = p[i]
                if b == sep || b == cr || b == lf { break }
                accumulated |= UInt64(b)
                i += 1
            }
        }

        while true {
            guard i < n else {
                // The input ends inside a segment that has no terminator.
                segments.append(
                    ER7Index.SegmentRecord(
                        unitStart: start, start: segStart, contentEnd: n, end: n, tokens: tokenStart..<tokenCount,
                        fields: fieldStart..<fieldCount, isHeader: segments.isEmpty && firstID.isHeader))
                if n - start > maxBytes { throw tooLarge(start, maxBytes, segmentBase + segments.count - 1) }
                scratch.tokenCount = tokenCount
                scratch.fieldCount = fieldCount
                return (n, (accumulated | UInt64(accumulatedVector.max())) & 0x80 != 0)
            }
            // Room for a whole block of tokens, checked once per block.
            if tokenCount + 64 > scratch.tokenCapacity {
                scratch.tokenCount = tokenCount
                scratch.growTokens()
                tokens = scratch.tokens
            }
            if fieldCount + 64 > scratch.fieldCapacity {
                scratch.fieldCount = fieldCount
                scratch.growFields()
                fields = scratch.fieldTokens
            }
            let blockStart = i
            let blockLength: Int
            var bits: UInt64 = 0
            if i + 64 <= n {
                blockLength = 64
                let raw = UnsafeRawPointer(p + i)
                for w in 0..<4 {
                    let v = raw.loadUnaligned(fromByteOffset: w &* 16, as: SIMD16<UInt8>.self)
                    accumulatedVector |= v
                    bits |= delimiterMask(v, enc) << UInt64(w &* 16)
                }
            } else {
                blockLength = n - i
                for j in 0..<blockLength {
                    let b = p[i + j]
                    accumulated |= UInt64(b)
                    if classes[Int(b)] != 0 { bits |= 1 << UInt64(j) }
                }
            }
            i = blockStart + blockLength
            while bits != 0 {
                let pos = blockStart &+ bits.trailingZeroBitCount
                let c = classes[Int(p[pos])]
                if c != terminatorClass {
                    fields[fieldCount] = UInt32(truncatingIfNeeded: tokenCount)
                    fieldCount &+= c == 1 ? 1 : 0
                    tokens[tokenCount] = UInt32(truncatingIfNeeded: pos &- start) << 3 | UInt32(c)
                    tokenCount &+= 1
                    bits &= bits &- 1
                    continue
                }
                // A segment ends: close it, skip the terminator run, and start the next one.
                var j = pos + 1
                while j < n, p[j] == cr || p[j] == lf { j += 1 }
                segments.append(
                    ER7Index.SegmentRecord(
                        unitStart: start, start: segStart, contentEnd: pos, end: j, tokens: tokenStart..<tokenCount,
                        fields: fieldStart..<fieldCount, isHeader: segments.isEmpty && firstID.isHeader))
                if j - start > maxBytes {
                    scratch.tokenCount = tokenCount
                    scratch.fieldCount = fieldCount
                    throw tooLarge(start, maxBytes, segmentBase + segments.count - 1)
                }
                if singleSegment || j >= n {
                    scratch.tokenCount = tokenCount
                    scratch.fieldCount = fieldCount
                    return (j, (accumulated | UInt64(accumulatedVector.max())) & 0x80 != 0)
                }
                let id: SegmentID
                do throws(HL7ParseError) {
                    id = try segmentID(buf, at: j, fieldSeparator: sep, segmentIndex: segmentBase + segments.count)
                } catch {
                    scratch.tokenCount = tokenCount
                    scratch.fieldCount = fieldCount
                    throw error
                }
                if id.isHeader || id.isBatchControl {
                    scratch.tokenCount = tokenCount
                    scratch.fieldCount = fieldCount
                    return (j, (accumulated | UInt64(accumulatedVector.max())) & 0x80 != 0)
                }
                segStart = j
                tokenStart = tokenCount
                fieldStart = fieldCount
                let next = j + 3
                if next >= blockStart + blockLength {
                    i = next
                    break
                }
                // Drop the bits before the new segment's first field separator.
                bits &= ~((1 << UInt64(next - blockStart)) &- 1)
            }
        }
    }

    static func tooLarge(_ start: Int, _ maxBytes: Int, _ segmentIndex: Int) -> HL7ParseError {
        HL7ParseError(
            .messageTooLarge, segmentIndex: segmentIndex, byteOffset: start + maxBytes,
            reason: "the message is larger than the maximum of \(maxBytes) bytes")
    }
}
