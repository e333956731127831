/// Checks a resource in the JSON element model against the R4 type table: known resource type, known elements,
/// arrays where elements repeat and single values where they do not, primitive JSON types, `_name` companions that
/// line up, required elements and cardinality, and primitive formats (date, dateTime, instant, id, uri, code,
/// decimal, base64Binary, …). Issues carry the element path (FHIRPath style, `Patient.name[0].given[1]`).
public struct FHIRValidator: Sendable {
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        public enum Severity: String, Sendable { case error, warning }
        /// An OperationOutcome issue type code.
        public enum Code: String, Sendable { case structure, required, value, invalid, codeInvalid = "code-invalid", notSupported = "not-supported" }
        public var severity: Severity
        public var code: Code
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    public enum Level: Sendable {
        /// What the codec needs to read and write the resource: types, names, array-ness, JSON kinds.
        case structure
        /// Also required elements, cardinality and primitive formats.
        case full
    }

    public var table: FHIRTypeTable

    public init(table: FHIRTypeTable = .r4) {
        self.table = table
    }

    public func validate(_ resource: JSONObject, level: Level = .full) -> [Issue] {
        validateNotingDivs(resource, level: level).issues
    }

    /// Also says whether some narrative div is not in the serializer's form (so the reader should rewrite it).
    func validateNotingDivs(_ resource: JSONObject, level: Level) -> (issues: [Issue], divsToNormalize: Bool) {
        var walker = Walker(table: table, level: level)
        walker.resource(resource, atRoot: true)
        return (walker.issues, walker.divsToNormalize)
    }

    /// Whether a text is a valid lexical form of an R4 primitive type (`decimal`, `dateTime`, `id`, …).
    public static func isValidPrimitive(_ text: String, type: String) -> Bool {
        FHIRPrimitiveFormat.isValid(text, as: type)
    }

    /// The same check by a format resolved beforehand (``FHIRTypeTable/Primitive/resolvedFormat``).
    public static func isValidPrimitive(_ text: String, format: FHIRTypeTable.Primitive.Format) -> Bool {
        FHIRPrimitiveFormat.isValid(text, format: format)
    }

    /// The issues as a FHIR `OperationOutcome` (an `information` issue when there are none).
    public static func operationOutcome(_ issues: [Issue]) -> JSONObject {
        var outcome = JSONObject()
        outcome.appendUnchecked("resourceType", .string("OperationOutcome"))
        let list: [JSONValue] =
            issues.isEmpty
            ? [
                .object(
                    JSONObject([("severity", .string("information")), ("code", .string("informational")), ("diagnostics", .string("no issues"))]))
            ]
            : issues.map { issue in
                .object(
                    JSONObject([
                        ("severity", .string(issue.severity.rawValue)), ("code", .string(issue.code.rawValue)),
                        ("diagnostics", .string(issue.message)), ("expression", .array([.string(issue.path)])),
                    ]))
            }
        outcome.appendUnchecked("issue", .array(list))
        return outcome
    }

    struct Walker {
        let table: FHIRTypeTable
        let level: Level
        var issues: [Issue] = []
        var divsToNormalize = false
        /// The current element path as parts, rendered only when an issue is recorded.
        var path: [PathPart] = []

        enum PathPart {
            case name(String)
            case index(Int)
        }

        func render(_ extra: String? = nil) -> String {
            var out = ""
            for part in path {
                switch part {
                case .name(let n):
                    if !out.isEmpty { out += "." }
                    out += n
                case .index(let i): out += "[\(i)]"
                }
            }
            if let extra { out += (out.isEmpty ? "" : ".") + extra }
            return out
        }

        mutating func add(_ code: Issue.Code, _ message: String, child: String? = nil, severity: Issue.Severity = .error) {
            issues.append(Issue(severity: severity, code: code, path: render(child), message: message))
        }

        mutating func resource(_ object: JSONObject, atRoot: Bool) {
            guard case .string(let name)? = object["resourceType"] else {
                add(.structure, "a resource needs a 'resourceType' string", child: atRoot ? "Resource" : nil)
                return
            }
            guard let type = table.type(name), type.kind == .resource else {
                add(.notSupported, "'\(name)' is not a FHIR R4 resource type", child: atRoot ? name : nil)
                return
            }
            if atRoot { path.append(.name(name)) }
            complex(object, type: type, skipResourceType: true)
            if atRoot { path.removeLast() }
        }

        mutating func complex(_ object: JSONObject, type: FHIRTypeTable.TypeDefinition, skipResourceType: Bool = false) {
            // Which member (by position in the object) each element came from: -1 when absent.
            var present = [Int](repeating: -1, count: type.elements.count)
            for (position, (key, value)) in object.members.enumerated() {
                if skipResourceType && key == "resourceType" { continue }
                let isCompanion = key.utf8.first == UInt8(ascii: "_")
                let name = isCompanion ? String(key.dropFirst()) : key
                guard let member = type.member(named: name) else {
                    add(.structure, "unknown element '\(key)'", child: key)
                    continue
                }
                let element = type.elements[member.element]
                var isPrimitive = false
                if case .primitive = member.resolved { isPrimitive = true }
                if isCompanion && !isPrimitive {
                    add(.structure, "'\(key)' is only allowed for primitive elements", child: key)
                    continue
                }
                let other = present[member.element]
                if other >= 0 {
                    let otherKey = object.members[other].key
                    let otherName = otherKey.utf8.first == UInt8(ascii: "_") ? String(otherKey.dropFirst()) : otherKey
                    if otherName != name {
                        add(.structure, "only one of the choices of '\(element.name)[x]' may appear (also '\(otherName)')", child: key)
                    }
                }
                if !isCompanion || other < 0 { present[member.element] = position }
                path.append(.name(key))
                defer { path.removeLast() }
                if element.repeats {
                    guard case .array(let items) = value else {
                        add(.structure, "'\(key)' repeats, so it must be an array")
                        continue
                    }
                    if items.isEmpty { add(.structure, "an array must not be empty") }
                    for (i, item) in items.enumerated() {
                        path.append(.index(i))
                        self.item(item, member: member, element: element, isCompanion: isCompanion, inArray: true, object: object, name: name)
                        path.removeLast()
                    }
                    if !isCompanion, isPrimitive, case .array(let extras)? = object["_" + name], extras.count != items.count {
                        add(.structure, "'\(name)' and '_\(name)' must have the same length")
                    }
                } else {
                    if case .array = value {
                        add(.structure, "'\(key)' does not repeat, so it must not be an array")
                        continue
                    }
                    item(value, member: member, element: element, isCompanion: isCompanion, inArray: false, object: object, name: name)
                }
            }
            guard level == .full else { return }
            for (index, element) in type.elements.enumerated() where element.min > 0 && present[index] < 0 {
                add(.required, "'\(element.name)' is required (min \(element.min))", child: element.name + (element.isChoice ? "[x]" : ""))
            }
            for (index, element) in type.elements.enumerated() {
                guard let max = element.max, max > 1, present[index] >= 0, case .array(let a) = object.members[present[index]].value, a.count > max
                else {
                    continue
                }
                add(.structure, "'\(object.members[present[index]].key)' may appear at most \(max) times", child: object.members[present[index]].key)
            }
        }

        mutating func item(
            _ item: JSONValue, member: FHIRTypeTable.Member, element: FHIRTypeTable.Element, isCompanion: Bool, inArray: Bool, object: JSONObject,
            name: String
        ) {
            if isCompanion {
                if item == .null { return }
                guard case .object(let extra) = item else {
                    add(.structure, "a primitive's '_' companion must be an object (or null in an array)")
                    return
                }
                complex(extra, type: table.type("Element")!)
                return
            }
            switch member.resolved {
            case .primitive(let primitive):
                if item == .null {
                    if inArray, object["_" + name] != nil { return }
                    add(.structure, "null is only allowed in arrays of primitives that have extensions")
                    return
                }
                self.primitive(item, primitive)
                if level == .full, let codes = element.requiredCodes, case .string(let code) = item, !codes.contains(code) {
                    let allowed = codes.sorted()
                    let list = allowed.prefix(8).joined(separator: ", ") + (allowed.count > 8 ? ", …" : "")
                    add(.codeInvalid, "not a code of the required value set (\(list))")
                }
            case .resource:
                guard case .object(let r) = item else {
                    add(.structure, "must be a resource object")
                    return
                }
                resource(r, atRoot: false)
            case .complex(let index):
                guard case .object(let o) = item else {
                    add(.structure, "must be an object")
                    return
                }
                if o.count == 0 { add(.structure, "an object must not be empty") }
                complex(o, type: table.definitions[index])
            case .unknown:
                break
            }
        }

        mutating func primitive(_ value: JSONValue, _ primitive: FHIRTypeTable.Primitive) {
            var text: String
            switch (value, primitive.jsonKind) {
            case (.string(let s), .string):
                text = s
                // Structural: XML cannot carry these characters at all, and FHIR strings exclude them.
                if text.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) {
                    add(.structure, "control characters other than tab, line feed and carriage return are not allowed")
                    return
                }
            case (.bool, .boolean): return
            case (.number(let n), .number): text = n
            default:
                add(.structure, "a \(primitive.name) must be a JSON \(primitive.jsonKind.rawValue)")
                return
            }
            if primitive.resolvedFormat == .xhtml {
                // Structural: a div that is not well-formed XHTML cannot be written as XML.
                switch XHTMLCheck.normalize(text) {
                case .success(let normalized): if normalized != text { divsToNormalize = true }
                case .failure(let problem): add(.structure, problem.reason)
                }
                return
            }
            guard level == .full else { return }
            let verdict = text.withUTF8 { FHIRPrimitiveFormat.check($0, as: primitive.resolvedFormat) }
            switch verdict {
            case .valid: break
            case .empty: add(.value, "a \(primitive.name) must not be empty")
            case .blank: add(.value, "a \(primitive.name) should not be only white space", severity: .warning)
            case .invalid: add(.value, "not a valid \(primitive.name)")
            }
        }
    }
}
