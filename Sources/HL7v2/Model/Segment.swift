/// A view of one segment of a ``Message``.
public struct Segment: Sendable {
    public let message: Message
    /// Zero-based position in the message.
    public let position: Int

    var record: ER7Index.SegmentRecord { message.index.segments[position] }

    /// The three-character segment id.
    public var id: String { message.segmentID(position) }

    /// The number of fields, in HL7 numbering (MSH counts MSH-1, the field separator).
    public var fieldCount: Int { message.index.fieldCount(segment: position) }

    /// The segment's text as it stands (no terminator).
    public var rawText: String { message.rawText(Int(record.start)..<Int(record.contentEnd)) }

    /// The decoded value of a primitive: field `field`, repetition `repetition`, component and subcomponent
    /// (all 1-based, component and subcomponent 1 when not given, as a terser does). `nil` when absent.
    public func value(field: Int, repetition: Int = 1, component: Int = 1, subcomponent: Int = 1) -> String? {
        guard let range = range(field: field, repetition: repetition, component: component, subcomponent: subcomponent) else { return nil }
        return message.decode(range)
    }

    /// The raw ER7 text of a field, repetition or component (delimiters and escapes as they stand).
    public func rawValue(field: Int, repetition: Int? = nil, component: Int? = nil, subcomponent: Int? = nil) -> String? {
        guard let slot = message.index.fieldSlot(segment: position, number: field) else { return nil }
        guard let repetition else { return message.rawText(slot.start..<slot.end) }
        guard
            let r = message.index.locate(in: slot, repetition: repetition, component: component, subcomponent: component == nil ? nil : subcomponent)
        else {
            return nil
        }
        return message.rawText(r)
    }

    /// Whether a field, repetition, component or subcomponent has no text at all (absent, or empty between its
    /// delimiters), addressed as ``rawValue(field:repetition:component:subcomponent:)`` addresses it: cheaper than
    /// reading it, as nothing is decoded or copied.
    public func isEmpty(field: Int, repetition: Int? = nil, component: Int? = nil, subcomponent: Int? = nil) -> Bool {
        guard let slot = message.index.fieldSlot(segment: position, number: field) else { return true }
        guard slot.start < slot.end else { return true }
        guard let repetition else { return false }
        guard
            let r = message.index.locate(in: slot, repetition: repetition, component: component, subcomponent: component == nil ? nil : subcomponent)
        else {
            return true
        }
        return r.isEmpty
    }

    /// The number of repetitions of a field (0 when the field is absent).
    public func repetitionCount(field: Int) -> Int {
        guard let slot = message.index.fieldSlot(segment: position, number: field) else { return 0 }
        return message.index.repetitionCount(in: slot)
    }

    /// Whether the addressed primitive is the explicit null `""` (delete the value), as opposed to empty (no change).
    public func isExplicitNull(field: Int, repetition: Int = 1, component: Int = 1, subcomponent: Int = 1) -> Bool {
        guard let r = range(field: field, repetition: repetition, component: component, subcomponent: subcomponent), r.count == 2 else {
            return false
        }
        return message.bytes[r.lowerBound] == 0x22 && message.bytes[r.lowerBound + 1] == 0x22
    }

    func range(field: Int, repetition: Int, component: Int, subcomponent: Int) -> Range<Int>? {
        guard let slot = message.index.fieldSlot(segment: position, number: field) else { return nil }
        if record.isHeader && field <= 2 {
            return repetition == 1 && component == 1 && subcomponent == 1 ? slot.start..<slot.end : nil
        }
        return message.index.locate(in: slot, repetition: repetition, component: component, subcomponent: subcomponent)
    }

    /// The whole segment as decoded values: `fields[i]` is field i (0 is the id), each an array of repetitions of
    /// components of subcomponents.
    public var value: SegmentValue {
        var fields: [[[[String]]]] = [[[[id]]]]
        message.index.forEachField(segment: position) { slot in
            var reps: [[[String]]] = []
            message.index.forEachPiece(in: slot) { range, newRepetition, newComponent in
                if newRepetition { reps.append([]) }
                if newComponent { reps[reps.count - 1].append([]) }
                reps[reps.count - 1][reps[reps.count - 1].count - 1].append(message.decode(range))
            }
            fields.append(reps)
        }
        return SegmentValue(fields: fields)
    }
}

extension ER7Index {
    /// Calls `body` with every field slot of segment `s` in HL7 numbering (MSH-1 included).
    func forEachField(segment s: Int, _ body: (FieldSlot) -> Void) {
        let count = fieldCount(segment: s)
        guard count > 0 else { return }
        for f in 1...count { body(fieldSlot(segment: s, number: f)!) }
    }

    /// Calls `body` with every subcomponent's byte range in a field, saying whether it opens a new repetition and
    /// a new component.
    @inline(__always)
    func forEachPiece(in slot: FieldSlot, _ body: (Range<Int>, _ newRepetition: Bool, _ newComponent: Bool) -> Void) {
        var start = slot.start
        var newRep = true, newComp = true
        for t in slot.tokenLow..<slot.tokenHigh {
            let token = tokens[t]
            let p = Self.offset(token)
            body(start..<p, newRep, newComp)
            let kind = Self.kind(token)
            newRep = kind == Kind.repetition.rawValue
            newComp = newRep || kind == Kind.component.rawValue
            start = p + 1
        }
        body(start..<slot.end, newRep, newComp)
    }
}

extension Segment {
    /// The number of components in a repetition of a field (0 when the field or repetition is absent).
    public func componentCount(field: Int, repetition: Int = 1) -> Int {
        counts(field: field, repetition: repetition, component: nil)
    }

    /// The number of subcomponents in a component (0 when it is absent).
    public func subcomponentCount(field: Int, repetition: Int = 1, component: Int) -> Int {
        counts(field: field, repetition: repetition, component: component)
    }

    /// Counts components of a repetition, or subcomponents of one component, by walking the field's tokens.
    private func counts(field: Int, repetition: Int, component: Int?) -> Int {
        guard let slot = message.index.fieldSlot(segment: position, number: field) else { return 0 }
        if record.isHeader && field <= 2 { return repetition == 1 && (component ?? 1) == 1 ? 1 : 0 }
        var rep = 1, comp = 1, count = 0
        var counting = false
        func begin() {
            if rep == repetition && (component == nil || comp == component!) {
                counting = true
                count += 1
            } else {
                counting = false
            }
        }
        begin()
        for t in slot.tokenLow..<slot.tokenHigh {
            switch ER7Index.kind(message.index.tokens[t]) {
            case ER7Index.Kind.repetition.rawValue:
                rep += 1
                comp = 1
                begin()
            case ER7Index.Kind.component.rawValue:
                comp += 1
                if component == nil { if rep == repetition { count += 1 } } else { begin() }
            default:
                if component != nil && counting { count += 1 }
            }
            if rep > repetition { break }
        }
        return count
    }
}

extension Segment {
    /// Calls `body` with the field, repetition and component of every component that has a value, in order, without
    /// decoding anything (MSH-1 and MSH-2, the delimiters, are skipped). A component is reported once per repetition
    /// even when several of its subcomponents have values.
    public func forEachValuedComponent(_ body: (_ field: Int, _ repetition: Int, _ component: Int) -> Void) {
        let isHeader = record.isHeader
        var field = 0
        message.index.forEachField(segment: position) { slot in
            field += 1
            if isHeader && field <= 2 { return }
            var repetition = 0, component = 0
            var reported = false
            message.index.forEachPiece(in: slot) { range, newRepetition, newComponent in
                if newRepetition {
                    repetition += 1
                    component = 0
                }
                if newComponent {
                    component += 1
                    reported = false
                }
                if !range.isEmpty && !reported {
                    reported = true
                    body(field, repetition, component)
                }
            }
        }
    }
}
