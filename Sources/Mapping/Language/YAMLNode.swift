import Yams

/// A YAML node with its place in its file, read with errors that point at that place.
struct YAMLNode {
    let node: Node
    let file: String

    var line: Int { node.mark?.line ?? 0 }
    var column: Int { node.mark?.column ?? 0 }

    func problem(_ message: String) -> MappingDiagnostic {
        MappingDiagnostic(file: file, line: line, column: column, message: message)
    }

    /// The scalar's text as written (`Y` stays `Y`, `0001` stays `0001`).
    var scalar: String? { node.scalar?.string }

    func string(_ what: String) throws(MappingDiagnostic) -> String {
        guard let s = scalar else { throw problem("\(what) must be a single value, not a list or a mapping") }
        return s
    }

    var isMapping: Bool { node.mapping != nil }
    var isSequence: Bool { node.sequence != nil }

    /// The mapping's entries in file order.
    func entries(_ what: String) throws(MappingDiagnostic) -> [(key: YAMLNode, value: YAMLNode)] {
        guard let m = node.mapping else { throw problem("\(what) must be a mapping (key: value lines)") }
        return m.map { (YAMLNode(node: $0.key, file: file), YAMLNode(node: $0.value, file: file)) }
    }

    /// A list's items; a single value counts as a list of one.
    func items() -> [YAMLNode] {
        if let s = node.sequence { return s.map { YAMLNode(node: $0, file: file) } }
        return [self]
    }

    /// A mapping read key by key: each key is taken once, and keys nobody took are reported (a typo is an error).
    struct Fields {
        let owner: YAMLNode
        let what: String
        private var values: [(key: YAMLNode, value: YAMLNode)]
        private var taken: Set<String> = []

        init(_ node: YAMLNode, what: String) throws(MappingDiagnostic) {
            owner = node
            self.what = what
            values = try node.entries(what)
        }

        mutating func optional(_ key: String) -> YAMLNode? {
            taken.insert(key)
            return values.first { $0.key.scalar == key }?.value
        }

        mutating func required(_ key: String) throws(MappingDiagnostic) -> YAMLNode {
            guard let v = optional(key) else { throw owner.problem("\(what) needs '\(key)'") }
            return v
        }

        mutating func optionalString(_ key: String) throws(MappingDiagnostic) -> String? {
            try optional(key)?.string(key)
        }

        mutating func requiredString(_ key: String) throws(MappingDiagnostic) -> String {
            try required(key).string(key)
        }

        func has(_ key: String) -> Bool { values.contains { $0.key.scalar == key } }

        /// Problems for keys that were never read.
        func unknownKeys(allowed hint: [String]) -> [MappingDiagnostic] {
            values.filter { !taken.contains($0.key.scalar ?? "") && !($0.key.scalar ?? "").hasPrefix("x-") }.map {
                $0.key.problem("unknown key '\($0.key.scalar ?? "?")' in \(what) (known: \(hint.joined(separator: ", ")))")
            }
        }
    }
}

extension YAMLNode {
    /// Parses a file's text; a syntax error points at its line and column.
    static func parse(_ text: String, file: String) throws(MappingDiagnostic) -> YAMLNode {
        do {
            // Every scalar is read as text (`string(_:)`), so no tag is resolved: the basic resolver spares a regular expression
            // per scalar.
            guard let node = try Yams.compose(yaml: text, .basic) else {
                throw MappingDiagnostic(file: file, line: 0, column: 0, message: "the file is empty")
            }
            return YAMLNode(node: node, file: file)
        } catch let d as MappingDiagnostic {
            throw d
        } catch let e as YamlError {
            throw Self.diagnostic(e, file: file)
        } catch {
            throw MappingDiagnostic(file: file, line: 0, column: 0, message: "\(error)")
        }
    }

    private static func diagnostic(_ e: YamlError, file: String) -> MappingDiagnostic {
        switch e {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return MappingDiagnostic(file: file, line: mark.line, column: mark.column, message: "YAML syntax: \(what)")
        default:
            return MappingDiagnostic(file: file, line: 0, column: 0, message: "YAML: \(e)")
        }
    }
}
