/// Checks on primitive values that the codecs need without a regular-expression engine.
enum FHIRPrimitiveFormat {
    /// JSON number syntax: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    static func isJSONNumber(_ text: String) -> Bool {
        var it = Array(text.utf8)[...]
        func digits() -> Int {
            var n = 0
            while let d = it.first, d >= 0x30, d <= 0x39 { it.removeFirst(); n += 1 }
            return n
        }
        if it.first == UInt8(ascii: "-") { it.removeFirst() }
        guard let first = it.first else { return false }
        if first == UInt8(ascii: "0") { it.removeFirst() } else if digits() == 0 { return false }
        if it.first == UInt8(ascii: ".") {
            it.removeFirst()
            guard digits() > 0 else { return false }
        }
        if it.first == UInt8(ascii: "e") || it.first == UInt8(ascii: "E") {
            it.removeFirst()
            if it.first == UInt8(ascii: "+") || it.first == UInt8(ascii: "-") { it.removeFirst() }
            guard digits() > 0 else { return false }
        }
        return it.isEmpty
    }
}

extension FHIRPrimitiveFormat {
    enum Verdict { case valid, empty, blank, invalid }

    /// Checks a value's bytes without copying them: empty and white-space-only values are told apart.
    static func check(_ b: UnsafeBufferPointer<UInt8>, as format: FHIRTypeTable.Primitive.Format) -> Verdict {
        if b.isEmpty { return .empty }
        if !b.contains(where: { !isSpace($0) }) { return format == .text ? .blank : .invalid }
        return isValid(b, as: format) ? .valid : .invalid
    }

    /// Whether `text` is a valid value of the primitive type, by the rules of the specification's regular
    /// expressions (checked against them in the tests), plus the 32-bit range of the integer types.
    static func isValid(_ text: String, as type: String) -> Bool {
        guard let primitive = FHIRTypeTable.r4.primitives[type] else { return true }
        return isValid(text, format: primitive.resolvedFormat)
    }

    static func isValid(_ text: String, format: FHIRTypeTable.Primitive.Format) -> Bool {
        var copy = text
        return copy.withUTF8 { isValid($0, as: format) }
    }

    static func isValid(_ b: UnsafeBufferPointer<UInt8>, as format: FHIRTypeTable.Primitive.Format) -> Bool {
        switch format {
        case .integer: return isInteger(b, allowNegative: true, min: -2_147_483_648)
        case .unsignedInt: return isInteger(b, allowNegative: false, min: 0)
        case .positiveInt: return isInteger(b, allowNegative: false, min: 1)
        case .decimal: return isJSONNumber(String(decoding: b, as: UTF8.self))
        case .date: return date(b, 0).map { $0 == b.count } ?? false
        case .dateTime: return dateTime(b)
        case .instant: return instant(b)
        case .time: return time(b, 0).map { $0 == b.count } ?? false
        case .id: return (1...64).contains(b.count) && b.allSatisfy { isAlnum($0) || $0 == 0x2D || $0 == 0x2E }
        case .code: return isCode(b)
        case .uri: return !b.contains(where: isSpace)
        case .oid: return isOID(b)
        case .uuid: return isUUID(b)
        case .base64Binary: return isBase64(b)
        case .text: return !b.isEmpty && !b.contains { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        case .boolean, .xhtml: return true
        }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C || c == 0x0B }

    static func isInteger(_ b: UnsafeBufferPointer<UInt8>, allowNegative: Bool, min: Int) -> Bool {
        var digits = b[...]
        if allowNegative, digits.first == 0x2D { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy(isDigit), digits.count == 1 || digits.first != 0x30, digits.count <= 11,
            let n = Int(String(decoding: UnsafeBufferPointer(rebasing: b[...]), as: UTF8.self))
        else { return false }
        return n >= min && n <= 2_147_483_647
    }

    /// Reads `count` digits at `i` as a number.
    static func number(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ count: Int) -> Int? {
        guard i + count <= b.count else { return nil }
        var n = 0
        for k in i..<(i + count) {
            guard isDigit(b[k]) else { return nil }
            n = n * 10 + Int(b[k] - 0x30)
        }
        return n
    }

    /// YYYY, YYYY-MM or YYYY-MM-DD at `i`; returns the offset after it.
    static func date(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        guard let year = number(b, i, 4), year >= 1 else { return nil }
        var j = i + 4
        guard j < b.count, b[j] == 0x2D else { return j }
        guard let month = number(b, j + 1, 2), (1...12).contains(month) else { return nil }
        j += 3
        guard j < b.count, b[j] == 0x2D else { return j }
        guard let day = number(b, j + 1, 2), (1...31).contains(day) else { return nil }
        return j + 3
    }

    /// hh:mm:ss(.fraction)? at `i`.
    static func time(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        guard let h = number(b, i, 2), h <= 23, i + 2 < b.count, b[i + 2] == 0x3A, let m = number(b, i + 3, 2), m <= 59, i + 5 < b.count,
            b[i + 5] == 0x3A, let s = number(b, i + 6, 2), s <= 60
        else { return nil }
        var j = i + 8
        if j < b.count, b[j] == 0x2E {
            j += 1
            let start = j
            while j < b.count, isDigit(b[j]) { j += 1 }
            guard j > start else { return nil }
        }
        return j
    }

    /// Z or ±hh:mm (up to 14:00) at `i`, ending the text.
    static func zone(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "Z") { return i + 1 == b.count }
        guard b[i] == 0x2B || b[i] == 0x2D, i + 6 == b.count, let h = number(b, i + 1, 2), b[i + 3] == 0x3A, let m = number(b, i + 4, 2) else {
            return false
        }
        return (h <= 13 && m <= 59) || (h == 14 && m == 0)
    }

    static func dateTime(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let end = date(b, 0) else { return false }
        if end == b.count { return true }
        // A time needs a full date and a zone.
        guard end == 10, b[end] == UInt8(ascii: "T"), let t = time(b, end + 1) else { return false }
        return zone(b, t)
    }

    static func instant(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard date(b, 0) == 10, b.count > 10, b[10] == UInt8(ascii: "T"), let t = time(b, 11) else { return false }
        return zone(b, t)
    }

    static func isCode(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = b.first, let last = b.last, !isSpace(first), !isSpace(last) else { return false }
        for k in 1..<b.count where isSpace(b[k]) && (b[k] != 0x20 && b[k] != 0x09 && b[k] != 0x0A && b[k] != 0x0D || isSpace(b[k - 1])) {
            return false
        }
        return true
    }

    static func isOID(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let prefix = Array("urn:oid:".utf8)
        guard b.starts(with: prefix), b.count > prefix.count + 2 else { return false }
        let rest = b[prefix.count...]
        guard let first = rest.first, (0x30...0x32).contains(first) else { return false }
        let arcs = rest.dropFirst()
        guard arcs.first == 0x2E else { return false }
        let parts = arcs.dropFirst().split(separator: 0x2E, omittingEmptySubsequences: false)
        return !parts.isEmpty && parts.allSatisfy { p in !p.isEmpty && p.allSatisfy(isDigit) && (p.count == 1 || p.first != 0x30) }
    }

    static func isUUID(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let prefix = Array("urn:uuid:".utf8)
        guard b.starts(with: prefix), b.count == prefix.count + 36 else { return false }
        for (k, c) in b[prefix.count...].enumerated() {
            if [8, 13, 18, 23].contains(k) {
                guard c == 0x2D else { return false }
            } else if !(isDigit(c) || (c >= 0x61 && c <= 0x66)) {
                return false
            }
        }
        return true
    }

    static func isBase64(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        // (\s*([0-9a-zA-Z\+/=]){4}\s*)+ : white space only between groups of four characters.
        var count = 0
        for c in b {
            if isSpace(c) {
                guard count % 4 == 0 else { return false }
                continue
            }
            guard isAlnum(c) || c == 0x2B || c == 0x2F || c == 0x3D else { return false }
            count += 1
        }
        return count > 0 && count % 4 == 0
    }
}
