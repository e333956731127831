extension UTF8Validation {
    /// Skips ASCII eight bytes at a time; the byte-wise check runs only around non-ASCII text.
    static func firstInvalidOffsetFast(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let n = bytes.count
        var i = 0
        while i < n {
            while i + 8 <= n {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            // Validate from here up to the next ASCII run (a sequence is at most 4 bytes long).
            var j = i
            while j < n, j < i + 8 || bytes[j] >= 0x80 { j += 1 }
            while j < n, j < i + 12, bytes[j] & 0xC0 == 0x80 { j += 1 }
            if let bad = firstInvalidOffset(UnsafeBufferPointer(rebasing: bytes[i..<j])) { return i + bad }
            i = j
        }
        return nil
    }
}
