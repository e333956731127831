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
