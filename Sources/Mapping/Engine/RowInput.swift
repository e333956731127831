import FHIR

/// A table row as rules read it: column names and their text values (SQL NULL absent).
struct RowInput: MappingInput {
    struct Cursor {
        var column: String?
    }

    let row: [String: String]
    let zone: String? = nil
    var used: Set<String> = []
    var made = MadeResources()
    var reads = 0
    let namespaceFallback: String

    func cursor(_ path: SourcePath, at c: Cursor) -> Cursor? {
        guard case .column(let name) = path else { return nil }
        return Cursor(column: name)
    }

    mutating func value(at c: Cursor) -> String? {
        guard let name = c.column, let v = row[name], !v.isEmpty else { return nil }
        used.insert(name)
        reads += 1
        return v
    }

    func text(at c: Cursor) -> String {
        if let name = c.column { return row[name] ?? "" }
        return row.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "|")
    }

    func repetitionCount(at c: Cursor) -> Int { c.column.map { row[$0] == nil ? 0 : 1 } ?? 0 }
    func repetition(_ r: Int, of c: Cursor) -> Cursor { c }
}

/// Runs a table map over one row.
struct TableExecutor {
    let plan: MappingPlan

    func run(
        _ row: [String: String], table: String, context: MappingContext
    ) throws(MappingError) -> (
        resources: [JSONObject], coverage: CoverageReport
    ) {
        guard let index = plan.tableIndex[table] else {
            throw MappingError(.unmappedType, location: "table \(table)", reason: "no mapping for rows of table \(table) in the mapping set")
        }
        let map = plan.tables[index]
        var input = RowInput(row: row, namespaceFallback: context.sender)
        let runner = RuleRunner(plan: plan)
        let cursor = RowInput.Cursor(column: nil)
        var objects: [(name: String, resource: String, id: String, object: JSONObject)] = []
        for definition in map.resources {
            if let c = definition.condition, !runner.evaluate(c, at: cursor, fallback: cursor, input: &input) { continue }
            for p in definition.requiredPaths where RuleRunner.first([p], at: cursor, input: &input) == nil {
                throw MappingError(.missingRequired, location: "column \(p)", reason: "\(definition.name) needs this column")
            }
            if let into = definition.into, let i = objects.lastIndex(where: { $0.name == into }) {
                runner.apply(definition.rules, at: cursor, into: &objects[i].object, input: &input)
                continue
            }
            guard let spec = definition.id else {
                throw MappingError(
                    .missingRequired, location: "table \(table)", reason: "\(definition.name) has no id: rule (a row has no message id)")
            }
            let scope = spec.scope.flatMap { s in objects.last { $0.name == s }?.id }
            guard let (value, namespace) = RuleRunner.identity(spec, at: cursor, scopeNamespace: scope, fallback: context.sender, input: &input)
            else {
                throw MappingError(
                    .missingRequired, location: "column \(spec.value.first?.description ?? "?")",
                    reason: "the \(definition.resource) has no identifier to derive a stable id from")
            }
            let id = StableID.make(type: definition.resource, namespace: namespace, value: value)
            var object = JSONObject()
            object.appendUnchecked("resourceType", .string(definition.resource))
            object.appendUnchecked("id", .string(id))
            runner.apply(definition.rules, at: cursor, into: &object, input: &input)
            objects.append((definition.name, definition.resource, id, object))
        }
        for i in objects.indices {
            guard let definition = map.resources.first(where: { $0.name == objects[i].name && $0.into == nil }) else { continue }
            for (target, name) in definition.refs {
                guard let other = objects.last(where: { $0.name == name }), other.id != objects[i].id else { continue }
                RuleRunner.writeWhole(
                    .object(JSONObject([("reference", .string("\(other.resource)/\(other.id)"))])), target.steps[...], into: &objects[i].object)
            }
        }
        let present = row.filter { !$0.value.isEmpty }.keys
        let unmapped = present.filter { !input.used.contains($0) }.sorted().map { "column \($0)" }
        return (
            objects.map(\.object) + input.made.list,
            CoverageReport(unmapped: unmapped, values: present.count, mappedValues: present.count - unmapped.count)
        )
    }
}
