import FHIR

/// A path into an XML document, as document maps write them: element names separated by `/`, an optional last
/// `@attribute`, and predicates on steps: `section[templateId/@root='2.16.840.1.113883.10.20.22.2.5.1']/entry`,
/// `name[@use='L']`, `entryRelationship[observation]`, `section[code/@code='10190-7' or code/@code='61144-2']`. `.` is
/// the element itself. Namespace prefixes are not written
/// (names match by local name).
struct XMLPath: Hashable, Sendable, CustomStringConvertible {
    struct Predicate: Hashable, Sendable {
        var path: XMLPath
        /// nil: the path only has to match something.
        var value: String?
        /// `[a='1' or b='2']`: the predicates after the first `or`, any of which may hold instead.
        var alternatives: [Predicate] = []
    }

    struct Step: Hashable, Sendable {
        var name: String
        var predicates: [Predicate]
    }

    var steps: [Step]
    var attribute: String?
    let text: String

    var description: String { text }

    static func parse(_ text: String) -> Result<XMLPath, PathError> {
        var t = Substring(text)
        while t.first == " " { t = t.dropFirst() }
        while t.last == " " { t = t.dropLast() }
        if t.hasPrefix("./") { t = t.dropFirst(2) }
        if t == "." || t.isEmpty { return .success(XMLPath(steps: [], attribute: nil, text: ".")) }
        var steps: [Step] = []
        var attribute: String? = nil
        var parts: [Substring] = []
        // Split at '/' outside brackets and quotes.
        var start = t.startIndex
        let end = scan(t) { c, i, depth in
            if c == "/" && depth == 0 {
                parts.append(t[start..<i])
                start = t.index(after: i)
            }
            return false
        }
        guard end.depth == 0, !end.openQuote else { return .failure(PathError("'\(text)' has an unclosed [ or quote")) }
        parts.append(t[start...])
        for (i, part) in parts.enumerated() {
            if part.hasPrefix("@") {
                guard i == parts.count - 1 else { return .failure(PathError("in '\(text)', an @attribute comes last")) }
                let name = part.dropFirst()
                guard isName(name) else { return .failure(PathError("'\(part)' is not an attribute name")) }
                attribute = String(name)
                continue
            }
            if part == "." && i == 0 { continue }
            guard let open = part.firstIndex(of: "[") ?? Optional(part.endIndex) else { continue }
            let name = part[..<open]
            guard isName(name) else { return .failure(PathError("'\(name)' in '\(text)' is not an element name")) }
            var predicates: [Predicate] = []
            var rest = part[open...]
            while rest.first == "[" {
                guard let close = matchingClose(rest) else { return .failure(PathError("'\(text)' has an unclosed [")) }
                let inner = rest[rest.index(after: rest.startIndex)..<close]
                switch predicate(inner) {
                case .success(let p): predicates.append(p)
                case .failure(let e): return .failure(PathError("in '\(text)': \(e.message)"))
                }
                rest = rest[rest.index(after: close)...]
            }
            guard rest.isEmpty else { return .failure(PathError("'\(part)' in '\(text)' has text after its predicate")) }
            steps.append(Step(name: String(name), predicates: predicates))
        }
        return .success(XMLPath(steps: steps, attribute: attribute, text: text))
    }

    static func isName(_ s: Substring) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." } && !(s.first?.isNumber ?? true)
            || s == "*"
    }

    /// Walks `s` outside quoted text ('…' or "…") with the bracket depth (counting the `[` or `]` just read) until
    /// `stop` says so. Returns where it stopped, the depth it ended at, and whether a quote was left open.
    private static func scan(
        _ s: Substring, until stop: (Character, Substring.Index, Int) -> Bool
    ) -> (at: Substring.Index?, depth: Int, openQuote: Bool) {
        var depth = 0
        var quote: Character? = nil
        for i in s.indices {
            let c = s[i]
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            if c == "'" || c == "\"" {
                quote = c
                continue
            }
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            if stop(c, i, depth) { return (i, depth, false) }
        }
        return (nil, depth, quote != nil)
    }

    /// The `]` that closes the `[` `s` starts with (brackets balanced, quoted text skipped); a condition's tokenizer
    /// keeps an XML path's predicates in the path with it.
    static func matchingClose(_ s: Substring) -> Substring.Index? {
        scan(s) { c, _, depth in c == "]" && depth == 0 }.at
    }

    private static func predicate(_ inner: Substring) -> Result<Predicate, PathError> {
        // `or` between predicates, outside brackets and quotes.
        var parts: [Substring] = []
        var start = inner.startIndex
        _ = scan(inner) { c, i, depth in
            if c == " ", depth == 0, inner[i...].hasPrefix(" or ") {
                parts.append(inner[start..<i])
                start = inner.index(i, offsetBy: 4)
            }
            return false
        }
        parts.append(inner[start...])
        guard parts.count > 1 else { return single(inner) }
        var first: Predicate
        switch single(parts[0]) {
        case .success(let p): first = p
        case .failure(let e): return .failure(e)
        }
        for part in parts.dropFirst() {
            switch single(part) {
            case .success(let p): first.alternatives.append(p)
            case .failure(let e): return .failure(e)
            }
        }
        return .success(first)
    }

    private static func single(_ inner: Substring) -> Result<Predicate, PathError> {
        var inner = inner
        while inner.first == " " { inner = inner.dropFirst() }
        while inner.last == " " { inner = inner.dropLast() }
        guard !inner.isEmpty else { return .failure(PathError("an empty predicate ([] or a dangling 'or')")) }
        if let i = scan(inner, until: { c, _, depth in c == "=" && depth == 0 }).at {
            let left = inner[..<i]
            var right = inner[inner.index(after: i)...]
            while right.first == " " { right = right.dropFirst() }
            while right.last == " " { right = right.dropLast() }
            guard let q = right.first, q == "'" || q == "\"", right.count >= 2, right.last == q else {
                return .failure(PathError("a predicate compares with a quoted value: [@root='1.2.3']"))
            }
            guard case .success(let path) = parse(String(left)) else { return .failure(PathError("'\(left)' is not a path")) }
            return .success(Predicate(path: path, value: String(right.dropFirst().dropLast())))
        }
        guard case .success(let path) = parse(String(inner)) else { return .failure(PathError("'\(inner)' is not a path")) }
        return .success(Predicate(path: path, value: nil))
    }

    /// The elements the path's steps reach from `element`, in document order.
    func elements(from element: XMLElement) -> [XMLElement] {
        var current = [element]
        for step in steps {
            var next: [XMLElement] = []
            for e in current {
                for c in e.children where (step.name == "*" || c.name == step.name) && step.predicates.allSatisfy({ $0.holds(at: c) }) {
                    next.append(c)
                }
            }
            current = next
            if current.isEmpty { break }
        }
        return current
    }

    /// The path's first value from `element` (its attribute, or its text, trimmed), if any.
    func firstValue(from element: XMLElement) -> String? {
        for e in elements(from: element) {
            if let v = Self.value(of: e, attribute: attribute) { return v }
        }
        return nil
    }

    static func value(of e: XMLElement, attribute: String?) -> String? {
        let raw = attribute.map { e.attribute($0) ?? "" } ?? e.text
        var s = Substring(raw)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s.isEmpty ? nil : String(s)
    }
}

extension XMLPath.Predicate {
    func holds(at element: XMLElement) -> Bool {
        holdsAlone(at: element) || alternatives.contains { $0.holdsAlone(at: element) }
    }

    private func holdsAlone(at element: XMLElement) -> Bool {
        if let value { return path.elements(from: element).contains { XMLPath.value(of: $0, attribute: path.attribute) == value } }
        if path.attribute != nil { return path.firstValue(from: element) != nil }
        return !path.elements(from: element).isEmpty
    }
}
