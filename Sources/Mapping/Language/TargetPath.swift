import FHIR

/// Where a rule writes: a FHIR element path from the resource (or datatype) being built, checked against the R4 type
/// table when the file is loaded.
///
/// `identifier[]` appends a new identifier, `name[0].given[]` appends to the first name's given names,
/// `type.coding[0].code` writes into the first coding (made when missing). A repeating element must say which: `[]` or
/// `[n]`.
struct TargetPath: Hashable, Sendable, CustomStringConvertible {
    enum Index: Hashable, Sendable {
        case none
        case append
        case at(Int)
    }

    struct Step: Hashable, Sendable {
        var name: String
        var index: Index
        /// For a choice (`valueQuantity`): its stem (`value`). Only one of a choice's types is written.
        var choiceStem: String? = nil
    }

    var steps: [Step]
    /// The FHIR type of the element written (a primitive name such as `dateTime`, or a complex type such as `Identifier`).
    var type: String
    /// For a `code` element with a required binding: the codes allowed. A value outside it is not written (it shows
    /// as not mapped), so a mapping never makes a resource the validator refuses.
    var requiredCodes: Set<String>? = nil
    /// Whether the path appends somewhere (so a repeating source gives one element per repetition).
    var appends: Bool { steps.contains { $0.index == .append } }

    var description: String {
        steps.map { s in
            switch s.index {
            case .none: s.name
            case .append: s.name + "[]"
            case .at(let n): "\(s.name)[\(n)]"
            }
        }.joined(separator: ".")
    }

    /// Parses and type-checks `text` from type `root` (a resource or complex type name).
    static func parse(_ text: String, from root: String, table: FHIRTypeTable = .r4) -> Result<TargetPath, PathError> {
        var steps: [Step] = []
        var current = root
        var location = root
        var required: Set<String>? = nil
        for raw in text.split(separator: ".", omittingEmptySubsequences: false) {
            var name = Substring(raw)
            var index = Index.none
            if let open = raw.firstIndex(of: "[") {
                guard raw.last == "]" else { return .failure(PathError("'\(raw)' in '\(text)': an index is written [] or [0]")) }
                let inner = raw[raw.index(after: open)..<raw.index(before: raw.endIndex)]
                if inner.isEmpty {
                    index = .append
                } else if let n = Int(inner), n >= 0, n < 100 {
                    index = .at(n)
                } else {
                    return .failure(PathError("'\(raw)' in '\(text)': an index is written [] or [0]"))
                }
                name = raw[..<open]
            }
            guard !name.isEmpty else { return .failure(PathError("'\(text)' has an empty step")) }
            guard let definition = table.type(current) else {
                return .failure(PathError("'\(location)' is a \(current), which has no elements ('\(name)' in '\(text)')"))
            }
            // `_birthDate`: a primitive's own element, for its extensions (a birth time beside the date).
            if name.hasPrefix("_"), index == .none, let primitive = definition.element(named: String(name.dropFirst())),
                !primitive.element.isChoice, !primitive.element.repeats, table.isPrimitive(primitive.type)
            {
                steps.append(Step(name: String(name), index: .none))
                required = nil
                current = "Element"
                location += ".\(name)"
                continue
            }
            guard let hit = definition.element(named: String(name)) else {
                let known = definition.elements.prefix(40).map(\.name).joined(separator: ", ")
                return .failure(PathError("\(current) has no element '\(name)' (in '\(text)'); it has: \(known)"))
            }
            if hit.element.isChoice && String(name) == hit.element.name {
                return .failure(PathError("'\(name)' is a choice: name the type, e.g. \(name)\(capitalized(hit.element.types.first ?? "string"))"))
            }
            switch (hit.element.repeats, index) {
            case (true, .none):
                return .failure(PathError("\(current).\(name) repeats: write \(name)[] (a new one per value) or \(name)[0]"))
            case (false, .append), (false, .at):
                return .failure(PathError("\(current).\(name) does not repeat: write \(name) without an index"))
            default:
                break
            }
            steps.append(Step(name: String(name), index: index, choiceStem: hit.element.isChoice ? hit.element.name : nil))
            required = hit.element.requiredCodes
            current = hit.type
            location += ".\(name)"
        }
        return .success(TargetPath(steps: steps, type: current, requiredCodes: required))
    }
}

private func capitalized(_ s: String) -> String {
    guard let first = s.first else { return s }
    return first.uppercased() + s.dropFirst()
}
