/// A rule's `when:`: presence of a value, comparisons with literals, and `and` / `or` / `not` with parentheses.
///
///     when: PID-30                      # PID-30 has a value
///     when: PID-30 == 'Y'
///     when: .4.3 == 'ISO' and .4.2
///     when: OBX-2 in ['NM', 'SN']
///     when: not (PV1-2 == 'P' or PV1-2 == 'R')
///     when: PID-7 length > 8            # more than a date: the birth time
///     when: "@root is uuid"             # a UUID (8-4-4-4-12 hex digits); `is oid`: an ISO OID (2.16.840.1)
///
/// Literals are quoted ('…' or "…"). Comparisons are exact and case-sensitive; an absent value equals nothing.
indirect enum Condition: Sendable, Hashable {
    case present(PathRef)
    case equals(PathRef, String)
    case notEquals(PathRef, String)
    case oneOf(PathRef, Set<String>)
    /// `OBX-5 repeats`: the field has more than one repetition.
    case repeats(PathRef)
    /// `PID-7 length > 8`: the value has more than this many characters.
    case longer(PathRef, Int)
    /// `@root is uuid`, `@root is oid`: the value is written as that kind of identifier (a CDA II's root can be
    /// either, and becomes `urn:uuid:` or `urn:oid:`).
    case form(PathRef, IdentifierForm)
    case not(Condition)
    case and(Condition, Condition)
    case or(Condition, Condition)

    /// Every path the condition reads.
    var paths: [SourcePath] {
        switch self {
        case .present(let p), .equals(let p, _), .notEquals(let p, _), .oneOf(let p, _), .repeats(let p), .longer(let p, _), .form(let p, _):
            [p.path]
        case .not(let c): c.paths
        case .and(let a, let b), .or(let a, let b): a.paths + b.paths
        }
    }

    static func parse(_ text: String, dialect: SourcePath.Dialect) -> Result<Condition, PathError> {
        var parser = ConditionParser(tokens: ConditionParser.tokenize(text), dialect: dialect, text: text)
        do {
            let c = try parser.orExpression()
            guard parser.atEnd else { throw PathError("unexpected '\(parser.peek ?? "")' in condition '\(text)'") }
            return .success(c)
        } catch let e as PathError {
            return .failure(e)
        } catch {
            return .failure(PathError("\(error)"))
        }
    }
}

private struct ConditionParser {
    enum Token: Equatable {
        case word(String)
        case literal(String)
        case symbol(String)
    }

    var tokens: [Token]
    var position = 0
    let dialect: SourcePath.Dialect
    let text: String

    init(tokens: [Token], dialect: SourcePath.Dialect, text: String) {
        self.tokens = tokens
        self.dialect = dialect
        self.text = text
    }

    var atEnd: Bool { position >= tokens.count }
    var peek: String? {
        guard !atEnd else { return nil }
        switch tokens[position] {
        case .word(let w): return w
        case .literal(let l): return "'\(l)'"
        case .symbol(let s): return s
        }
    }

    static func tokenize(_ text: String) -> [Token] {
        var out: [Token] = []
        var chars = Array(text)[...]
        while let c = chars.first {
            if c == " " || c == "\t" {
                chars = chars.dropFirst()
            } else if c == "'" || c == "\"" {
                let body = chars.dropFirst().prefix { $0 != c }
                out.append(.literal(String(body)))
                chars = chars.dropFirst(body.count + 2)
            } else if "()[],".contains(c) {
                out.append(.symbol(String(c)))
                chars = chars.dropFirst()
            } else if c == "=" || c == "!" {
                let two = String(chars.prefix(2))
                out.append(.symbol(two))
                chars = chars.dropFirst(2)
            } else {
                // A path; an XML path's predicates (`value[@code='419099009']`, right after a step) are part of it.
                var word = ""
                repeat {
                    let part = chars.prefix { !" \t()[],=!'\"".contains($0) }
                    word += part
                    chars = chars.dropFirst(part.count)
                    guard !part.isEmpty, chars.first == "[" else { break }
                    let rest = Substring(String(chars))
                    guard let close = XMLPath.matchingClose(rest) else { break }
                    let length = rest.distance(from: rest.startIndex, to: close) + 1
                    word += chars.prefix(length)
                    chars = chars.dropFirst(length)
                } while true
                if word.isEmpty {
                    word = String(c)
                    chars = chars.dropFirst()
                }
                out.append(.word(word))
            }
        }
        return out
    }

    mutating func take(_ symbol: String) -> Bool {
        guard !atEnd else { return false }
        if tokens[position] == .symbol(symbol) || tokens[position] == .word(symbol) {
            position += 1
            return true
        }
        return false
    }

    mutating func orExpression() throws -> Condition {
        var left = try andExpression()
        while take("or") { left = .or(left, try andExpression()) }
        return left
    }

    mutating func andExpression() throws -> Condition {
        var left = try notExpression()
        while take("and") { left = .and(left, try notExpression()) }
        return left
    }

    mutating func notExpression() throws -> Condition {
        if take("not") { return .not(try notExpression()) }
        if take("(") {
            let inner = try orExpression()
            guard take(")") else { throw PathError("missing ')' in condition '\(text)'") }
            return inner
        }
        return try comparison()
    }

    mutating func comparison() throws -> Condition {
        guard !atEnd, case .word(let word) = tokens[position] else {
            throw PathError("expected a path such as PID-8 in condition '\(text)', found \(peek ?? "the end")")
        }
        position += 1
        let parsed: SourcePath
        switch SourcePath.parse(word, dialect: dialect) {
        case .success(let p): parsed = p
        case .failure(let e): throw e
        }
        let path = PathRef(parsed)
        if take("==") { return .equals(path, try literal()) }
        if take("!=") { return .notEquals(path, try literal()) }
        if take("in") {
            guard take("[") else { throw PathError("'in' takes a list: in ['A', 'B'] (condition '\(text)')") }
            var values: Set<String> = []
            repeat { values.insert(try literal()) } while take(",")
            guard take("]") else { throw PathError("missing ']' in condition '\(text)'") }
            return .oneOf(path, values)
        }
        if take("length") {
            guard take(">"), !atEnd, case .word(let w) = tokens[position], let n = Int(w), n >= 0 else {
                throw PathError("'length' compares with a number: \(word) length > 8 (condition '\(text)')")
            }
            position += 1
            return .longer(path, n)
        }
        if take("is") {
            guard !atEnd, case .word(let w) = tokens[position], let form = IdentifierForm(rawValue: w) else {
                throw PathError("'is' takes uuid or oid: \(word) is uuid (condition '\(text)')")
            }
            position += 1
            return .form(path, form)
        }
        if take("repeats") {
            guard case .segment(_, let levels) = parsed, levels.count == 1 else {
                throw PathError("'repeats' asks about a field (OBX-5), not \(path) (condition '\(text)')")
            }
            return .repeats(path)
        }
        return .present(path)
    }

    mutating func literal() throws -> String {
        guard !atEnd, case .literal(let l) = tokens[position] else {
            throw PathError("expected a quoted value such as 'Y' in condition '\(text)', found \(peek ?? "the end")")
        }
        position += 1
        return l
    }
}

/// The two ways an HL7 identifier root is written.
enum IdentifierForm: String, Sendable, Hashable {
    /// 8-4-4-4-12 hexadecimal digits (either case).
    case uuid
    /// An ISO object identifier: arcs of decimal digits separated by dots, the first 0, 1 or 2 (`2.16.840.1.113883`).
    case oid

    func matches(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        switch self {
        case .uuid:
            guard bytes.count == 36 else { return false }
            for (i, b) in bytes.enumerated() {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    guard b == UInt8(ascii: "-") else { return false }
                } else {
                    let hex = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
                    guard hex else { return false }
                }
            }
            return true
        case .oid:
            let arcs = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            guard arcs.count >= 2, let first = arcs.first, first.count == 1, (0x30...0x32).contains(first[first.startIndex]) else {
                return false
            }
            return arcs.allSatisfy { arc in !arc.isEmpty && arc.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        }
    }
}
