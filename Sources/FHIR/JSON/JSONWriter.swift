/// Writes ``JSONValue``s: compact, pretty (two-space indent), or in canonical order (members sorted by key).
public struct JSONWriter: Sendable {
    public enum Style: Sendable, Hashable {
        case compact
        case pretty
        /// Compact, members sorted by their keys' UTF-16 code units (as RFC 8785), numbers as written.
        case canonical
    }

    public var style: Style

    public init(style: Style = .compact) {
        self.style = style
    }

    public func write(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(value, to: &out, indent: 0)
        if style == .pretty { out.append(0x0A) }
        return out
    }

    public func string(_ value: JSONValue) -> String {
        String(decoding: write(value), as: UTF8.self)
    }

    func write(_ value: JSONValue, to out: inout [UInt8], indent: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): Self.appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent + 1)
                write(item, to: &out, indent: indent + 1)
            }
            if !items.isEmpty { newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let object) where style == .canonical:
            writeCanonical(object.members, to: &out)
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            let members = object.members
            for (k, member) in members.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent + 1)
                Self.appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                if style == .pretty { out.append(0x20) }
                write(member.value, to: &out, indent: indent + 1)
            }
            if !members.isEmpty { newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// An object's members in key order, by sorting their positions rather than the members (no copies of keys and
    /// values, no retains): insertion sort, as objects have a handful of members.
    private func writeCanonical(_ members: [(key: String, value: JSONValue)], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        let n = members.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: n) { order in
            for i in 0..<n {
                var j = i
                while j > 0 && Self.precedesInUTF16(members[i].key, members[order[j - 1]].key) {
                    order[j] = order[j - 1]
                    j -= 1
                }
                order[j] = i
            }
            for k in 0..<n {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                let member = members[order[k]]
                Self.appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, to: &out, indent: 0)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    private func newline(_ out: inout [UInt8], _ indent: Int) {
        guard style == .pretty else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: 2 * indent))
    }

    /// Whether `a` sorts before `b` by UTF-16 code units (RFC 8785's order), compared as UTF-8 bytes: the two orders
    /// agree except between U+E000–U+FFFF and characters beyond U+FFFF, whose lead bytes (EE–EF, F0–F4) are where
    /// such strings first differ; only then are the UTF-16 code units compared.
    static func precedesInUTF16(_ a: String, _ b: String) -> Bool {
        var x = a.utf8.makeIterator(), y = b.utf8.makeIterator()
        while true {
            guard let p = x.next() else { return y.next() != nil }
            guard let q = y.next() else { return false }
            if p == q { continue }
            if p >= 0xEE && q >= 0xEE && (p >= 0xF0) != (q >= 0xF0) { return a.utf16.lexicographicallyPrecedes(b.utf16) }
            return p < q
        }
    }

    /// Escapes `"`, `\` and control characters (short forms where JSON has them); everything else as UTF-8. The runs
    /// between escapes are copied whole (most strings have none).
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for i in 0..<bytes.count {
                let b = bytes[i]
                guard b < 0x20 || b == 0x22 || b == 0x5C else { continue }
                if start < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i])) }
                escape(b, to: &out)
                start = i + 1
            }
            if start < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...])) }
        }
        out.append(0x22)
    }

    private static func escape(_ b: UInt8, to out: inout [UInt8]) {
        out.append(0x5C)
        switch b {
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x08: out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "f"))
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            out.append(UInt8(ascii: "u"))
            out.append(0x30)
            out.append(0x30)
            hex.withUTF8Buffer { h in
                out.append(h[Int(b >> 4)])
                out.append(h[Int(b & 0xF)])
            }
        }
    }
}
