/// A path to a value in the terser style: `PID-3[2].1`, `OBX[3]-5.1`, `PID-5.1.1`, `MSH-9.2`.
///
/// `SEG[n]` picks the n-th segment with that id, `-f[r]` field f and its r-th repetition, then `.c.s` the component
/// and subcomponent (all 1-based; `(n)` and `-` are accepted for `[n]` and `.`). A path without a component names
/// the first component's first subcomponent, as a terser does.
public struct TerserPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var segmentID: String
    public var segmentOccurrence: Int
    public var field: Int
    public var repetition: Int
    public var component: Int?
    public var subcomponent: Int?

    public init(segmentID: String, segmentOccurrence: Int = 1, field: Int, repetition: Int = 1, component: Int? = nil, subcomponent: Int? = nil) {
        self.segmentID = segmentID
        self.segmentOccurrence = segmentOccurrence
        self.field = field
        self.repetition = repetition
        self.component = component
        self.subcomponent = subcomponent
    }

    /// Parses a path; throws ``HL7ValueError/Code/invalidPath`` with the column of the problem.
    public init(_ text: String) throws(HL7ValueError) {
        let chars = Array(text.utf8)
        var i = 0
        func fail(_ what: String) -> HL7ValueError {
            HL7ValueError(.invalidPath, location: "column \(i + 1) of '\(text)': \(what)")
        }
        func number() throws(HL7ValueError) -> Int {
            let start = i
            while i < chars.count, chars[i] >= 0x30, chars[i] <= 0x39 { i += 1 }
            guard i > start, i - start <= 6, let n = Int(String(decoding: chars[start..<i], as: UTF8.self)), n >= 1 else {
                i = start
                throw fail("a number from 1 expected")
            }
            return n
        }
        func bracketed() throws(HL7ValueError) -> Int? {
            guard i < chars.count, chars[i] == UInt8(ascii: "[") || chars[i] == UInt8(ascii: "(") else { return nil }
            let close = chars[i] == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: ")")
            i += 1
            let n = try number()
            guard i < chars.count, chars[i] == close else { throw fail("'\(Character(Unicode.Scalar(close)))' expected") }
            i += 1
            return n
        }
        guard chars.count >= 3, chars[0..<3].allSatisfy(ER7Scanner.isIDByte) else { throw fail("a three-character segment id expected") }
        segmentID = String(decoding: chars[0..<3], as: UTF8.self)
        i = 3
        segmentOccurrence = try bracketed() ?? 1
        guard i < chars.count, chars[i] == UInt8(ascii: "-") else { throw fail("'-' and a field number expected") }
        i += 1
        field = try number()
        repetition = try bracketed() ?? 1
        component = nil
        subcomponent = nil
        if i < chars.count, chars[i] == UInt8(ascii: ".") || chars[i] == UInt8(ascii: "-") {
            i += 1
            component = try number()
            if i < chars.count, chars[i] == UInt8(ascii: ".") || chars[i] == UInt8(ascii: "-") {
                i += 1
                subcomponent = try number()
            }
        }
        guard i == chars.count else { throw fail("unexpected text") }
    }

    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { preconditionFailure("invalid HL7 path literal: \(error)") }
    }

    public var description: String {
        var s = segmentID
        if segmentOccurrence != 1 { s += "[\(segmentOccurrence)]" }
        s += "-\(field)"
        if repetition != 1 { s += "[\(repetition)]" }
        if let component { s += ".\(component)" }
        if let subcomponent { s += ".\(subcomponent)" }
        return s
    }
}
