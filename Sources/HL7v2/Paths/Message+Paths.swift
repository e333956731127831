extension Message {
    /// The decoded value at a terser path, or `nil` when the segment, field, repetition, component or subcomponent
    /// is absent. An empty string means present but empty.
    public func value(at path: TerserPath) -> String? {
        segment(path.segmentID, occurrence: path.segmentOccurrence)?
            .value(field: path.field, repetition: path.repetition, component: path.component ?? 1, subcomponent: path.subcomponent ?? 1)
    }

    /// `message["PID-5.1"]`: the decoded value at a path; `nil` for an absent value or an invalid path.
    public subscript(path: String) -> String? {
        guard let p = try? TerserPath(path) else { return nil }
        return value(at: p)
    }

    /// Sets the primitive at a path, escaping the text and adding whatever fields, repetitions, components or
    /// subcomponents (or one segment at the end) it needs. Other bytes of the message are untouched.
    public mutating func set(_ path: TerserPath, to text: String) throws(HL7ValueError) {
        guard let escaped = EscapeCodec.escape(text, encoding: encoding, characterSet: characterSet) else {
            throw HL7ValueError(.unrepresentable, location: path.description)
        }
        let ids = (0..<segmentCount).filter { segmentIDMatches($0, path.segmentID) }
        var newBytes: [UInt8]
        if path.segmentOccurrence <= ids.count {
            let s = ids[path.segmentOccurrence - 1]
            let seg = index.segments[s]
            if seg.isHeader && path.field <= 2 { throw HL7ValueError(.readOnly, location: path.description) }
            var tree = RawSegmentTree(message: self, segment: s)
            tree.set(path, escaped)
            newBytes = Array(bytes[..<Int(seg.start)])
            newBytes += tree.serialize(encoding)
            newBytes += bytes[Int(seg.contentEnd)...]
        } else if path.segmentOccurrence == ids.count + 1 {
            if path.segmentID == "MSH" || path.segmentID == "FHS" || path.segmentID == "BHS" {
                throw HL7ValueError(.segmentNotFound, location: path.description)
            }
            var tree = RawSegmentTree(id: Array(path.segmentID.utf8))
            tree.set(path, escaped)
            newBytes = bytes
            let last = index.segments[index.segments.count - 1]
            let terminator: [UInt8] = last.end > last.contentEnd ? Array(bytes[Int(last.contentEnd)..<Int(last.end)]) : [0x0D]
            if last.end == last.contentEnd { newBytes += terminator }
            newBytes += tree.serialize(encoding)
            newBytes += terminator
        } else {
            throw HL7ValueError(.segmentNotFound, location: path.description)
        }
        do throws(HL7ParseError) {
            var options = ER7ParseOptions()
            options.requireMessageType = false
            options.undeclaredCharacterSet = characterSet
            let start = startOffset
            self = try Message(parsing: newBytes, options: options)
            startOffset = start
        } catch {
            throw HL7ValueError(.invalidMessage, location: "\(path): \(error.reason)")
        }
    }

    /// Sets the value at a path given as text (`"PID-5.1"`).
    public mutating func set(_ path: String, to text: String) throws(HL7ValueError) {
        try set(TerserPath(path), to: text)
    }
}

/// A segment as raw (still escaped) pieces, for splicing a value into a message without touching other bytes.
struct RawSegmentTree {
    var id: [UInt8]
    var isHeader: Bool
    /// Field slots: for a header segment slot 0 is MSH-2, kept whole.
    var slots: [[[[[UInt8]]]]]
    var headerEncodingField: [UInt8] = []

    init(id: [UInt8]) {
        self.id = id
        self.isHeader = false
        self.slots = []
    }

    init(message: Message, segment s: Int) {
        let seg = message.index.segments[s]
        id = Array(message.bytes[Int(seg.start)..<(Int(seg.start) + 3)])
        isHeader = seg.isHeader
        slots = []
        var first = 1
        if isHeader, let slot = message.index.fieldSlot(segment: s, number: 2) {
            headerEncodingField = Array(message.bytes[slot.start..<slot.end])
            first = 3
        }
        let count = message.index.fieldCount(segment: s)
        guard count >= first else { return }
        for f in first...count {
            let slot = message.index.fieldSlot(segment: s, number: f)!
            var reps: [[[[UInt8]]]] = []
            message.index.forEachPiece(in: slot) { range, newRep, newComp in
                if newRep { reps.append([]) }
                if newComp { reps[reps.count - 1].append([]) }
                reps[reps.count - 1][reps[reps.count - 1].count - 1].append(Array(message.bytes[range]))
            }
            slots.append(reps)
        }
    }

    mutating func set(_ path: TerserPath, _ value: [UInt8]) {
        let slot = isHeader ? path.field - 3 : path.field - 1
        let r = path.repetition - 1, c = (path.component ?? 1) - 1, s = (path.subcomponent ?? 1) - 1
        while slots.count <= slot { slots.append([[[[]]]]) }
        while slots[slot].count <= r { slots[slot].append([[]]) }
        while slots[slot][r].count <= c { slots[slot][r].append([]) }
        while slots[slot][r][c].count <= s { slots[slot][r][c].append([]) }
        slots[slot][r][c][s] = value
    }

    func serialize(_ enc: EncodingCharacters) -> [UInt8] {
        var out = id
        if isHeader {
            out.append(enc.field)
            out += headerEncodingField
        }
        for reps in slots {
            out.append(enc.field)
            for (ri, comps) in reps.enumerated() {
                if ri > 0 { out.append(enc.repetition) }
                for (ci, subs) in comps.enumerated() {
                    if ci > 0 { out.append(enc.component) }
                    for (si, sub) in subs.enumerated() {
                        if si > 0 { out.append(enc.subcomponent) }
                        out += sub
                    }
                }
            }
        }
        return out
    }
}
