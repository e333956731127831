import FHIR

/// An XML document as rules read it. A cursor is the elements a path reached (each one a "repetition") and the
/// attribute it names; reads mark the (element, attribute) they used, for the coverage report.
struct XMLInput: MappingInput {
    struct Cursor {
        var elements: [XMLElement]
        var index = 0
        var attribute: String? = nil

        var element: XMLElement? { index < elements.count ? elements[index] : nil }
    }

    let zone: String? = nil
    let namespaceFallback: String
    var used: Set<Place> = []
    var made = MadeResources()
    var reads = 0

    struct Place: Hashable {
        var element: ObjectIdentifier
        var attribute: String?
    }

    init(namespaceFallback: String) {
        self.namespaceFallback = namespaceFallback
    }

    func cursor(_ path: SourcePath, at c: Cursor) -> Cursor? {
        guard case .xml(let p) = path, let from = c.element else { return nil }
        if p.steps.isEmpty { return Cursor(elements: [from], attribute: p.attribute) }
        let found = p.elements(from: from)
        return found.isEmpty ? nil : Cursor(elements: found, attribute: p.attribute)
    }

    mutating func value(at c: Cursor) -> String? {
        guard let e = c.element, let v = XMLPath.value(of: e, attribute: c.attribute) else { return nil }
        used.insert(Place(element: ObjectIdentifier(e), attribute: c.attribute))
        reads += 1
        return v
    }

    /// An element as a Narrative's div: a CDA narrative block converted to XHTML (``CDANarrative``).
    mutating func narrative(at c: Cursor) -> String? {
        guard c.attribute == nil, let e = c.element, let div = CDANarrative.xhtml(e) else { return nil }
        used.insert(Place(element: ObjectIdentifier(e), attribute: nil))
        reads += 1
        return div
    }

    func text(at c: Cursor) -> String {
        guard let e = c.element else { return "" }
        func render(_ e: XMLElement) -> String {
            "<\(e.name)" + e.attributes.map { " \($0.name)=\"\($0.value)\"" }.joined() + ">" + e.text + e.children.map(render).joined()
        }
        return render(e)
    }

    /// An attribute is there when it has a value (`when: "@extension"`); the element's own rendering says nothing of
    /// one attribute (it had made every `when: "@…"` hold).
    func hasText(at c: Cursor) -> Bool {
        guard let e = c.element else { return false }
        if let a = c.attribute { return XMLPath.value(of: e, attribute: a)?.utf8.contains { $0 != 0x20 } ?? false }
        return text(at: c).utf8.contains { $0 != 0x20 }
    }

    func repetitionCount(at c: Cursor) -> Int { c.elements.count }

    func repetition(_ r: Int, of c: Cursor) -> Cursor {
        var out = c
        out.index = r - 1
        return out
    }
}

/// Runs a document map over one XML document.
struct DocumentExecutor {
    let plan: MappingPlan

    func run(_ root: XMLElement, context: MappingContext) throws(MappingError) -> (resources: [JSONObject], coverage: CoverageReport) {
        guard let index = plan.documentIndex[root.name] else {
            throw MappingError(.unmappedType, location: "<\(root.name)>", reason: "no mapping for \(root.name) documents in the mapping set")
        }
        let map = plan.documents[index]
        var input = XMLInput(namespaceFallback: context.sender)
        let runner = RuleRunner(plan: plan)
        let rootCursor = XMLInput.Cursor(elements: [root])
        if let c = map.condition, !runner.evaluate(c, at: rootCursor, fallback: rootCursor, input: &input) {
            throw MappingError(
                .unmappedType, location: "<\(root.name)>", reason: "the document is not one \(map.name) maps (its condition does not hold)")
        }
        // Document order, for "the nearest resource before this element", and where each element's descendants end
        // (the positions inside it run up to that), for `refs:` to the resources made inside an element.
        var order: [ObjectIdentifier: Int] = [:]
        var ends: [ObjectIdentifier: Int] = [:]
        func number(_ e: XMLElement) {
            order[ObjectIdentifier(e)] = order.count
            for c in e.children { number(c) }
            ends[ObjectIdentifier(e)] = order.count
        }
        number(root)
        let documentID = [XMLPath.parse("id/@root"), XMLPath.parse("id/@extension")].compactMap { try? $0.get().firstValue(from: root) }.joined(
            separator: "^")
        let documentNamespace = "document:\(context.sender)|\(documentID)"

        var instances = InstanceSet()
        // Elements a resource was not made of for want of a required element (`needs:`), for the coverage report.
        var dropped: Set<String> = []
        for (d, definition) in map.resources.enumerated() {
            let paths = definition.each.compactMap { p -> XMLPath? in if case .xml(let x) = p { x } else { nil } }
            guard let each = paths.first else { continue }
            var found: [XMLElement] = []
            for path in paths { found += path.steps.isEmpty ? [root] : path.elements(from: root) }
            if paths.count > 1 {
                // In document order, an element two paths reach once.
                var seen: Set<ObjectIdentifier> = []
                found = found.filter { seen.insert(ObjectIdentifier($0)).inserted }.sorted {
                    order[ObjectIdentifier($0)] ?? 0 < order[ObjectIdentifier($1)] ?? 0
                }
            }
            if definition.required && found.isEmpty {
                throw MappingError(.missingRequired, location: each.description, reason: "\(map.name) documents are mapped only with this element")
            }
            for (occurrence, element) in found.enumerated() {
                let cursor = XMLInput.Cursor(elements: [element])
                let position = order[ObjectIdentifier(element)] ?? 0
                if let c = definition.condition, !runner.evaluate(c, at: cursor, fallback: cursor, input: &input) { continue }
                for p in definition.requiredPaths where RuleRunner.first([p], at: cursor, input: &input) == nil {
                    throw MappingError(
                        .missingRequired, location: "\(each.description) line \(element.line): \(p)", reason: "\(definition.name) needs this value")
                }
                let end = ends[ObjectIdentifier(element)] ?? position
                if let into = definition.into {
                    guard let target = instances.nearest(into, to: position) else { continue }
                    guard let path = definition.element else {
                        runner.apply(definition.rules, at: cursor, into: &instances[target].object, input: &input)
                        continue
                    }
                    // `element:`: one new element appended there (a section of the Composition).
                    var built = JSONObject()
                    runner.apply(definition.rules, at: cursor, into: &built, input: &input)
                    instances.writeEnclosed(definition.enclosed, from: position, to: end, into: &built)
                    if built.count > 0 { RuleRunner.writeWhole(.object(built), path.steps[...], into: &instances[target].object) }
                    continue
                }
                var identified: String? = nil
                if let spec = definition.id {
                    let scope = spec.scope.flatMap { s in instances.nearest(s, to: position).map { instances[$0].id } }
                    if let (value, namespace) = RuleRunner.identity(spec, at: cursor, scopeNamespace: scope, fallback: context.sender, input: &input)
                    {
                        identified = StableID.make(type: definition.resource, namespace: namespace, value: value)
                    } else if spec.required {
                        throw MappingError(
                            .missingRequired, location: "\(each.description) line \(element.line)",
                            reason: "the \(definition.resource) has no identifier to derive a stable id from")
                    }
                }
                // Without an identifying value: the input's own id and the segment's place (a resend gives the same).
                let id = instances.unique(
                    identified
                        ?? StableID.make(type: definition.resource, namespace: documentNamespace, value: "\(definition.name)|\(occurrence + 1)"),
                    type: definition.resource)
                var object = JSONObject()
                object.appendUnchecked("resourceType", .string(definition.resource))
                object.appendUnchecked("id", .string(id))
                runner.apply(definition.rules, at: cursor, into: &object, input: &input)
                instances.writeEnclosed(definition.enclosed, from: position, to: end, into: &object)
                if let missing = definition.missingNeed(in: object) {
                    dropped.insert("\(each.steps.isEmpty ? root.name : each.description) (no \(definition.resource).\(missing))")
                    continue
                }
                instances.add(
                    .init(definition: d, position: position, resource: definition.resource, id: id, object: object), name: definition.name)
            }
        }
        instances.link(map.resources)
        var resources = instances.all.map(\.object)
        for made in input.made.list where !instances.contains("\(made["resourceType"]?.stringValue ?? "")/\(made["id"]?.stringValue ?? "")") {
            resources.append(made)
        }
        var report = Self.coverage(root, used: input.used)
        if !dropped.isEmpty { report.unmapped = (report.unmapped + dropped).sorted() }
        return (resources, report)
    }

    /// Values of the document no rule read, by element path (`recordTarget/patientRole/patient/religiousAffiliationCode/@code`).
    /// Narrative, template and type ids, and the structural attributes of CDA (class, mood and type codes, code system
    /// names beside their OIDs, xsi:type) are not data and are not counted.
    static let structuralElements: Set<String> = ["text", "templateId", "typeId", "realmCode", "reference"]
    static let structuralAttributes: Set<String> = [
        "classCode", "moodCode", "typeCode", "codeSystemName", "type", "contextControlCode", "contextConductionInd", "determinerCode",
        "schemaLocation",
    ]
    static func coverage(_ root: XMLElement, used: Set<XMLInput.Place>) -> CoverageReport {
        var report = CoverageReport()
        var unmapped: Set<String> = []
        func walk(_ e: XMLElement, _ path: String) {
            if structuralElements.contains(e.name) { return }
            for a in e.attributes where !a.value.isEmpty && !structuralAttributes.contains(a.name) {
                report.values += 1
                if used.contains(XMLInput.Place(element: ObjectIdentifier(e), attribute: a.name)) {
                    report.mappedValues += 1
                } else {
                    unmapped.insert("\(path)/@\(a.name)")
                }
            }
            if e.children.isEmpty, e.text.contains(where: { !$0.isWhitespace }) {
                report.values += 1
                if used.contains(XMLInput.Place(element: ObjectIdentifier(e), attribute: nil)) {
                    report.mappedValues += 1
                } else {
                    unmapped.insert(path)
                }
            }
            for c in e.children { walk(c, path.isEmpty ? c.name : "\(path)/\(c.name)") }
        }
        for c in root.children { walk(c, c.name) }
        report.unmapped = unmapped.sorted()
        return report
    }
}
