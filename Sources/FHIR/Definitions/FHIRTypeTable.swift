/// The FHIR R4 type table: for every resource, datatype and backbone element, its elements in definition order with
/// cardinality, types and XML representation. Generated from the specification (`scripts/generate_fhir_types.py`).
public struct FHIRTypeTable: Sendable {
    public enum Kind: String, Sendable { case resource, abstract, complex, backbone }

    /// A primitive type: how it appears in JSON and the regular expression its value must match.
    public struct Primitive: Sendable {
        public enum JSONKind: String, Sendable { case boolean, number, string }
        /// Which format check applies, resolved from the name once.
        public enum Format: Sendable {
            case integer, unsignedInt, positiveInt, decimal, date, dateTime, instant, time, id, code, uri, oid, uuid, base64Binary, text, boolean,
                xhtml
        }
        public var name: String
        public var jsonKind: JSONKind
        public var pattern: String?
        public var format: Format {
            switch name {
            case "integer": .integer
            case "unsignedInt": .unsignedInt
            case "positiveInt": .positiveInt
            case "decimal": .decimal
            case "date": .date
            case "dateTime": .dateTime
            case "instant": .instant
            case "time": .time
            case "id": .id
            case "code": .code
            case "uri", "url", "canonical": .uri
            case "oid": .oid
            case "uuid": .uuid
            case "base64Binary": .base64Binary
            case "boolean": .boolean
            case "xhtml": .xhtml
            default: .text
            }
        }
        /// Stored copy of ``format`` (computed at load).
        public internal(set) var resolvedFormat: Format = .text
    }

    /// One element of a type.
    public struct Element: Sendable {
        /// The JSON and XML name (for a choice element the stem: `value` of `value[x]`).
        public var name: String
        public var min: Int
        /// `nil` for `*`.
        public var max: Int?
        public var types: [String]
        public var isAttribute: Bool
        public var isXHTML: Bool
        public var isChoice: Bool
        /// For a `code` element with a required binding the generator could expand: the codes allowed.
        public var requiredCodes: Set<String>?
        public var repeats: Bool { max != 1 }
    }

    /// What an element's type is, resolved once when the table is built.
    public enum ResolvedType: Sendable {
        case primitive(Primitive)
        /// An index into ``definitions``.
        case complex(Int)
        case resource
        case unknown
    }

    public struct Member: Sendable {
        public var element: Int
        public var type: String
        public var resolved: ResolvedType
    }

    public struct TypeDefinition: Sendable {
        public var name: String
        public var kind: Kind
        public var elements: [Element]
        /// JSON names (choices spelled out: `valueQuantity`) → element index and the type that name means.
        var byName: [String: (index: Int, type: String)]
        /// The same, with the types resolved (filled in once all types are known).
        var members: [String: Member] = [:]

        /// The element and type a JSON/XML name means here.
        public func element(named name: String) -> (element: Element, index: Int, type: String)? {
            guard let hit = byName[name] else { return nil }
            return (elements[hit.index], hit.index, hit.type)
        }

        /// The member a JSON/XML name means here, its type resolved.
        public func member(named name: String) -> Member? { members[name] }
    }

    public private(set) var types: [String: TypeDefinition] = [:]
    public private(set) var primitives: [String: Primitive] = [:]
    public private(set) var aliases: [String: String] = [:]

    /// FHIR R4 (4.0.1).
    public static let r4 = FHIRTypeTable(source: r4Source)

    init(source: String) {
        var current: TypeDefinition?
        func finish() {
            guard var t = current else { return }
            var byName: [String: (index: Int, type: String)] = [:]
            for (i, e) in t.elements.enumerated() {
                if e.isChoice {
                    for type in e.types { byName[e.name + Self.capitalized(type)] = (i, type) }
                } else {
                    byName[e.name] = (i, e.types.first ?? "")
                }
            }
            t.byName = byName
            types[t.name] = t
            current = nil
        }
        for line in source.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
            switch parts[0] {
            case "P":
                let pattern = parts.count > 3 ? String(line.split(separator: " ", maxSplits: 3)[3]) : "-"
                var primitive = Primitive(
                    name: String(parts[1]), jsonKind: Primitive.JSONKind(rawValue: String(parts[2]))!, pattern: pattern == "-" ? nil : pattern)
                primitive.resolvedFormat = primitive.format
                primitives[String(parts[1])] = primitive
            case "T":
                finish()
                current = TypeDefinition(name: String(parts[1]), kind: Kind(rawValue: String(parts[2]))!, elements: [], byName: [:])
            case "E":
                let flags = parts[4]
                current?.elements.append(
                    Element(
                        name: String(parts[1]), min: Int(parts[2])!, max: parts[3] == "*" ? nil : Int(parts[3])!,
                        types: parts[5].split(separator: ",").map(String.init), isAttribute: flags.contains("a"), isXHTML: flags.contains("x"),
                        isChoice: flags.contains("c")))
            case "B":
                let codes = line.dropFirst(2).split(separator: "|").map(String.init)
                if let last = current?.elements.indices.last { current?.elements[last].requiredCodes = Set(codes) }
            case "A":
                aliases[String(parts[1])] = String(parts[2])
            default:
                break
            }
        }
        finish()
        resolveMembers()
    }

    /// Every complex type, resource and backbone, for lookups by index.
    public private(set) var definitions: [TypeDefinition] = []

    /// Resolves every member's type to a primitive or a definition index, so walks need no lookups by name.
    private mutating func resolveMembers() {
        let names = types.keys.sorted()
        var indexOf: [String: Int] = [:]
        for (i, name) in names.enumerated() { indexOf[name] = i }
        for (alias, target) in aliases { indexOf[alias] = indexOf[target] }
        for name in names {
            var t = types[name]!
            var members: [String: Member] = [:]
            for (key, hit) in t.byName {
                let resolved: ResolvedType
                if let p = primitives[hit.type] {
                    resolved = .primitive(p)
                } else if hit.type == "Resource" {
                    resolved = .resource
                } else if let i = indexOf[hit.type] {
                    resolved = .complex(i)
                } else {
                    resolved = .unknown
                }
                members[key] = Member(element: hit.index, type: hit.type, resolved: resolved)
            }
            t.members = members
            types[name] = t
        }
        definitions = names.map { types[$0]! }
    }

    static func capitalized(_ type: String) -> String {
        guard let first = type.first else { return type }
        return first.uppercased() + type.dropFirst()
    }

    /// A complex type or resource by name (aliases resolved); `nil` for primitives and unknown names.
    public func type(_ name: String) -> TypeDefinition? {
        types[name] ?? aliases[name].flatMap { types[$0] }
    }

    public func isPrimitive(_ name: String) -> Bool { primitives[name] != nil }

    /// Whether `name` is a concrete resource type.
    public func isResource(_ name: String) -> Bool { types[name]?.kind == .resource }
}
