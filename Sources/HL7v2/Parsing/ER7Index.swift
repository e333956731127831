/// The structure of one message as offsets into its bytes: every delimiter is recorded once, so every field,
/// repetition, component and subcomponent is reachable without copying text.
@usableFromInline
struct ER7Index: Sendable {
    /// One segment: the byte range of its id and content, the terminator run after it, and its tokens.
    @usableFromInline
    struct SegmentRecord: Sendable, Hashable {
        /// Offset of the segment id.
        @usableFromInline var start: UInt32
        /// Offset just past the content (the first terminator byte, or the end of the input).
        @usableFromInline var contentEnd: UInt32
        /// Offset just past the terminator run (`\r`, `\n`, `\r\n`, blank lines).
        @usableFromInline var end: UInt32
        /// Tokens `tokenStart..<tokenEnd` lie inside this segment.
        @usableFromInline var tokenStart: UInt32
        @usableFromInline var tokenEnd: UInt32
        /// `fieldTokens[fieldStart..<fieldStart + fieldCount]` are the indices of its field separators.
        @usableFromInline var fieldStart: UInt32
        @usableFromInline var fieldCount: UInt32
        /// MSH, FHS and BHS: MSH-1 is the field separator itself and MSH-2 is not split.
        @usableFromInline var isHeader: Bool

        /// A record from absolute offsets, made relative to the unit starting at `unitStart`.
        init(unitStart: Int, start: Int, contentEnd: Int, end: Int, tokens: Range<Int>, fields: Range<Int>, isHeader: Bool) {
            self.start = UInt32(truncatingIfNeeded: start - unitStart)
            self.contentEnd = UInt32(truncatingIfNeeded: contentEnd - unitStart)
            self.end = UInt32(truncatingIfNeeded: end - unitStart)
            self.tokenStart = UInt32(truncatingIfNeeded: tokens.lowerBound)
            self.tokenEnd = UInt32(truncatingIfNeeded: tokens.upperBound)
            self.fieldStart = UInt32(truncatingIfNeeded: fields.lowerBound)
            self.fieldCount = UInt32(truncatingIfNeeded: fields.count)
            self.isHeader = isHeader
        }
    }

    /// Kinds of delimiter, in the low three bits of a token.
    @usableFromInline
    enum Kind: UInt32 {
        case field = 1, repetition = 2, component = 3, subcomponent = 4
    }

    @usableFromInline var segments: [SegmentRecord] = []
    /// `(offset << 3) | kind` for every delimiter, in order.
    @usableFromInline var tokens: [UInt32] = []
    /// Token index of every field separator, in order.
    @usableFromInline var fieldTokens: [UInt32] = []

    @inlinable @inline(__always) static func offset(_ token: UInt32) -> Int { Int(token >> 3) }
    @inlinable @inline(__always) static func kind(_ token: UInt32) -> UInt32 { token & 7 }

    /// The largest message the packed offsets can address.
    static let maximumMessageBytes = (1 << 29) - 1
}

/// The location of one field within a segment: its byte range and the tokens inside it.
struct FieldSlot: Sendable {
    var start: Int
    var end: Int
    var tokenLow: Int
    var tokenHigh: Int
}

extension ER7Index {
    /// Field `number` of segment `s` in HL7 numbering (for MSH, 1 is the field separator and 2 the encoding characters).
    func fieldSlot(segment s: Int, number: Int) -> FieldSlot? {
        let seg = segments[s]
        guard number >= 1 else { return nil }
        if seg.isHeader && number == 1 {
            let p = Int(seg.start) + 3
            return FieldSlot(start: p, end: p + 1, tokenLow: 0, tokenHigh: 0)
        }
        let j = seg.isHeader ? number - 2 : number - 1
        guard j < Int(seg.fieldCount) else { return nil }
        let fs = Int(seg.fieldStart)
        let t = Int(fieldTokens[fs + j])
        let start = Self.offset(tokens[t]) + 1
        if j + 1 < Int(seg.fieldCount) {
            let next = Int(fieldTokens[fs + j + 1])
            return FieldSlot(start: start, end: Self.offset(tokens[next]), tokenLow: t + 1, tokenHigh: next)
        }
        return FieldSlot(start: start, end: Int(seg.contentEnd), tokenLow: t + 1, tokenHigh: Int(seg.tokenEnd))
    }

    /// The number of fields of segment `s` in HL7 numbering (0 for a segment with only its id).
    func fieldCount(segment s: Int) -> Int {
        let seg = segments[s]
        if seg.isHeader { return seg.fieldCount == 0 ? 0 : Int(seg.fieldCount) + 1 }
        return Int(seg.fieldCount)
    }

    /// The byte range of repetition `r`, component `c` and subcomponent `sc` (all 1-based) of a field; `nil` when
    /// absent. Passing `nil` for `c` (or `sc`) gives the whole repetition (or component) with its delimiters.
    func locate(in slot: FieldSlot, repetition r: Int, component c: Int?, subcomponent sc: Int?) -> Range<Int>? {
        var rep = 1, comp = 1, sub = 1
        var pieceStart = slot.start
        var found: Int? = nil
        var t = slot.tokenLow
        // Find the start of the addressed element.
        func matches() -> Bool {
            rep == r && (c == nil || comp == c!) && (sc == nil || sub == sc!)
        }
        if matches() { found = slot.start }
        while found == nil && t < slot.tokenHigh {
            let token = tokens[t]
            switch Self.kind(token) {
            case Kind.repetition.rawValue: rep += 1; comp = 1; sub = 1
            case Kind.component.rawValue: comp += 1; sub = 1
            default: sub += 1
            }
            pieceStart = Self.offset(token) + 1
            t += 1
            if rep > r { return nil }
            if matches() { found = pieceStart }
        }
        guard let start = found else { return nil }
        // Find its end: the next delimiter at the same or a higher level.
        while t < slot.tokenHigh {
            let kind = Self.kind(tokens[t])
            let ends: Bool
            switch kind {
            case Kind.repetition.rawValue: ends = true
            case Kind.component.rawValue: ends = c != nil
            default: ends = sc != nil
            }
            if ends { return start..<Self.offset(tokens[t]) }
            t += 1
        }
        return start..<slot.end
    }

    /// How many repetitions a field has (1 for an empty field that is present).
    func repetitionCount(in slot: FieldSlot) -> Int {
        var n = 1
        for t in slot.tokenLow..<slot.tokenHigh where Self.kind(tokens[t]) == Kind.repetition.rawValue { n += 1 }
        return n
    }
}
