/// Receives a message's structure in order: segments, fields, then every subcomponent's byte range.
///
/// Every method but ``subcomponent(_:newRepetition:newComponent:)`` has an empty default.
public protocol ER7Visitor {
    mutating func beginSegment(id: String)
    mutating func beginField(number: Int)
    /// One subcomponent's bytes in ``Message/bytes``; the flags say whether it opens a new repetition (the first
    /// piece of a field does) and a new component.
    mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool)
    mutating func endField()
    mutating func endSegment()
}

extension ER7Visitor {
    public mutating func beginSegment(id: String) {}
    public mutating func beginField(number: Int) {}
    public mutating func endField() {}
    public mutating func endSegment() {}
}

extension Message {
    /// Walks every segment, field (HL7 numbering: MSH-1 and MSH-2 included) and subcomponent.
    public func walk(_ visitor: inout some ER7Visitor) {
        for s in 0..<index.segments.count {
            visitor.beginSegment(id: segmentID(s))
            let count = index.fieldCount(segment: s)
            if count > 0 {
                for f in 1...count {
                    let slot = index.fieldSlot(segment: s, number: f)!
                    visitor.beginField(number: f)
                    index.forEachPiece(in: slot) { range, newRep, newComp in
                        visitor.subcomponent(range, newRepetition: newRep, newComponent: newComp)
                    }
                    visitor.endField()
                }
            }
            visitor.endSegment()
        }
    }

    /// The decoded text of bytes in ``bytes`` (a range a visitor was given).
    public func text(in range: Range<Int>) -> String { decode(range) }

    /// The bytes in `range` as they stand (escapes not decoded).
    public func rawText(in range: Range<Int>) -> String { rawText(range) }
}
