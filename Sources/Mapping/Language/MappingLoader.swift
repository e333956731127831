import Crypto
import FHIR
import Foundation

/// Loads a mapping set from its files' texts (the caller reads the folder: this target does no I/O), checking
/// everything it can before anything runs. All problems are reported together, each with file:line:column.
public enum MappingLoader {
    /// One mapping file: its path relative to the mapping folder (`segments/pid-patient.yaml`) and its text.
    public struct File: Sendable {
        public var path: String
        public var text: String

        public init(path: String, text: String) {
            self.path = path
            self.text = text
        }
    }

    public static func load(_ files: [File]) throws(MappingLoadError) -> MappingPlan {
        var compiler = Compiler()
        let sorted = files.sorted { $0.path < $1.path }
        compiler.run(sorted)
        if !compiler.diagnostics.isEmpty {
            throw MappingLoadError(diagnostics: inFileOrder(compiler.diagnostics))
        }
        var hasher = SHA256()
        for f in sorted {
            hasher.update(data: Array(f.path.utf8) + [0] + Array(f.text.utf8) + [0])
        }
        let version = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        var messageIndex: [String: Int] = [:]
        for (i, m) in compiler.messages.enumerated() { for t in m.types { messageIndex[t] = i } }
        var tableIndex: [String: Int] = [:]
        for (i, t) in compiler.tables.enumerated() { tableIndex[t.table] = i }
        var plan = MappingPlan(
            version: version, files: sorted.map(\.path), vocabularies: compiler.vocabularies, datatypes: compiler.datatypes,
            segments: compiler.segmentMaps, messages: compiler.messages, tables: compiler.tables, messageIndex: messageIndex,
            tableIndex: tableIndex)
        plan.documents = compiler.documents
        plan.warnings = inFileOrder(compiler.warnings)
        for (i, d) in compiler.documents.enumerated() { plan.documentIndex[d.root] = i }
        return plan
    }

    /// By file, then line and column: the order an engineer reads them in.
    private static func inFileOrder(_ diagnostics: [MappingDiagnostic]) -> [MappingDiagnostic] {
        diagnostics.sorted { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
    }
}

private struct Compiler {
    var diagnostics: [MappingDiagnostic] = []
    var vocabularies: [Vocabulary] = []
    var datatypes: [DatatypeMap] = []
    var segmentMaps: [SegmentMap] = []
    var messages: [MessageMap] = []
    var tables: [TableMap] = []
    var documents: [DocumentMap] = []

    var vocabularyIndex: [String: Int] = [:]
    var datatypeIndex: [String: Int] = [:]
    var segmentIndex: [String: Int] = [:]
    /// Resource groups by name: where the name is written (for a warning when no map includes it) and the
    /// `resources:` items of the `group:` file, compiled where a message map includes them.
    var groups: [String: (nameNode: YAMLNode, items: [YAMLNode])] = [:]
    /// The groups some map included.
    var includedGroups: Set<String> = []
    /// Where each segment map is defined, by index, and those some resource entry named. (Datatype maps are a
    /// library: one nothing uses yet is not a mistake.)
    var segmentFiles: [Int: YAMLNode] = [:]
    var usedSegments: Set<Int> = []
    /// What does not stop the set from loading but is probably a mistake: a group no message map includes, a segment
    /// map no resource entry names.
    var warnings: [MappingDiagnostic] = []

    enum Kind { case vocabulary, datatype, segment, message, table, document, group }

    mutating func run(_ files: [MappingLoader.File]) {
        var parsed: [(kind: Kind, node: YAMLNode)] = []
        for f in files {
            do throws(MappingDiagnostic) {
                let node = try YAMLNode.parse(f.text, file: f.path)
                let keys = (try node.entries("a mapping file")).compactMap(\.key.scalar)
                let kind: Kind
                if keys.contains("vocabulary") {
                    kind = .vocabulary
                } else if keys.contains("datatype") {
                    kind = .datatype
                } else if (keys.contains("segment") || keys.contains("element")) && keys.contains("resource") {
                    kind = .segment
                } else if keys.contains("segment") && keys.contains("type") {
                    kind = .segment
                } else if keys.contains("messages") {
                    kind = .message
                } else if keys.contains("table") {
                    kind = .table
                } else if keys.contains("document") {
                    kind = .document
                } else if keys.contains("group") {
                    kind = .group
                } else {
                    throw node.problem(
                        "a mapping file starts with one of: vocabulary:, datatype:, segment: (with resource: or type:), element: (with resource:), messages:, table:, document:, group:"
                    )
                }
                parsed.append((kind, node))
            } catch {
                diagnostics.append(error)
            }
        }
        // Names first, so files may refer to each other in any order.
        for (kind, node) in parsed {
            guard let name = try? Self.name(of: node, kind: kind) else { continue }
            switch kind {
            case .vocabulary: declare(name, in: \.vocabularyIndex, node: node, what: "vocabulary")
            case .datatype:
                declare(name, in: \.datatypeIndex, node: node, what: "datatype map")
                if let i = datatypeIndex[name], let fields = try? YAMLNode.Fields(node, what: "a datatype map") {
                    var fields = fields
                    declaredTypes[i] = (try? fields.optionalString("type")) ?? nil
                }
            case .segment:
                declare(name, in: \.segmentIndex, node: node, what: "segment map")
                if let i = segmentIndex[name], segmentFiles[i] == nil { segmentFiles[i] = node }
            case .group: declareGroup(node)
            default: break
            }
        }
        // Placeholders keep indices stable while bodies compile in any order.
        vocabularies = Array(repeating: Vocabulary(name: "", system: nil, codes: [:], prefixes: [], unmapped: .drop), count: vocabularyIndex.count)
        datatypes = Array(repeating: DatatypeMap(name: "", datatype: "", type: "", rules: []), count: datatypeIndex.count)
        segmentMaps = Array(repeating: SegmentMap(name: "", segment: "", resource: "", rules: []), count: segmentIndex.count)
        // Bodies in dependency order: vocabularies and datatype maps, then segment maps, then what uses them.
        let order: [Kind: Int] = [.vocabulary: 0, .datatype: 0, .segment: 1, .message: 2, .table: 2, .document: 2, .group: 3]
        for (kind, node) in parsed.sorted(by: { order[$0.kind]! < order[$1.kind]! }) {
            do {
                switch kind {
                case .vocabulary:
                    let v = try vocabulary(node)
                    if let i = vocabularyIndex[v.name] { vocabularies[i] = v }
                case .datatype:
                    let d = try datatype(node)
                    if let i = datatypeIndex[d.name] { datatypes[i] = d }
                case .segment:
                    let s = try segmentMap(node)
                    if let i = segmentIndex[s.name] { segmentMaps[i] = s }
                case .message: try messageMap(node)
                case .table: try tableMap(node)
                case .document: try documentMap(node)
                case .group: break  // compiled where it is included
                }
            } catch {
                diagnostics.append(error)
            }
        }
        var seenTypes: [String: String] = [:]
        for m in messages {
            for t in m.types {
                if let other = seenTypes[t] {
                    diagnostics.append(MappingDiagnostic(file: m.file, line: 0, column: 0, message: "\(t) is mapped here and in \(other)"))
                }
                seenTypes[t] = m.file
            }
        }
        for (name, group) in groups where !includedGroups.contains(name) {
            warnings.append(
                group.nameNode.problem(
                    "resource group '\(name)' is not included by any message map: add '- include: \(name)' to one, or remove the file"))
        }
        for (i, node) in segmentFiles where !usedSegments.contains(i) {
            let name = segmentMaps[i].name
            let (what, user) = segmentMaps[i].element == nil ? ("segment", "message") : ("entry", "document")
            warnings.append(node.problem("\(what) map '\(name)' is not used: no \(user) map has a resource entry with 'map: \(name)'"))
        }
    }

    static func name(of node: YAMLNode, kind: Kind) throws(MappingDiagnostic) -> String {
        var f = try YAMLNode.Fields(node, what: "the file")
        switch kind {
        case .vocabulary: return try f.requiredString("vocabulary")
        case .datatype, .segment: return try f.requiredString("name")
        default: return ""
        }
    }

    /// Reads a `group:` file: its name and its resource items, which may not include another group.
    mutating func declareGroup(_ node: YAMLNode) {
        do throws(MappingDiagnostic) {
            var f = try YAMLNode.Fields(node, what: "a resource group")
            let nameNode = try f.required("group")
            let name = try nameNode.string("group")
            let items = try f.required("resources").items()
            diagnostics += f.unknownKeys(allowed: ["group", "resources", "description"])
            var resources: [YAMLNode] = []
            for item in items {
                if Self.includeName(item) != nil {
                    diagnostics.append(item.problem("a group cannot include another group: list its resources here instead"))
                } else {
                    resources.append(item)
                }
            }
            guard groups[name] == nil else { throw nameNode.problem("resource group '\(name)' is defined twice") }
            groups[name] = (nameNode, resources)
        } catch {
            diagnostics.append(error)
        }
    }

    /// The group an item includes (`- include: NAME`), nil for any other item.
    static func includeName(_ item: YAMLNode) -> YAMLNode? {
        guard item.isMapping, let entries = try? item.entries("a resource") else { return nil }
        return entries.first { $0.key.scalar == "include" }?.value
    }

    /// A message map's resource items, each `- include: NAME` replaced in place by the group's items (compiled as if
    /// written there: names and refs resolve in the including map; errors point at the group's file).
    mutating func expandingIncludes(_ items: [YAMLNode]) -> [YAMLNode] {
        var out: [YAMLNode] = []
        for item in items {
            guard let nameNode = Self.includeName(item) else {
                out.append(item)
                continue
            }
            do throws(MappingDiagnostic) {
                var f = try YAMLNode.Fields(item, what: "an include")
                _ = f.optional("include")
                diagnostics += f.unknownKeys(allowed: ["include"])
                let name = try nameNode.string("include")
                guard let group = groups[name] else {
                    let known = groups.keys.sorted()
                    throw nameNode.problem(
                        "no resource group named '\(name)'"
                            + (known.isEmpty ? " (a group is a file with group: NAME)" : " (known: \(known.joined(separator: ", ")))"))
                }
                includedGroups.insert(name)
                out += group.items
            } catch {
                diagnostics.append(error)
            }
        }
        return out
    }

    mutating func declare(_ name: String, in index: WritableKeyPath<Compiler, [String: Int]>, node: YAMLNode, what: String) {
        if self[keyPath: index][name] != nil {
            diagnostics.append(node.problem("\(what) '\(name)' is defined twice"))
        } else {
            self[keyPath: index][name] = self[keyPath: index].count
        }
    }

    // MARK: - Vocabularies

    mutating func vocabulary(_ node: YAMLNode) throws(MappingDiagnostic) -> Vocabulary {
        var f = try YAMLNode.Fields(node, what: "a vocabulary")
        let name = try f.requiredString("vocabulary")
        let system = try f.optionalString("system")
        var codes: [String: (code: String, display: String?, system: String?)] = [:]
        if let c = f.optional("codes") {
            for (key, value) in try c.entries("codes") {
                let from = try key.string("a code")
                if codes[from] != nil { diagnostics.append(key.problem("code '\(from)' is mapped twice")) }
                if let s = value.scalar {
                    codes[from] = (s, nil, nil)
                } else {
                    var e = try YAMLNode.Fields(value, what: "a code's target")
                    codes[from] = (try e.requiredString("code"), try e.optionalString("display"), try e.optionalString("system"))
                    diagnostics += e.unknownKeys(allowed: ["code", "display", "system"])
                }
            }
        }
        var prefixes: [(String, String)] = []
        if let p = f.optional("prefixes") {
            for (key, value) in try p.entries("prefixes") {
                // The format may use {rest} (what follows the prefix), or be a code of its own.
                prefixes.append((try key.string("a prefix"), try value.string("a prefix's format")))
            }
        }
        var unmapped = Vocabulary.Unmapped.drop
        if let u = f.optional("unmapped") {
            if let s = u.scalar {
                switch s {
                case "keep": unmapped = .keep(system: nil)
                case "drop": unmapped = .drop
                default: throw u.problem("unmapped is keep, drop, {keep: SYSTEM} or {default: CODE}")
                }
            } else {
                var e = try YAMLNode.Fields(u, what: "unmapped")
                if let keep = try e.optionalString("keep") {
                    unmapped = .keep(system: keep)
                } else if let format = try e.optionalString("format") {
                    guard format.contains("{}") else { throw u.problem("unmapped: {format: …} uses {} for the code") }
                    unmapped = .format(format)
                } else if let d = try e.optionalString("default") {
                    unmapped = .default(code: d, display: try e.optionalString("display"))
                } else {
                    throw u.problem("unmapped is keep, drop, {keep: SYSTEM}, {format: TEXT} or {default: CODE, display: TEXT}")
                }
                diagnostics += e.unknownKeys(allowed: ["keep", "default", "display", "format"])
            }
        }
        diagnostics += f.unknownKeys(allowed: ["vocabulary", "system", "codes", "prefixes", "unmapped", "description", "source"])
        return Vocabulary(name: name, system: system, codes: codes, prefixes: prefixes, unmapped: unmapped)
    }

    // MARK: - Maps

    mutating func datatype(_ node: YAMLNode) throws(MappingDiagnostic) -> DatatypeMap {
        var f = try YAMLNode.Fields(node, what: "a datatype map")
        let name = try f.requiredString("name")
        let datatype = try f.requiredString("datatype")
        let typeNode = try f.required("type")
        let type = try typeNode.string("type")
        guard FHIRTypeTable.r4.type(type) != nil else { throw typeNode.problem("'\(type)' is not a FHIR R4 complex type") }
        var dialect = SourcePath.Dialect.datatype
        if let source = f.optional("source") {
            switch try source.string("source") {
            case "xml": dialect = .xml
            case "v2": dialect = .datatype
            default: throw source.problem("source is v2 (the default) or xml")
            }
        }
        let rules = try self.rules(f.required("rules"), root: type, dialect: dialect)
        var id: IDSpec? = nil
        if let idNode = f.optional("id") {
            guard FHIRTypeTable.r4.isResource(type) else { throw idNode.problem("only a map that makes a resource has an id") }
            id = try idSpec(idNode, dialect: dialect, known: [])
        }
        let emits = try f.optional("emit").map { n throws(MappingDiagnostic) in try bool(n) } ?? true
        diagnostics += f.unknownKeys(allowed: ["name", "datatype", "type", "rules", "id", "emit", "description", "source"])
        return DatatypeMap(name: name, datatype: datatype, type: type, rules: rules, id: id, emits: emits)
    }

    /// A segment map, or an entry map: `element: observation` instead of `segment:`, its paths into that XML element.
    mutating func segmentMap(_ node: YAMLNode) throws(MappingDiagnostic) -> SegmentMap {
        var f = try YAMLNode.Fields(node, what: "a segment map")
        let name = try f.requiredString("name")
        var segment = ""
        var element: String? = nil
        if let e = f.optional("element") {
            guard f.optional("segment") == nil else { throw e.problem("a map reads a segment: or an XML element:, not both") }
            let text = try e.string("element")
            guard XMLPath.isName(Substring(text)) else { throw e.problem("'\(text)' is not an XML element name") }
            element = text
        } else {
            segment = try f.requiredString("segment")
        }
        let resource: String
        var buildsElement = false
        let typeNode = f.optional("type")
        if let typeNode, element != nil {
            throw typeNode.problem("an entry map (element:) builds a resource: type: belongs in a segment map")
        }
        if let typeNode, f.optional("resource") != nil {
            throw typeNode.problem("a segment map builds a resource (resource:) or an element of a datatype (type:), not both")
        }
        if let typeNode {
            // An element map: one element of a datatype (NTE → Annotation), appended where a message map says.
            resource = try typeNode.string("type")
            guard let t = FHIRTypeTable.r4.type(resource), t.kind == .complex else {
                throw typeNode.problem("'\(resource)' is not a FHIR R4 datatype with parts of its own (Annotation, ContactPoint…)")
            }
            buildsElement = true
        } else {
            let resourceNode = try f.required("resource")
            resource = try resourceNode.string("resource")
            guard FHIRTypeTable.r4.isResource(resource) else { throw resourceNode.problem("'\(resource)' is not a FHIR R4 resource type") }
        }
        let rules = try self.rules(f.required("rules"), root: resource, dialect: element == nil ? .segment(segment) : .xml)
        diagnostics += f.unknownKeys(allowed: ["name", "segment", "element", "resource", "type", "rules", "description", "source"])
        return SegmentMap(name: name, segment: segment, resource: resource, rules: rules, element: element, buildsElement: buildsElement)
    }

    mutating func rules(_ node: YAMLNode, root: String, dialect: SourcePath.Dialect) throws(MappingDiagnostic) -> [Rule] {
        guard node.isSequence else { throw node.problem("rules is a list: each rule starts with '- '") }
        var out: [Rule] = []
        for item in node.items() {
            do {
                out.append(try rule(item, root: root, dialect: dialect))
            } catch {
                diagnostics.append(error)
            }
        }
        return out
    }

    mutating func rule(_ node: YAMLNode, root: String, dialect: SourcePath.Dialect) throws(MappingDiagnostic) -> Rule {
        var f = try YAMLNode.Fields(node, what: "a rule")
        var source: SourcePath? = nil
        if let from = f.optional("from") { source = try path(from, dialect: dialect) }
        let toNode = try f.required("to")
        var extensionURL: String? = nil
        var extensionOwner: TargetPath? = nil
        if let e = f.optional("extension") {
            extensionURL = try e.string("extension")
            let onNode = f.optional("on")
            let on = try onNode?.string("on")
            switch TargetPath.parse((on.map { $0 + "." } ?? "") + "extension[]", from: root) {
            case .success(let t): extensionOwner = t
            case .failure(let err): throw (onNode ?? e).problem(err.message)
            }
        }
        let target: TargetPath
        switch TargetPath.parse(try toNode.string("to"), from: extensionURL == nil ? root : "Extension") {
        case .success(let t): target = t
        case .failure(let e): throw toNode.problem(e.message)
        }
        var condition: Condition? = nil
        if let w = f.optional("when") { condition = try self.condition(w, dialect: dialect) }
        var value = Rule.Value.read
        if let c = f.optional("constant") {
            guard source == nil else { throw c.problem("a rule has either from: or constant:, not both") }
            value = .constant(try c.string("constant"))
        } else if let fmt = f.optional("format") {
            value = .format(try template(fmt, dialect: dialect, hasSource: source != nil))
        } else if source == nil {
            throw node.problem("a rule needs from:, constant: or format:")
        }
        var map: [Int]? = nil
        var addedRules: YAMLNode? = nil
        // `rules:` on a rule: the element its target names is built by these rules at each value of its `from:` (a
        // component per repetition of OBX-5), as if by a datatype map written in place; they read the value by
        // relative paths (.1) and the segment by absolute ones (OBX-3).
        if let nested = f.optional("rules") {
            // In a document map they read the element the rule's `from:` reaches (XML paths are relative already).
            let own: String, innerDialect: SourcePath.Dialect
            switch dialect {
            case .segment(let id): (own, innerDialect) = (id, .value(segment: id))
            case .xml: (own, innerDialect) = ("document", .xml)
            default: throw nested.problem("rules: inside a rule belongs in a segment or document map")
            }
            guard source != nil, case .read = value else { throw nested.problem("rules: inside a rule needs from: (the value it builds from)") }
            guard !f.has("vocabulary") else { throw nested.problem("a rule has either rules:, map: or vocabulary:") }
            if f.has("map") {
                // `map:` with `rules:`: added to the resource the map makes (below, once map: is checked).
                addedRules = nested
            } else {
                guard !FHIRTypeTable.r4.isPrimitive(target.type), !FHIRTypeTable.r4.isResource(target.type) else {
                    throw nested.problem("rules: build an element with parts of its own; \(target) is a \(target.type)")
                }
                let inner = try rules(nested, root: target.type, dialect: innerDialect)
                map = [datatypes.count]
                datatypes.append(
                    DatatypeMap(
                        name: "\(own) \(target) (rules at line \(nested.line))", datatype: "", type: target.type, rules: inner,
                        readsWithinValue: false))
            }
        }
        if map == nil, let list = f.optional("map") {
            var indices: [Int] = []
            for m in list.items() {
                let name = try m.string("map")
                guard let i = datatypeIndex[name] else { throw m.problem("no datatype map named '\(name)'") }
                indices.append(i)
                let mapType = datatypeType(i)
                // R4's Age, Count, Distance and Duration are Quantities with rules of their own (a map making a
                // Quantity writes them; a value they cannot take is caught by validation, not here).
                let quantityKinds: Set<String> = ["Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"]
                if let mapType, mapType != target.type, !(mapType == "Quantity" && quantityKinds.contains(target.type)) {
                    if FHIRTypeTable.r4.isResource(mapType) {
                        guard target.type == "Reference" else {
                            throw m.problem("'\(name)' makes a \(mapType) resource: write it to a Reference, not to \(target) (a \(target.type))")
                        }
                    } else {
                        throw m.problem("'\(name)' makes a \(mapType), but \(target) is a \(target.type)")
                    }
                }
            }
            map = indices
            if let addedRules {
                // The resource the datatype map makes from the value, with these rules added, which may read the
                // rest of the segment (OBX-23's Organization with OBX-24's address).
                map = [try resourceMapWithRules(indices, list, addedRules, dialect: dialect)]
            }
        }
        var vocabulary: Int? = nil
        if let v = f.optional("vocabulary") {
            let name = try v.string("vocabulary")
            guard let i = vocabularyIndex[name] else { throw v.problem("no vocabulary named '\(name)'") }
            guard map == nil else { throw v.problem("a rule has either map: or vocabulary:, not both") }
            let t = target.type
            guard FHIRTypeTable.r4.isPrimitive(t) || t == "Coding" || t == "CodeableConcept" else {
                throw v.problem("a vocabulary writes a code, a Coding or a CodeableConcept; \(target) is a \(t)")
            }
            vocabulary = i
        }
        // A Narrative takes text too: it becomes the narrative's div (a C-CDA section's title as its text).
        if map == nil && vocabulary == nil && !FHIRTypeTable.r4.isPrimitive(target.type) && target.type != "Narrative" {
            throw toNode.problem(
                "\(target) is a \(target.type): give a map: (a datatype map making a \(target.type)) or write to one of its elements")
        }
        var also: [(TargetPath, JSONValue)] = []
        var alsoSplit = 0
        if let a = f.optional("also") {
            guard let split = target.steps.firstIndex(where: { $0.index == .append }) else {
                throw a.problem("also: writes into the new element a [] makes; \(target) has no []")
            }
            alsoSplit = split + 1
            let prefix = TargetPath(steps: Array(target.steps[..<alsoSplit]), type: "").description
            guard case .success(let element) = TargetPath.parse(prefix, from: extensionURL == nil ? root : "Extension") else {
                throw a.problem("also: cannot find the element \(prefix)")
            }
            for (key, value) in try a.entries("also") {
                switch TargetPath.parse(try key.string("an element"), from: element.type) {
                case .success(let t):
                    guard FHIRTypeTable.r4.isPrimitive(t.type) else { throw key.problem("also: sets primitives; \(t) is a \(t.type)") }
                    let text = try value.string("a constant")
                    guard let v = ValueConversion.convert(text, to: t.type, zone: nil) else {
                        throw value.problem("'\(text)' is not a valid \(t.type)")
                    }
                    also.append((t, v))
                case .failure(let e): throw key.problem(e.message)
                }
            }
        }
        // `default: true`: written only where no other rule wrote: in a resource's rules, after every segment of the
        // input that adds to that resource (a later OBR's intent or AIS's status before the ORC's or SCH's constant);
        // in a datatype map, after its other rules.
        let isDefault = try f.optional("default").map { n throws(MappingDiagnostic) in try bool(n) } ?? false
        var base64 = false
        if let e = f.optional("encode") {
            guard try e.string("encode") == "base64" else { throw e.problem("encode: base64 is the one encoding") }
            base64 = true
        }
        diagnostics += f.unknownKeys(allowed: [
            "from", "to", "when", "constant", "format", "map", "vocabulary", "extension", "on", "also", "encode", "note", "source", "rules",
            "default",
        ])
        var every = false
        if case .segment(_, let levels) = source, levels.count == 1, target.appends || extensionOwner != nil { every = true }
        if case .xml = source, target.appends || extensionOwner != nil { every = true }
        return Rule(
            source: source, target: target, condition: condition, value: value, map: map, vocabulary: vocabulary, everyRepetition: every,
            extensionURL: extensionURL, extensionOwner: extensionOwner, also: also, alsoSplit: alsoSplit, base64: base64,
            isDefault: isDefault)
    }

    /// `{from: OBX-23, to: performer[], map: XON-Organization, rules: [...]}`: a copy of the resource-making datatype map
    /// (`indices`, checked against the rule's target as any map: is) with the rule's own rules after its own, reading
    /// the value (relative paths) and the segment (absolute ones). Its resources are not reused by text, since the
    /// rest of the segment may differ.
    mutating func resourceMapWithRules(
        _ indices: [Int], _ m: YAMLNode, _ nested: YAMLNode, dialect: SourcePath.Dialect
    ) throws(MappingDiagnostic) -> Int {
        guard case .segment(let id) = dialect else {
            throw nested.problem("rules: with map: add to the resource a datatype map makes in a segment map's rule (they read the segment)")
        }
        guard let i = indices.first, indices.count == 1 else { throw m.problem("rules: with map: take one datatype map") }
        let base = datatypes[i]
        let name = m.scalar ?? ""
        guard !base.type.isEmpty else { throw m.problem("datatype map '\(name)' could not be loaded (see its own error)") }
        guard base.makesResource else {
            throw nested.problem(
                "rules: with map: add to the resource a datatype map makes; '\(name)' makes a \(base.type) (write the element's own rules in the map)"
            )
        }
        let inner = try rules(nested, root: base.type, dialect: .value(segment: id))
        datatypes.append(
            DatatypeMap(
                // Its name is the map's: a resource without an identifier is known by the map's name and the text.
                name: base.name, datatype: base.datatype, type: base.type, rules: base.rules + inner,
                id: base.id, emits: base.emits, readsWithinValue: base.readsWithinValue, reusedByText: false))
        return datatypes.count - 1
    }

    /// The FHIR type a datatype map makes, when its file has been read (names are known before bodies).
    func datatypeType(_ i: Int) -> String? {
        if !datatypes[i].type.isEmpty { return datatypes[i].type }
        return declaredTypes[i]
    }

    var declaredTypes: [Int: String] = [:]

    func path(_ node: YAMLNode, dialect: SourcePath.Dialect) throws(MappingDiagnostic) -> SourcePath {
        switch SourcePath.parse(try node.string("a path"), dialect: dialect) {
        case .success(let p): return p
        case .failure(let e): throw node.problem(e.message)
        }
    }

    func paths(_ node: YAMLNode, dialect: SourcePath.Dialect) throws(MappingDiagnostic) -> [SourcePath] {
        var out: [SourcePath] = []
        for item in node.items() { out.append(try path(item, dialect: dialect)) }
        return out
    }

    func condition(_ node: YAMLNode, dialect: SourcePath.Dialect) throws(MappingDiagnostic) -> Condition {
        switch Condition.parse(try node.string("when"), dialect: dialect) {
        case .success(let c): return c
        case .failure(let e): throw node.problem(e.message)
        }
    }

    func template(_ node: YAMLNode, dialect: SourcePath.Dialect, hasSource: Bool) throws(MappingDiagnostic) -> [TemplatePiece] {
        let text = try node.string("format")
        var pieces: [TemplatePiece] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { pieces.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { throw node.problem("format '\(text)' has a '{' without '}'") }
            let inner = rest[rest.index(after: open)..<close]
            if inner.isEmpty {
                guard hasSource else { throw node.problem("format '\(text)' uses {} but the rule has no from:") }
                pieces.append(.value)
            } else {
                // In a segment map, {.2} reads a component of the rule's from: value.
                var ofValue = false
                if case .segment = dialect, inner.hasPrefix("."), hasSource { ofValue = true }
                switch SourcePath.parse(String(inner), dialect: ofValue ? .datatype : dialect) {
                case .success(let p): pieces.append(ofValue ? .valueComponent(p) : .path(p))
                case .failure(let e): throw node.problem("in format '\(text)': \(e.message)")
                }
            }
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    // MARK: - Message and table maps

    mutating func messageMap(_ node: YAMLNode) throws(MappingDiagnostic) {
        var f = try YAMLNode.Fields(node, what: "a message map")
        let typesNode = try f.required("messages")
        var types: [String] = []
        for item in typesNode.items() {
            let t = try item.string("a message type")
            let parts = t.split(separator: "^")
            guard parts.count == 2, parts[0].count == 3, parts[1] == "*" || parts[1].count == 3 else {
                throw item.problem("'\(t)' is not a message type: write ADT^A01 (or ADT^* for every trigger)")
            }
            types.append(t)
        }
        let name = try f.optionalString("name") ?? node.file
        let resourcesNode = try f.required("resources")
        var resources: [ResourceDefinition] = []
        for item in expandingIncludes(resourcesNode.items()) {
            do {
                resources.append(try resourceDefinition(item, known: resources, kind: .message))
            } catch {
                diagnostics.append(error)
            }
        }
        diagnostics += f.unknownKeys(allowed: ["messages", "name", "resources", "description"])
        messages.append(MessageMap(name: name, file: node.file, types: types, resources: resources))
    }

    mutating func documentMap(_ node: YAMLNode) throws(MappingDiagnostic) {
        var f = try YAMLNode.Fields(node, what: "a document map")
        let root = try f.requiredString("document")
        let name = try f.optionalString("name") ?? node.file
        var condition: Condition? = nil
        if let w = f.optional("when") { condition = try self.condition(w, dialect: .xml) }
        let resourcesNode = try f.required("resources")
        var resources: [ResourceDefinition] = []
        for item in resourcesNode.items() {
            do {
                resources.append(try resourceDefinition(item, known: resources, kind: .document))
            } catch {
                diagnostics.append(error)
            }
        }
        diagnostics += f.unknownKeys(allowed: ["document", "name", "when", "resources", "description"])
        if documents.contains(where: { $0.root == root }) {
            diagnostics.append(node.problem("\(root) documents are mapped twice"))
        }
        documents.append(DocumentMap(name: name, file: node.file, root: root, condition: condition, resources: resources))
    }

    mutating func tableMap(_ node: YAMLNode) throws(MappingDiagnostic) {
        var f = try YAMLNode.Fields(node, what: "a table map")
        let table = try f.requiredString("table")
        let resourcesNode = try f.required("resources")
        var resources: [ResourceDefinition] = []
        for item in resourcesNode.items() {
            do {
                resources.append(try resourceDefinition(item, known: resources, kind: .table))
            } catch {
                diagnostics.append(error)
            }
        }
        diagnostics += f.unknownKeys(allowed: ["table", "resources", "description"])
        tables.append(TableMap(table: table, file: node.file, resources: resources))
    }

    enum ResourceSource { case message, table, document }

    mutating func resourceDefinition(
        _ node: YAMLNode, known: [ResourceDefinition], kind: ResourceSource
    ) throws(MappingDiagnostic)
        -> ResourceDefinition
    {
        let table = kind != .message
        var each: [SourcePath] = []
        var f = try YAMLNode.Fields(node, what: "a resource")
        var segment: String? = nil
        var resource: String
        var rules: [Rule] = []
        let intoNode = f.optional("into")
        // `into: name`, or in a message map `into: [name, other]` (the nearest built above the segment).
        var intoNames: [String] = []
        if let intoNode {
            if intoNode.isSequence && !table {
                for item in intoNode.items() { intoNames.append(try item.string("a resource name")) }
                guard !intoNames.isEmpty else { throw intoNode.problem("into: [] names no resource") }
            } else {
                intoNames = [try intoNode.string("into")]
            }
        }
        let into = intoNames.first
        var intoTargets: [ResourceDefinition] = []
        for name in intoNames {
            guard let t = known.last(where: { $0.name == name && $0.into == nil }) else {
                throw intoNode!.problem("into: '\(name)' names no resource defined above this one")
            }
            intoTargets.append(t)
        }
        let intoTarget = intoTargets.first
        // A segment map of an element (`type:`) the entry takes with map: its name, its datatype, the map: node.
        var elementMap: (String, String, YAMLNode)? = nil
        let dialect: SourcePath.Dialect
        if table {
            dialect = kind == .document ? .xml : .table
            if kind == .document {
                // One path, or a list: the elements any of them reaches (an observation alone or in an organizer).
                let e = try f.required("each")
                for item in e.isSequence ? e.items() : [e] { each.append(try path(item, dialect: .xml)) }
                guard !each.isEmpty else { throw e.problem("each: [] names no element") }
            }
            if let m = f.optional("map") {
                // An entry map (`element:`): its rules first, then this entry's own.
                guard kind == .document else { throw m.problem("map: in a table map is not supported: a table's resources take rules:") }
                let name = try m.string("map")
                guard let i = segmentIndex[name] else { throw m.problem("no entry map named '\(name)'") }
                usedSegments.insert(i)
                let map = segmentMaps[i]
                guard !map.resource.isEmpty else { throw m.problem("entry map '\(name)' could not be loaded (see its own error)") }
                guard let element = map.element else {
                    throw m.problem("'\(name)' maps \(map.segment) segments: a document map uses an entry map (element:)")
                }
                for path in each {
                    if case .xml(let p) = path, p.attribute == nil, let last = p.steps.last, last.name != element {
                        throw m.problem("'\(name)' maps \(element) elements; each: '\(p)' reaches \(last.name) elements")
                    }
                }
                if let r = f.optional("resource"), try r.string("resource") != map.resource {
                    throw r.problem("'\(name)' builds \(map.resource) resources; drop resource: or name \(map.resource)")
                }
                resource = map.resource
                rules = map.rules
            } else if let intoTarget, f.optional("resource") == nil {
                resource = intoTarget.resource
            } else {
                let r = try f.required("resource")
                resource = try r.string("resource")
                guard FHIRTypeTable.r4.isResource(resource) else { throw r.problem("'\(resource)' is not a FHIR R4 resource type") }
            }
        } else {
            let s = try f.requiredString("segment")
            segment = s
            dialect = .segment(s)
            if let m = f.optional("map") {
                let name = try m.string("map")
                guard let i = segmentIndex[name] else { throw m.problem("no segment map named '\(name)'") }
                usedSegments.insert(i)
                let map = segmentMaps[i]
                if let element = map.element {
                    throw m.problem("'\(name)' maps XML \(element) elements: a message map uses a segment map")
                }
                if !map.segment.isEmpty {
                    guard map.segment == s else { throw m.problem("'\(name)' maps \(map.segment) segments, not \(s)") }
                }
                guard !map.resource.isEmpty else { throw m.problem("segment map '\(name)' could not be loaded (see its own error)") }
                if map.buildsElement {
                    // Its rules build the element `element:` appends to the `into:` resource; checked there.
                    guard let intoTarget, f.optional("element") != nil else {
                        throw m.problem("'\(name)' builds \(map.resource) elements, not a resource: use it with into: and element: (note[])")
                    }
                    resource = intoTarget.resource
                    elementMap = (name, map.resource, m)
                } else {
                    resource = map.resource
                }
                rules = map.rules
            } else if let r = f.optional("resource") {
                resource = try r.string("resource")
                guard FHIRTypeTable.r4.isResource(resource) else { throw r.problem("'\(resource)' is not a FHIR R4 resource type") }
            } else if let intoTarget {
                resource = intoTarget.resource
            } else {
                throw node.problem("a resource needs map: (a segment map) or resource: (with rules:)")
            }
        }
        if let intoTarget, intoTarget.resource != resource {
            throw node.problem("into: '\(intoTarget.name)' is a \(intoTarget.resource); this builds a \(resource)")
        }
        // `element:` (with `into:`): the rules build one new element appended there, per segment (an NK1 → one
        // Patient.contact); their paths start at that element.
        var element: TargetPath? = nil
        if let e = f.optional("element") {
            guard let intoTarget, kind != .table else {
                throw e.problem("element: goes with into: in a message or document map (the element of that resource to append to)")
            }
            if elementMap == nil, f.optional("map") != nil {
                throw e.problem(
                    "element: takes rules:, or map: of a segment map that builds an element (type: Annotation); this one's paths start at a resource")
            }
            let text = try e.string("element")
            switch TargetPath.parse(text, from: intoTarget.resource) {
            case .success(let t):
                guard t.steps.last?.index == .append, FHIRTypeTable.r4.type(t.type) != nil else {
                    throw e.problem("element: '\(text)' must name a repeating element with parts of its own, with [] (contact[])")
                }
                element = t
                if let (name, type, m) = elementMap, t.type != type {
                    throw m.problem("'\(name)' builds \(type) elements; element: '\(text)' is \(t.type)")
                }
            case .failure(let why):
                throw e.problem(why.message)
            }
            // Every resource listed must have this element, of the same type (the rules are checked against it once).
            for other in intoTargets.dropFirst() {
                guard case .success(let t) = TargetPath.parse(text, from: other.resource), t.type == element?.type else {
                    throw e.problem("element: '\(text)' is not the same element in \(other.resource) ('\(other.name)') as in \(intoTarget.resource)")
                }
            }
        } else if let other = intoTargets.first(where: { $0.resource != intoTargets[0].resource }) {
            throw intoNode!.problem(
                "into: lists a \(intoTargets[0].resource) and a \(other.resource) ('\(other.name)'): give element: (the element they share, note[])")
        }
        // `within: NAME` (with `into:`): only the into resources in the segment's group, from an instance of NAME on.
        var within: String? = nil
        if let w = f.optional("within") {
            guard into != nil, !table else {
                throw w.problem("within: goes with into: in a message map (the resource whose segment opens the group)")
            }
            let group = try w.string("within")
            guard known.contains(where: { $0.name == group && $0.into == nil }) else {
                throw w.problem("within: '\(group)' names no resource defined above this one")
            }
            within = group
        }
        if let r = f.optional("rules") { rules += try self.rules(r, root: element?.type ?? resource, dialect: dialect) }
        let name = try f.optionalString("name") ?? into ?? ""
        guard !name.isEmpty else { throw node.problem("a resource needs a name: (other resources refer to it by that name)") }

        var id: IDSpec? = nil
        if let idNode = f.optional("id") {
            guard into == nil else { throw idNode.problem("a resource merged into another has that one's id") }
            id = try idSpec(idNode, dialect: dialect, known: known)
        }
        var condition: Condition? = nil
        if let w = f.optional("when") { condition = try self.condition(w, dialect: dialect) }
        let required = try f.optional("required").map { n throws(MappingDiagnostic) in try bool(n) } ?? false
        let requiredPaths = try f.optional("require").map { n throws(MappingDiagnostic) in try paths(n, dialect: dialect) } ?? []
        var refs: [(TargetPath, String)] = []
        var enclosed: [(TargetPath, [String])] = []
        if let r = f.optional("refs") {
            for (key, value) in try r.entries("refs") {
                let target = try referenceTarget(key, root: element?.type ?? resource)
                if value.isSequence {
                    // `entry[]: [problem, allergy]`: every one of those built from an element inside this one.
                    guard kind == .document else {
                        throw value.problem("refs: with a list of names belongs in a document map (the resources made inside this element)")
                    }
                    // Each resource its own element: the reference appended (entry[]), or in an element appended
                    // (diagnosis[].condition).
                    guard target.steps.contains(where: { $0.index == .append }) else {
                        throw key.problem(
                            "refs: \(target) takes every resource of the names listed: end it with [] (entry[]) or go through one (diagnosis[].condition)"
                        )
                    }
                    var names: [String] = []
                    for item in value.items() {
                        let other = try item.string("a resource name")
                        guard known.contains(where: { $0.name == other && $0.into == nil }) else {
                            throw item.problem("refs: '\(other)' names no resource of this map defined above this one")
                        }
                        names.append(other)
                    }
                    enclosed.append((target, names))
                    continue
                }
                let other = try value.string("a resource name")
                guard known.contains(where: { $0.name == other }) || other == name else {
                    throw value.problem("refs: '\(other)' names no resource of this map (defined above this one)")
                }
                refs.append((target, other))
            }
        }
        var parent: (String, TargetPath)? = nil
        if let p = f.optional("parent") {
            var g = try YAMLNode.Fields(p, what: "parent")
            let resNode = try g.required("resource")
            let other = try resNode.string("resource")
            guard let parentDef = known.last(where: { $0.name == other && $0.into == nil }) else {
                throw resNode.problem("parent: '\(other)' names no resource defined above this one")
            }
            let target = try referenceTarget(try g.required("element"), root: parentDef.resource)
            diagnostics += g.unknownKeys(allowed: ["resource", "element"])
            parent = (other, target)
        }
        var needs: [String] = []
        if let n = f.optional("needs") {
            for item in n.items() {
                let element = try item.string("an element")
                // `effective[x]`: any of a choice element's types will do.
                let stem = element.hasSuffix("[x]") ? String(element.dropLast(3)) : nil
                let known =
                    if let stem {
                        FHIRTypeTable.r4.type(resource)?.elements.contains { $0.name == stem && $0.isChoice } ?? false
                    } else {
                        FHIRTypeTable.r4.type(resource)?.element(named: element) != nil
                    }
                guard known else { throw item.problem("\(resource) has no element '\(element)'") }
                needs.append(element)
            }
        }
        /// `unless:` and `follows:`: a segment name or a list of them.
        func segmentNames(_ key: String) throws(MappingDiagnostic) -> Set<String> {
            guard let u = f.optional(key) else { return [] }
            guard !table else { throw u.problem("\(key): names segments; it belongs in a message map") }
            var names: Set<String> = []
            for item in u.isSequence ? u.items() : [u] {
                let id = try item.string("a segment name")
                guard id.count == 3, id.allSatisfy({ $0.isUppercase || $0.isNumber }) else {
                    throw item.problem("\(key): '\(id)' is not a segment name (three letters or digits, SPM)")
                }
                names.insert(id)
            }
            guard !names.isEmpty else { throw u.problem("\(key): [] names no segment") }
            return names
        }
        let unless = try segmentNames("unless")
        let follows = try segmentNames("follows")
        if let segment, follows.contains(segment) {
            throw f.optional("follows")!.problem("follows: names the segments above a \(segment) other than \(segment)s; drop \(segment)")
        }
        let stored = try f.optional("stored").map { n throws(MappingDiagnostic) in try bool(n) } ?? true
        var merges = false
        if let m = f.optional("merge") {
            merges = try bool(m)
            guard !merges || (kind == .message && into == nil && id != nil) else {
                throw m.problem("merge: true goes with id: on a resource a message map builds (segments that give the same id add to it)")
            }
        }
        diagnostics += f.unknownKeys(allowed: [
            "name", "segment", "each", "map", "resource", "rules", "into", "element", "within", "id", "when", "required", "require", "refs",
            "parent", "needs", "stored", "unless", "follows", "merge", "description",
        ])
        var definition = ResourceDefinition(
            name: name, segment: segment, resource: resource, rules: rules, intoNames: intoNames, id: id, condition: condition, required: required,
            requiredPaths: requiredPaths, refs: refs, parent: parent)
        definition.needs = needs
        definition.each = each
        definition.stored = stored
        definition.element = element
        definition.within = within
        definition.unless = unless
        definition.follows = follows
        definition.merges = merges
        definition.enclosed = enclosed
        return definition
    }

    func idSpec(_ idNode: YAMLNode, dialect: SourcePath.Dialect, known: [ResourceDefinition]) throws(MappingDiagnostic) -> IDSpec {
        var g = try YAMLNode.Fields(idNode, what: "id")

        // `constant:` instead of `value:`: one resource per scope (the patient's living will), whatever it holds.
        var value: [SourcePath] = []
        var constant: String? = nil
        if let c = g.optional("constant") {
            guard g.optional("value") == nil else { throw c.problem("an id takes value: (paths) or constant:, not both") }
            constant = try c.string("constant")
        } else {
            value = try paths(g.required("value"), dialect: dialect)
        }
        let with = try g.optional("with").map { n throws(MappingDiagnostic) in try paths(n, dialect: dialect) } ?? []
        let namespace = try g.optional("namespace").map { n throws(MappingDiagnostic) in try paths(n, dialect: dialect) } ?? []
        var scope: String? = nil
        if let s = g.optional("scope") {
            let n = try s.string("scope")
            guard known.contains(where: { $0.name == n && $0.into == nil }) else {
                throw s.problem("scope: '\(n)' names no resource defined above this one")
            }
            scope = n
        }
        let required = try g.optional("required").map { n throws(MappingDiagnostic) in try bool(n) } ?? false
        let unknown = g.unknownKeys(allowed: ["value", "constant", "with", "namespace", "scope", "required"])
        if let first = unknown.first { throw first }
        return IDSpec(value: value, with: with, namespace: namespace, scope: scope, required: required, constant: constant)
    }

    func referenceTarget(_ node: YAMLNode, root: String) throws(MappingDiagnostic) -> TargetPath {
        switch TargetPath.parse(try node.string("an element"), from: root) {
        case .success(let t):
            guard t.type == "Reference" else { throw node.problem("\(root).\(t) is a \(t.type), not a Reference") }
            return t
        case .failure(let e): throw node.problem(e.message)
        }
    }

    func bool(_ node: YAMLNode) throws(MappingDiagnostic) -> Bool {
        switch try node.string("a yes/no value") {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw node.problem("write true or false")
        }
    }
}
