/// HL7 v2 escape sequences (v2.x chapter 2): decoded on read, applied on write.
///
/// Read: `\F\ \S\ \T\ \R\ \E\` (and `\P\`, the v2.7 truncation character) give the delimiter; `\Xhh…\` gives the
/// bytes, read in the message's character set; `\.br\` and `\.sp n\` give line feeds, `\.sk n\` spaces, `\.ce\` a
/// line feed; `\H\ \N\ \.fi\ \.nf\ \.in n\ \.ti n\` (display formatting) give nothing. Unknown, unsupported
/// (`\C…\ \M…\ \Z…\`) and unterminated sequences are kept verbatim. Write: delimiters and the escape character are
/// escaped, a line feed becomes `\.br\`, a carriage return `\X0D\`.
public enum EscapeCodec {
    /// Decodes `raw` (bytes of one primitive value).
    public static func unescape(_ raw: UnsafeBufferPointer<UInt8>, encoding: EncodingCharacters, characterSet: HL7CharacterSet) -> String {
        guard let esc = encoding.escape, raw.contains(esc) else { return characterSet.decode(raw) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var hexSpans = false
        var i = 0
        let n = raw.count
        while i < n {
            let b = raw[i]
            guard b == esc else {
                out.append(b)
                i += 1
                continue
            }
            var j = i + 1
            while j < n, raw[j] != esc { j += 1 }
            guard j < n else {
                out.append(contentsOf: raw[i..<n])
                break
            }
            let body = UnsafeBufferPointer(rebasing: raw[(i + 1)..<j])
            if let replacement = decodeSequence(body, encoding: encoding) {
                if case .hex = replacement.kind { hexSpans = true }
                out.append(contentsOf: replacement.bytes)
            } else {
                out.append(contentsOf: raw[i...j])
            }
            i = j + 1
        }
        if hexSpans, out.withUnsafeBufferPointer({ characterSet.firstInvalidByte(in: $0) }) != nil {
            // Hex data that is not valid text in this character set is kept as written.
            return characterSet.decode(raw)
        }
        return out.withUnsafeBufferPointer { characterSet.decode($0) }
    }

    struct Replacement {
        enum Kind { case delimiter, hex, formatting }
        var kind: Kind
        var bytes: [UInt8]
    }

    static func decodeSequence(_ body: UnsafeBufferPointer<UInt8>, encoding: EncodingCharacters) -> Replacement? {
        guard let first = body.first else { return nil }
        if body.count == 1 {
            switch first {
            case UInt8(ascii: "F"): return Replacement(kind: .delimiter, bytes: [encoding.field])
            case UInt8(ascii: "S"): return Replacement(kind: .delimiter, bytes: [encoding.component])
            case UInt8(ascii: "T"): return Replacement(kind: .delimiter, bytes: [encoding.subcomponent])
            case UInt8(ascii: "R"): return Replacement(kind: .delimiter, bytes: [encoding.repetition])
            case UInt8(ascii: "E"): return encoding.escape.map { Replacement(kind: .delimiter, bytes: [$0]) }
            case UInt8(ascii: "P"): return encoding.truncation.map { Replacement(kind: .delimiter, bytes: [$0]) }
            case UInt8(ascii: "H"), UInt8(ascii: "N"): return Replacement(kind: .formatting, bytes: [])
            default: return nil
            }
        }
        if first == UInt8(ascii: "X") {
            let hex = body.dropFirst()
            guard hex.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(hex.count / 2)
            var it = hex.makeIterator()
            while let hi = it.next(), let lo = it.next() {
                guard let h = hexValue(hi), let l = hexValue(lo) else { return nil }
                bytes.append(h << 4 | l)
            }
            return Replacement(kind: .hex, bytes: bytes)
        }
        if first == UInt8(ascii: ".") {
            let word = String(decoding: body.dropFirst(), as: UTF8.self)
            let name = String(word.prefix(2))
            let argument = word.dropFirst(2).trimmingSpaces
            func count() -> Int? {
                if argument.isEmpty { return 1 }
                let digits = argument.first == "+" ? argument.dropFirst() : Substring(argument)
                guard let n = Int(digits), n >= 0, n <= 100 else { return nil }
                return n
            }
            switch name {
            case "br" where argument.isEmpty: return Replacement(kind: .formatting, bytes: [0x0A])
            case "ce" where argument.isEmpty: return Replacement(kind: .formatting, bytes: [0x0A])
            case "fi" where argument.isEmpty, "nf" where argument.isEmpty: return Replacement(kind: .formatting, bytes: [])
            case "sp": return count().map { Replacement(kind: .formatting, bytes: Array(repeating: 0x0A, count: $0)) }
            case "sk": return count().map { Replacement(kind: .formatting, bytes: Array(repeating: 0x20, count: $0)) }
            case "in", "ti":
                let signed = argument.first == "-" || argument.first == "+" ? argument.dropFirst() : Substring(argument)
                return argument.isEmpty || Int(signed) != nil ? Replacement(kind: .formatting, bytes: []) : nil
            default: return nil
            }
        }
        return nil
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    /// Encodes text as the bytes of one primitive value. `nil` when the text cannot be written: a character outside
    /// the character set, or a delimiter in a message that declares no escape character.
    public static func escape(_ text: String, encoding: EncodingCharacters, characterSet: HL7CharacterSet) -> [UInt8]? {
        guard let encoded = characterSet.encode(text) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count)
        for b in encoded {
            let letter: UInt8?
            switch b {
            case encoding.field: letter = UInt8(ascii: "F")
            case encoding.component: letter = UInt8(ascii: "S")
            case encoding.subcomponent: letter = UInt8(ascii: "T")
            case encoding.repetition: letter = UInt8(ascii: "R")
            case encoding.escape: letter = UInt8(ascii: "E")
            case encoding.truncation: letter = UInt8(ascii: "P")
            case 0x0A:
                guard let esc = encoding.escape else { return nil }
                out.append(contentsOf: [esc, UInt8(ascii: "."), UInt8(ascii: "b"), UInt8(ascii: "r"), esc])
                continue
            case 0x0D:
                guard let esc = encoding.escape else { return nil }
                out.append(contentsOf: [esc, UInt8(ascii: "X"), UInt8(ascii: "0"), UInt8(ascii: "D"), esc])
                continue
            default: letter = nil
            }
            if let letter {
                guard let esc = encoding.escape else { return nil }
                out.append(contentsOf: [esc, letter, esc])
            } else {
                out.append(b)
            }
        }
        return out
    }
}
