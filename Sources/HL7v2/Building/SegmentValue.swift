/// One segment as decoded text: `fields[i]` is field i (0 holds the id), each an array of repetitions of components
/// of subcomponents. Used to build messages (ACKs, tests) and as the plain-data view of a parsed segment.
public struct SegmentValue: Sendable, Hashable, Codable {
    public var fields: [[[[String]]]]

    public init(fields: [[[[String]]]]) {
        self.fields = fields
    }

    /// A segment with only its id.
    public init(id: String) {
        self.fields = [[[[id]]]]
    }

    public var id: String { fields.first?.first?.first?.first ?? "" }

    var isHeader: Bool { id == "MSH" || id == "FHS" || id == "BHS" }

    /// Sets a primitive, adding empty fields, repetitions, components and subcomponents before it as needed.
    public mutating func set(field: Int, repetition: Int = 1, component: Int = 1, subcomponent: Int = 1, to value: String) {
        precondition(field >= 1 && repetition >= 1 && component >= 1 && subcomponent >= 1, "HL7 positions are 1-based")
        while fields.count <= field { fields.append([[[""]]]) }
        while fields[field].count < repetition { fields[field].append([[""]]) }
        while fields[field][repetition - 1].count < component { fields[field][repetition - 1].append([""]) }
        while fields[field][repetition - 1][component - 1].count < subcomponent { fields[field][repetition - 1][component - 1].append("") }
        fields[field][repetition - 1][component - 1][subcomponent - 1] = value
    }

    /// The primitive at a position, or `nil`.
    public func value(field: Int, repetition: Int = 1, component: Int = 1, subcomponent: Int = 1) -> String? {
        guard field < fields.count, repetition <= fields[field].count, component <= fields[field][repetition - 1].count,
            subcomponent <= fields[field][repetition - 1][component - 1].count
        else { return nil }
        return fields[field][repetition - 1][component - 1][subcomponent - 1]
    }

    func append(to out: inout [UInt8], encoding: EncodingCharacters, characterSet: HL7CharacterSet, position: Int) throws(HL7ValueError) {
        let idBytes = Array(id.utf8)
        guard idBytes.count == 3, idBytes.allSatisfy(ER7Scanner.isIDByte) else {
            throw HL7ValueError(.invalidSegmentID, location: "segment \(position)")
        }
        out.append(contentsOf: idBytes)
        var first = 1
        if isHeader {
            out.append(encoding.field)
            out.append(contentsOf: encoding.encodingFieldBytes)
            first = 3
        }
        guard fields.count > first else { return }
        for f in first..<fields.count {
            out.append(encoding.field)
            for (r, repetition) in fields[f].enumerated() {
                if r > 0 { out.append(encoding.repetition) }
                for (c, component) in repetition.enumerated() {
                    if c > 0 { out.append(encoding.component) }
                    for (s, sub) in component.enumerated() {
                        if s > 0 { out.append(encoding.subcomponent) }
                        guard let escaped = EscapeCodec.escape(sub, encoding: encoding, characterSet: characterSet) else {
                            throw HL7ValueError(.unrepresentable, location: "\(id)-\(f)[\(r + 1)].\(c + 1).\(s + 1)")
                        }
                        out.append(contentsOf: escaped)
                    }
                }
            }
        }
    }
}

extension Message {
    /// Builds a message from decoded segment values (the first must be MSH).
    public init(
        segments: [SegmentValue], encoding: EncodingCharacters = .standard, characterSet: HL7CharacterSet = .utf8,
        options: ER7ParseOptions = .init()
    ) throws(HL7ValueError) {
        let bytes = try ER7Serializer.serialize(segments, encoding: encoding, characterSet: characterSet)
        do throws(HL7ParseError) {
            self = try Message(parsing: bytes, options: options)
        } catch {
            throw HL7ValueError(.invalidMessage, location: error.description)
        }
    }
}
