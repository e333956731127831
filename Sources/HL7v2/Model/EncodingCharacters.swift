/// The delimiters of one HL7 v2 message, taken from MSH-1 and MSH-2 (or FHS/BHS-1 and -2).
///
/// Any characters may serve, not only `|^~\&`; the v2.7 truncation character (a fifth MSH-2 character) is kept.
public struct EncodingCharacters: Sendable, Hashable, CustomStringConvertible {
    public var field: UInt8
    public var component: UInt8
    public var repetition: UInt8
    /// `nil` when the message declares no usable escape character (see ``init(field:encodingField:)``).
    public var escape: UInt8?
    public var subcomponent: UInt8
    /// The v2.7 truncation character (`#` by convention), when MSH-2 declares one.
    public var truncation: UInt8?

    /// `|^~\&`, the characters almost every sender uses.
    public static let standard = EncodingCharacters(
        field: UInt8(ascii: "|"), component: UInt8(ascii: "^"), repetition: UInt8(ascii: "~"),
        escape: UInt8(ascii: "\\"), subcomponent: UInt8(ascii: "&"), truncation: nil
    )

    public init(field: UInt8, component: UInt8, repetition: UInt8, escape: UInt8?, subcomponent: UInt8, truncation: UInt8? = nil) {
        self.field = field
        self.component = component
        self.repetition = repetition
        self.escape = escape
        self.subcomponent = subcomponent
        self.truncation = truncation
    }

    /// Reads MSH-1 and MSH-2 (component, repetition, escape, subcomponent and optional truncation character).
    ///
    /// The field, component, repetition and subcomponent separators must be distinct printable characters. An escape
    /// character that repeats the subcomponent separator (seen in the wild as `^~\\&`, a doubled backslash) acts as
    /// the subcomponent separator and escape sequences are not decoded in that message, which is how other parsers
    /// read such messages; any other clash is rejected.
    /// - Returns: `nil` when the characters cannot delimit a message.
    public init?(field: UInt8, encodingField chars: some Collection<UInt8>) {
        let c = Array(chars)
        guard c.count >= 4, c.count <= 5 else { return nil }
        let separators = [field, c[0], c[1], c[3]]
        for s in separators where !Self.isUsableDelimiter(s) { return nil }
        guard Set(separators).count == 4 else { return nil }
        guard Self.isUsableDelimiter(c[2]) else { return nil }
        var escape: UInt8? = c[2]
        if c[2] == c[3] {
            escape = nil
        } else if separators.contains(c[2]) {
            return nil
        }
        var truncation: UInt8?
        if c.count == 5 {
            guard Self.isUsableDelimiter(c[4]), !separators.contains(c[4]), c[4] != c[2] || escape == nil else { return nil }
            truncation = c[4]
        }
        self.init(field: field, component: c[0], repetition: c[1], escape: escape, subcomponent: c[3], truncation: truncation)
    }

    /// Printable ASCII punctuation or symbols: never a letter, digit, space or control character.
    static func isUsableDelimiter(_ b: UInt8) -> Bool {
        guard b > 0x20, b < 0x7F else { return false }
        let isAlnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        return !isAlnum
    }

    /// MSH-2 as it should be written for these characters.
    public var encodingFieldBytes: [UInt8] {
        var bytes = [component, repetition, escape ?? subcomponent, subcomponent]
        if let truncation { bytes.append(truncation) }
        return bytes
    }

    public var description: String {
        String(decoding: [field] + encodingFieldBytes, as: UTF8.self)
    }
}
