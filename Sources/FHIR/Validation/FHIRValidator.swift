/// Checks a resource in the JSON element model against the R4 type table: known resource type, known elements,
/// arrays where elements repeat and single values where they do not, primitive JSON types, `_name` companions that
/// line up, required elements and cardinality, and primitive formats (date, dateTime, instant, id, uri, code,
/// decimal, base64Binary, …). Issues carry the element path (FHIRPath style, `Patient.name[0].given[1]`).
public struct FHIRValidator: Sendable {
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        public enum Severity: String, Sendable { case error, warning }
        /// An OperationOutcome issue type code.
        public enum Code: String, Sendable { case structure, required, value, invalid, notSupported = "not-supported" }
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
        var walker = Walker(table: table, level: level)
        walker.resource(resource, path: "")
        return walker.issues
    }

    /// The issues as a FHIR `OperationOutcome` (an `information` issue when there are none).
    public static func operationOutcome(_ issues: [Issue]) -> JSONObject {
        var outcome = JSONObject()
        outcome.appendUnchecked("resourceType", .string("OperationOutcome"))
        let list: [JSONValue] =
            issues.isEmpty
            ? [.object(JSONObject([("severity", .string("information")), ("code", .string("informational")), ("diagnostics", .string("no issues"))]))]
            : issues.map { issue in
                .object(JSONObject([
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

        mutating func add(_ code: Issue.Code, _ path: String, _ message: String) {
            issues.append(Issue(severity: .error, code: code, path: path, message: message))
        }

        mutating func resource(_ object: JSONObject, path: String) {
            guard case .string(let name)? = object["resourceType"] else {
                add(.structure, path.isEmpty ? "Resource" : path, "a resource needs a 'resourceType' string")
                return
            }
            guard let type = table.type(name), type.kind == .resource else {
                add(.notSupported, path.isEmpty ? name : path, "'\(name)' is not a FHIR R4 resource type")
                return
            }
            complex(object, type: type, path: path.isEmpty ? name : path, skip: ["resourceType"])
        }

        mutating func complex(_ object: JSONObject, type: FHIRTypeTable.TypeDefinition, path: String, skip: Set<String> = []) {
            var present = [Int: String]()
            for (key, value) in object.members where !skip.contains(key) {
                let isCompanion = key.hasPrefix("_")
                let name = isCompanion ? String(key.dropFirst()) : key
                guard let (element, index, typeName) = type.element(named: name) else {
                    add(.structure, path + "." + key, "unknown element '\(key)'")
                    continue
                }
                let isPrimitive = table.isPrimitive(typeName)
                if isCompanion && !isPrimitive {
                    add(.structure, path + "." + key, "'\(key)' is only allowed for primitive elements")
                    continue
                }
                if let other = present[index], other != name {
                    add(.structure, path + "." + key, "only one of the choices of '\(element.name)[x]' may appear (also '\(other)')")
                }
                present[index] = name
                let items: [JSONValue]
                if element.repeats {
                    guard case .array(let a) = value else {
                        add(.structure, path + "." + key, "'\(key)' repeats, so it must be an array")
                        continue
                    }
                    if a.isEmpty { add(.structure, path + "." + key, "an array must not be empty") }
                    items = a
                } else {
                    if case .array = value {
                        add(.structure, path + "." + key, "'\(key)' does not repeat, so it must not be an array")
                        continue
                    }
                    items = [value]
                }
                for (i, item) in items.enumerated() {
                    let itemPath = element.repeats ? "\(path).\(key)[\(i)]" : "\(path).\(key)"
                    if isCompanion {
                        if item == .null { continue }
                        guard case .object(let extra) = item else {
                            add(.structure, itemPath, "a primitive's '_' companion must be an object (or null in an array)")
                            continue
                        }
                        complex(extra, type: table.type("Element")!, path: itemPath)
                    } else if isPrimitive {
                        if item == .null {
                            if element.repeats, object["_" + name] != nil { continue }
                            add(.structure, itemPath, "null is only allowed in arrays of primitives that have extensions")
                            continue
                        }
                        primitive(item, typeName: typeName, element: element, path: itemPath)
                    } else if typeName == "Resource" {
                        guard case .object(let r) = item else {
                            add(.structure, itemPath, "must be a resource object")
                            continue
                        }
                        resource(r, path: itemPath)
                    } else if let child = table.type(typeName) {
                        guard case .object(let o) = item else {
                            add(.structure, itemPath, "must be an object")
                            continue
                        }
                        if o.count == 0 { add(.structure, itemPath, "an object must not be empty") }
                        complex(o, type: child, path: itemPath)
                    }
                }
                if !isCompanion, isPrimitive, element.repeats, case .array(let values)? = object[name], case .array(let extras)? = object["_" + name],
                    values.count != extras.count
                {
                    add(.structure, path + "." + name, "'\(name)' and '_\(name)' must have the same length")
                }
            }
            guard level == .full else { return }
            for (index, element) in type.elements.enumerated() where element.min > 0 && present[index] == nil {
                add(.required, path + "." + element.name + (element.isChoice ? "[x]" : ""), "'\(element.name)' is required (min \(element.min))")
            }
            for (index, element) in type.elements.enumerated() {
                guard let max = element.max, max > 1, let name = present[index], case .array(let a)? = object[name], a.count > max else { continue }
                add(.structure, path + "." + name, "'\(name)' may appear at most \(max) times")
            }
        }

        mutating func primitive(_ value: JSONValue, typeName: String, element: FHIRTypeTable.Element, path: String) {
            guard let primitive = table.primitives[typeName] else { return }
            let text: String
            switch (value, primitive.jsonKind) {
            case (.string(let s), .string): text = s
            case (.bool(let b), .boolean): text = b ? "true" : "false"
            case (.number(let n), .number): text = n
            default:
                add(.structure, path, "a \(typeName) must be a JSON \(primitive.jsonKind.rawValue)")
                return
            }
            guard level == .full else { return }
            if text.isEmpty || text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) && typeName != "xhtml" {
                add(.value, path, "a \(typeName) must not be empty or only white space")
                return
            }
            if !FHIRPrimitiveFormat.isValid(text, as: typeName) {
                add(.value, path, "not a valid \(typeName)")
            }
        }
    }
}

