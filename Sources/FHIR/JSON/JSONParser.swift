/// A strict RFC 8259 parser over UTF-8 bytes that keeps member order and number text, with limits on depth and size.
///
/// Duplicate keys are an error (FHIR forbids them); so is anything after the value. Errors give the line and column.
public struct JSONParser: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Twice the XML reader's depth (each XML level can add an array and an object), plus the resource.
        public var maxDepth = 256
        public var maxBytes = 64 << 20
        public init() {}
    }

    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var byteOffset: Int
        public var reason: String
        public var description: String { "line \(line), column \(column): \(reason)" }
    }

    public var limits: Limits

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    public func parse(_ bytes: some Collection<UInt8>) throws(JSONParser.Error) -> JSONValue {
        let result: Result<JSONValue, JSONParser.Error>
        if let r = bytes.withContiguousStorageIfAvailable({ parse(buffer: $0) }) {
            result = r
        } else {
            result = Array(bytes).withUnsafeBufferPointer { parse(buffer: $0) }
        }
        return try result.get()
    }

    public func parse(_ text: String) throws(JSONParser.Error) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private func parse(buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONParser.Error> {
        var reader = Reader(buffer: buffer, limits: limits)
        do throws(JSONParser.Error) {
            guard buffer.count <= limits.maxBytes else { throw reader.error("the document is larger than \(limits.maxBytes) bytes") }
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { reader.i = 3 }
            reader.skipWhitespace()
            let value = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.i == buffer.count else { throw reader.error("unexpected text after the JSON value") }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        let limits: Limits
        var i = 0

        func error(_ reason: String, at offset: Int? = nil) -> JSONParser.Error {
            let at = min(offset ?? i, buffer.count)
            var line = 1, column = 1
            for b in buffer[0..<at] {
                if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            }
            return JSONParser.Error(line: line, column: column, byteOffset: at, reason: reason)
        }

        mutating func skipWhitespace() {
            while i < buffer.count {
                switch buffer[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(JSONParser.Error) -> JSONValue {
            guard depth < limits.maxDepth else { throw error("nesting deeper than \(limits.maxDepth)") }
            guard i < buffer.count else { throw error("a value was expected, the document ended") }
            switch buffer[i] {
            case UInt8(ascii: "{"): return .object(try object(depth: depth))
            case UInt8(ascii: "["): return .array(try array(depth: depth))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("a value was expected")
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONParser.Error) {
            let n = word.utf8CodeUnitCount
            guard i + n <= buffer.count else { throw error("invalid literal") }
            for k in 0..<n where buffer[i + k] != word.utf8Start[k] { throw error("invalid literal") }
            i += n
        }

        mutating func object(depth: Int) throws(JSONParser.Error) -> JSONObject {
            i += 1
            var members: [(key: String, value: JSONValue)] = []
            // Duplicate keys: a linear check while the object is small, a set once it is not.
            var seen: Set<String>? = nil
            skipWhitespace()
            if i < buffer.count, buffer[i] == UInt8(ascii: "}") {
                i += 1
                return JSONObject(members)
            }
            while true {
                skipWhitespace()
                guard i < buffer.count, buffer[i] == UInt8(ascii: "\"") else { throw error("a member name in quotes was expected") }
                let keyStart = i
                let key = try string()
                if seen == nil && members.count >= 16 { seen = Set(members.map(\.key)) }
                let duplicate = seen.map { !$0.contains(key) ? false : true } ?? members.contains { $0.key == key }
                guard !duplicate else { throw error("the member '\(key)' appears twice", at: keyStart) }
                seen?.insert(key)
                skipWhitespace()
                guard i < buffer.count, buffer[i] == UInt8(ascii: ":") else { throw error("':' was expected after a member name") }
                i += 1
                skipWhitespace()
                members.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard i < buffer.count else { throw error("the object is not closed") }
                if buffer[i] == UInt8(ascii: ",") { i += 1; continue }
                if buffer[i] == UInt8(ascii: "}") { i += 1; return JSONObject(members) }
                throw error("',' or '}' was expected")
            }
        }

        mutating func array(depth: Int) throws(JSONParser.Error) -> [JSONValue] {
            i += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if i < buffer.count, buffer[i] == UInt8(ascii: "]") {
                i += 1
                return items
            }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard i < buffer.count else { throw error("the array is not closed") }
                if buffer[i] == UInt8(ascii: ",") { i += 1; continue }
                if buffer[i] == UInt8(ascii: "]") { i += 1; return items }
                throw error("',' or ']' was expected")
            }
        }

        mutating func number() throws(JSONParser.Error) -> String {
            let start = i
            if buffer[i] == UInt8(ascii: "-") { i += 1 }
            func digits() -> Int {
                let s = i
                while i < buffer.count, buffer[i] >= 0x30, buffer[i] <= 0x39 { i += 1 }
                return i - s
            }
            guard i < buffer.count else { throw error("invalid number") }
            if buffer[i] == UInt8(ascii: "0") {
                i += 1
            } else if digits() == 0 {
                throw error("invalid number")
            }
            if i < buffer.count, buffer[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { throw error("invalid number: digits expected after '.'") }
            }
            if i < buffer.count, buffer[i] == UInt8(ascii: "e") || buffer[i] == UInt8(ascii: "E") {
                i += 1
                if i < buffer.count, buffer[i] == UInt8(ascii: "+") || buffer[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw error("invalid number: digits expected in the exponent") }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<i]), as: UTF8.self)
        }

        mutating func string() throws(JSONParser.Error) -> String {
            i += 1
            let start = i
            // Fast path: no escapes; pure ASCII needs no UTF-8 validation.
            var high: UInt8 = 0
            while i < buffer.count {
                let b = buffer[i]
                if b == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: buffer[start..<i])
                    i += 1
                    return high < 0x80 ? String(decoding: slice, as: UTF8.self) : try validUTF8(slice, at: start)
                }
                if b == UInt8(ascii: "\\") || b < 0x20 { break }
                high |= b
                i += 1
            }
            var out: [UInt8] = Array(buffer[start..<i])
            while i < buffer.count {
                let b = buffer[i]
                switch b {
                case UInt8(ascii: "\""):
                    i += 1
                    return try out.withUnsafeBufferPointer { buf throws(JSONParser.Error) in try validUTF8(buf, at: start) }
                case UInt8(ascii: "\\"):
                    i += 1
                    guard i < buffer.count else { throw error("unterminated escape") }
                    let e = buffer[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if scalar >= 0xD800, scalar < 0xDC00 {
                            guard i + 1 < buffer.count, buffer[i] == UInt8(ascii: "\\"), buffer[i + 1] == UInt8(ascii: "u") else {
                                throw error("a lone surrogate in a \\u escape")
                            }
                            i += 2
                            let low = try hex4()
                            guard low >= 0xDC00, low < 0xE000 else { throw error("a lone surrogate in a \\u escape") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if scalar >= 0xDC00, scalar < 0xE000 {
                            throw error("a lone surrogate in a \\u escape")
                        }
                        out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                    default:
                        throw error("invalid escape sequence")
                    }
                default:
                    guard b >= 0x20 else { throw error("a control character in a string must be escaped") }
                    out.append(b)
                    i += 1
                }
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws(JSONParser.Error) -> UInt32 {
            guard i + 4 <= buffer.count else { throw error("invalid \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = buffer[i]
                let d: UInt32
                switch b {
                case 0x30...0x39: d = UInt32(b - 0x30)
                case 0x41...0x46: d = UInt32(b - 0x41 + 10)
                case 0x61...0x66: d = UInt32(b - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        func validUTF8(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONParser.Error) -> String {
            if let s = String(validating: bytes, as: UTF8.self) { return s }
            throw error("invalid UTF-8 in a string", at: offset)
        }
    }
}
