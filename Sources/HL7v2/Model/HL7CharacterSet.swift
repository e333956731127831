/// A character set named by MSH-18, deciding which bytes are valid and how they become text.
public enum HL7CharacterSet: Sendable, Hashable, CustomStringConvertible {
    /// `ASCII`: 7-bit bytes only.
    case ascii
    /// `8859/1`: Latin-1, every byte is a character.
    case latin1
    /// `8859/15`: Latin-9, Latin-1 with the euro sign and seven other changes.
    case latin9
    /// `UNICODE UTF-8` (also spelled `UTF-8`; `UNICODE` is read as UTF-8 because ER7 cannot carry UTF-16).
    case utf8

    /// The set a message uses when MSH-18 is empty: UTF-8, which accepts every ASCII message and the UTF-8 that
    /// senders put in practice into messages that declare nothing.
    public static let undeclaredDefault: HL7CharacterSet = .utf8

    /// Parses an MSH-18 value (the first repetition); `nil` for a set this parser cannot decode.
    public init?(msh18 value: some StringProtocol) {
        let v = value.trimmingSpaces.uppercased()
        switch v {
        case "ASCII", "US-ASCII": self = .ascii
        case "8859/1", "ISO-8859-1", "ISO IR100", "ISO_IR 100": self = .latin1
        case "8859/15", "ISO-8859-15": self = .latin9
        case "UNICODE UTF-8", "UTF-8", "UTF8", "UNICODE", "ISO_IR 192": self = .utf8
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .ascii: "ASCII"
        case .latin1: "8859/1"
        case .latin9: "8859/15"
        case .utf8: "UNICODE UTF-8"
        }
    }

    /// The offset of the first byte (or byte sequence) that is not valid in this set, or `nil` when all are.
    public func firstInvalidByte(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        switch self {
        case .latin1, .latin9:
            return nil
        case .ascii:
            return bytes.firstIndex { $0 >= 0x80 }
        case .utf8:
            return UTF8Validation.firstInvalidOffsetFast(bytes)
        }
    }

    /// Text for bytes already known to be valid in this set.
    public func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        switch self {
        case .ascii, .utf8:
            return String(decoding: bytes, as: UTF8.self)
        case .latin1:
            var s = String.UnicodeScalarView()
            for b in bytes { s.append(Unicode.Scalar(b)) }
            return String(s)
        case .latin9:
            var s = String.UnicodeScalarView()
            for b in bytes { s.append(Self.latin9Scalar(b)) }
            return String(s)
        }
    }

    /// Bytes for text in this set, or `nil` when a character cannot be represented.
    public func encode(_ text: String) -> [UInt8]? {
        switch self {
        case .utf8:
            return Array(text.utf8)
        case .ascii:
            let bytes = Array(text.utf8)
            return bytes.allSatisfy { $0 < 0x80 } ? bytes : nil
        case .latin1, .latin9:
            var out: [UInt8] = []
            out.reserveCapacity(text.utf8.count)
            for scalar in text.unicodeScalars {
                guard let b = self == .latin1 ? (scalar.value < 0x100 ? UInt8(scalar.value) : nil) : Self.latin9Byte(scalar) else {
                    return nil
                }
                out.append(b)
            }
            return out
        }
    }

    private static let latin9Differences: [(UInt8, UInt32)] = [
        (0xA4, 0x20AC), (0xA6, 0x0160), (0xA8, 0x0161), (0xB4, 0x017D), (0xB8, 0x017E), (0xBC, 0x0152), (0xBD, 0x0153), (0xBE, 0x0178),
    ]

    private static func latin9Scalar(_ b: UInt8) -> Unicode.Scalar {
        if let d = latin9Differences.first(where: { $0.0 == b }) { return Unicode.Scalar(d.1)! }
        return Unicode.Scalar(b)
    }

    private static func latin9Byte(_ scalar: Unicode.Scalar) -> UInt8? {
        if let d = latin9Differences.first(where: { $0.1 == scalar.value }) { return d.0 }
        if scalar.value < 0x100, !latin9Differences.contains(where: { $0.0 == UInt8(scalar.value) }) { return UInt8(scalar.value) }
        return nil
    }
}

enum UTF8Validation {
    /// The offset of the first byte that starts an invalid or truncated UTF-8 sequence.
    static func firstInvalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return i
            }
            guard i + length <= n else { return i }
            let b1 = bytes[i + 1]
            guard b1 >= lower, b1 <= upper else { return i }
            for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
