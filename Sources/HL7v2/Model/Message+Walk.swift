/// Receives a message's structure in order: segments, fields, then every subcomponent's byte range.
///
/// Every method but ``subcomponent(_:newRepetition:newComponent:)`` has an empty default. Ranges are offsets into
/// ``Message/bytes``; ``Message/text(in:)`` decodes one.
public protocol ER7Visitor {
    /// A segment starts; `id` is the byte range of its three-character id.
    mutating func beginSegment(position: Int, id: Range<Int>)
    /// A field starts (HL7 numbering: MSH-1 and MSH-2 included).
    mutating func beginField(number: Int)
    /// One subcomponent's bytes; the flags say whether it opens a new repetition (the first piece of a field does)
    /// and a new component.
    mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool)
    mutating func endField()
    mutating func endSegment()
}

extension ER7Visitor {
    @inlinable public mutating func beginSegment(position: Int, id: Range<Int>) {}
    @inlinable public mutating func beginField(number: Int) {}
    @inlinable public mutating func endField() {}
    @inlinable public mutating func endSegment() {}
}

extension Message {
    /// Walks every segment, field and subcomponent in one pass over the index.
    ///
    /// Inlinable so that the visitor is specialised in the caller: a timing run reaches every subcomponent at a few
    /// nanoseconds each.
    @inlinable
    public func walk(_ visitor: inout some ER7Visitor) {
        let index = self.index
        index.tokens.withUnsafeBufferPointer { tokens in
            for (position, seg) in index.segments.enumerated() {
                let start = Int(seg.start)
                visitor.beginSegment(position: position, id: start..<(start + 3))
                let t0 = Int(seg.tokenStart), t1 = Int(seg.tokenEnd)
                guard t0 < t1 else {
                    visitor.endSegment()
                    continue
                }
                var field = 1
                if seg.isHeader {
                    // MSH-1 is the separator itself, MSH-2 the encoding characters as they stand.
                    let sep = ER7Index.offset(tokens[t0])
                    visitor.beginField(number: 1)
                    visitor.subcomponent(sep..<(sep + 1), newRepetition: true, newComponent: true)
                    visitor.endField()
                    field = 2
                }
                // Every token is a delimiter; the text between two tokens is one subcomponent.
                var pieceStart = ER7Index.offset(tokens[t0]) + 1
                visitor.beginField(number: field)
                var newRepetition = true, newComponent = true
                var t = t0 + 1
                if seg.isHeader {
                    // MSH-2 runs to the next field separator without being split.
                    let end = t < t1 ? ER7Index.offset(tokens[t]) : Int(seg.contentEnd)
                    visitor.subcomponent(pieceStart..<end, newRepetition: true, newComponent: true)
                    visitor.endField()
                    guard t < t1 else {
                        visitor.endSegment()
                        continue
                    }
                    field += 1
                    pieceStart = end + 1
                    visitor.beginField(number: field)
                    t += 1
                }
                while t < t1 {
                    let token = tokens[t]
                    let p = ER7Index.offset(token)
                    visitor.subcomponent(pieceStart..<p, newRepetition: newRepetition, newComponent: newComponent)
                    pieceStart = p + 1
                    switch ER7Index.kind(token) {
                    case ER7Index.Kind.field.rawValue:
                        visitor.endField()
                        field += 1
                        visitor.beginField(number: field)
                        newRepetition = true
                        newComponent = true
                    case ER7Index.Kind.repetition.rawValue:
                        newRepetition = true
                        newComponent = true
                    case ER7Index.Kind.component.rawValue:
                        newRepetition = false
                        newComponent = true
                    default:
                        newRepetition = false
                        newComponent = false
                    }
                    t += 1
                }
                visitor.subcomponent(pieceStart..<Int(seg.contentEnd), newRepetition: newRepetition, newComponent: newComponent)
                visitor.endField()
                visitor.endSegment()
            }
        }
    }

    /// The decoded text of bytes in ``bytes`` (a range a visitor was given).
    public func text(in range: Range<Int>) -> String { decode(range) }

    /// The bytes in `range` as they stand (escapes not decoded).
    public func rawText(in range: Range<Int>) -> String { rawText(range) }
}
