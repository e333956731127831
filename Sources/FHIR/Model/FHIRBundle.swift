/// A `Bundle` of any type, with references between its entries resolved the way the specification says
/// (Bundle "Resolving references in Bundles"): absolute URLs and `urn:uuid:`/`urn:oid:` references match an entry's
/// `fullUrl`; a relative reference (`Patient/123`) is resolved against the base of the referring entry's `fullUrl`
/// when that is a RESTful URL, else matched by resource type and id.
public struct FHIRBundle: Sendable {
    public static let types: Set<String> = [
        "document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection",
    ]

    public struct Entry: Sendable {
        public var index: Int
        public var fullUrl: String?
        public var resource: JSONObject?
    }

    /// One `Reference.reference` found in an entry's resource.
    public struct Reference: Sendable, Hashable {
        public var entry: Int
        /// Where it is, FHIRPath style (`Observation.subject`).
        public var path: String
        public var reference: String
    }

    public let bundle: JSONObject
    public let entries: [Entry]
    private let byFullUrl: [String: Int]
    private let byTypeAndID: [String: Int]

    public init(_ bundle: JSONObject) throws(FHIRCodecError) {
        guard bundle["resourceType"] == .string("Bundle") else { throw FHIRCodecError(reason: "not a Bundle") }
        guard case .string(let type)? = bundle["type"], Self.types.contains(type) else {
            throw FHIRCodecError(path: "Bundle.type", reason: "a Bundle needs a type, one of \(Self.types.sorted().joined(separator: ", "))")
        }
        self.bundle = bundle
        var entries: [Entry] = []
        var byFullUrl: [String: Int] = [:]
        var byTypeAndID: [String: Int] = [:]
        for (i, value) in (bundle["entry"]?.arrayValue ?? []).enumerated() {
            let object = value.objectValue
            let fullUrl = object?["fullUrl"]?.stringValue
            let resource = object?["resource"]?.objectValue
            entries.append(Entry(index: i, fullUrl: fullUrl, resource: resource))
            if let fullUrl { byFullUrl[fullUrl] = byFullUrl[fullUrl] ?? i }
            if let type = resource?["resourceType"]?.stringValue, let id = resource?["id"]?.stringValue {
                byTypeAndID[type + "/" + id] = byTypeAndID[type + "/" + id] ?? i
            }
        }
        self.entries = entries
        self.byFullUrl = byFullUrl
        self.byTypeAndID = byTypeAndID
    }

    public var type: String { bundle["type"]?.stringValue ?? "" }

    /// The entry a reference made from entry `from` points at, or `nil` when it is not in the bundle.
    public func resolve(_ reference: String, from: Int? = nil) -> Entry? {
        let target = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? reference
        if target.isEmpty { return from.map { entries[$0] } }  // "#id": a contained resource of the same entry
        if target.hasPrefix("urn:") || target.contains("://") {
            return byFullUrl[target].map { entries[$0] }
        }
        // Relative: against the referring entry's base when it has a RESTful fullUrl.
        if let from, let base = entries[from].fullUrl, let scheme = Self.schemeEnd(base) {
            // http://server/fhir/Patient/1 → http://server/fhir/ + target
            let parts = base[scheme...].split(separator: "/", omittingEmptySubsequences: false)
            if parts.count >= 3, let hit = byFullUrl[String(base[..<scheme]) + parts.dropLast(2).joined(separator: "/") + "/" + target] {
                return entries[hit]
            }
        }
        let typeAndID = target.split(separator: "/").suffix(2).joined(separator: "/")
        return byTypeAndID[typeAndID].map { entries[$0] }
    }

    /// The index just past `://` in a URL.
    static func schemeEnd(_ url: String) -> String.Index? {
        var i = url.startIndex
        while i < url.endIndex {
            if url[i...].hasPrefix("://") { return url.index(i, offsetBy: 3) }
            i = url.index(after: i)
        }
        return nil
    }

    /// Every `Reference.reference` in every entry's resource, found through the type table.
    public func references(table: FHIRTypeTable = .r4) -> [Reference] {
        var found: [Reference] = []
        for entry in entries {
            guard let resource = entry.resource, let name = resource["resourceType"]?.stringValue, let type = table.type(name) else { continue }
            Self.collect(resource, type: type, path: name, entry: entry.index, table: table, into: &found)
        }
        return found
    }

    /// References that point into the bundle's own namespace (`urn:uuid:`, `urn:oid:`) but match no entry.
    public func unresolvedLocalReferences(table: FHIRTypeTable = .r4) -> [Reference] {
        references(table: table).filter {
            ($0.reference.hasPrefix("urn:uuid:") || $0.reference.hasPrefix("urn:oid:")) && resolve($0.reference, from: $0.entry) == nil
        }
    }

    private static func collect(
        _ object: JSONObject, type: FHIRTypeTable.TypeDefinition, path: String, entry: Int, table: FHIRTypeTable, into found: inout [Reference]
    ) {
        for (key, value) in object.members {
            guard let (_, _, typeName) = type.element(named: key) else { continue }
            let items = value.arrayValue ?? [value]
            for item in items {
                guard case .object(let child) = item else { continue }
                if typeName == "Reference", case .string(let ref)? = child["reference"] {
                    found.append(Reference(entry: entry, path: path + "." + key, reference: ref))
                }
                if typeName == "Resource", let n = child["resourceType"]?.stringValue, let t = table.type(n) {
                    collect(child, type: t, path: path + "." + key, entry: entry, table: table, into: &found)
                } else if let t = table.type(typeName) {
                    collect(child, type: t, path: path + "." + key, entry: entry, table: table, into: &found)
                }
            }
        }
    }
}
