/// Reads and writes FHIR R4 JSON: the JSON model checked against the type table.
public struct FHIRJSON: Sendable {
    public struct Options: Sendable, Hashable {
        /// Keep elements the definitions do not know instead of rejecting the resource (they cannot be written as XML).
        public var keepUnknownElements = false
        public var limits = JSONParser.Limits()
        public init() {}
    }

    public var options: Options
    public var table: FHIRTypeTable

    public init(options: Options = .init(), table: FHIRTypeTable = .r4) {
        self.options = options
        self.table = table
    }

    /// Parses a resource: UTF-8 JSON, numbers kept as written, structure checked (types, names, arrays, JSON kinds).
    public func parse(_ bytes: some Collection<UInt8>) throws(FHIRCodecError) -> JSONObject {
        let value: JSONValue
        do throws(JSONParser.Error) {
            value = try JSONParser(limits: options.limits).parse(bytes)
        } catch {
            throw FHIRCodecError(line: error.line, column: error.column, reason: error.reason)
        }
        guard case .object(let resource) = value else { throw FHIRCodecError(reason: "a FHIR resource must be a JSON object") }
        var (issues, divsToNormalize) = FHIRValidator(table: table).validateNotingDivs(resource, level: .structure)
        if options.keepUnknownElements { issues.removeAll { $0.message.hasPrefix("unknown element") } }
        if let first = issues.first {
            let more = issues.count > 1 ? " (and \(issues.count - 1) more)" : ""
            throw FHIRCodecError(path: first.path, reason: first.message + more)
        }
        return divsToNormalize ? Self.normalizingDivs(resource, table: table) : resource
    }

    /// Rewrites every narrative div in the serializer's form (XHTMLDivWriter), as the XML reader writes it.
    static func normalizingDivs(_ resource: JSONObject, table: FHIRTypeTable) -> JSONObject {
        guard let name = resource["resourceType"]?.stringValue, let type = table.type(name) else { return resource }
        return normalizing(resource, type: type, table: table)
    }

    private static func normalizing(_ object: JSONObject, type: FHIRTypeTable.TypeDefinition, table: FHIRTypeTable) -> JSONObject {
        var result = JSONObject()
        for (key, value) in object.members {
            guard let member = type.member(named: key) else {
                result.appendUnchecked(key, value)
                continue
            }
            func rewrite(_ v: JSONValue) -> JSONValue {
                switch (member.resolved, v) {
                case (.primitive(let p), .string(let text)) where p.resolvedFormat == .xhtml:
                    if case .success(let normalized) = XHTMLCheck.normalize(text) { return .string(normalized) }
                    return v
                case (.complex(let i), .object(let o)):
                    return .object(normalizing(o, type: table.definitions[i], table: table))
                case (.resource, .object(let o)):
                    return .object(normalizingDivs(o, table: table))
                default:
                    return v
                }
            }
            if case .array(let items) = value {
                result.appendUnchecked(key, .array(items.map(rewrite)))
            } else {
                result.appendUnchecked(key, rewrite(value))
            }
        }
        return result
    }

    public func parse(_ text: String) throws(FHIRCodecError) -> JSONObject {
        try parse(Array(text.utf8))
    }

    /// Writes a resource as JSON (members in the order they hold).
    public func write(_ resource: JSONObject, pretty: Bool = false) -> [UInt8] {
        JSONWriter(style: pretty ? .pretty : .compact).write(.object(resource))
    }
}
