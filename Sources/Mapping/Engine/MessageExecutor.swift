import FHIR
import HL7v2

/// Runs a message map over one message: one resource per segment a resource is built from, merges, ids, references.
struct MessageExecutor {
    let plan: MappingPlan

    func run(_ message: Message, context: MappingContext) throws(MappingError) -> (resources: [JSONObject], coverage: CoverageReport) {
        let (resources, coverage, _) = try runAll(message, context: context)
        return (resources, coverage)
    }

    func runAll(
        _ message: Message, context: MappingContext
    ) throws(MappingError) -> (
        resources: [JSONObject], coverage: CoverageReport, unstored: Set<String>
    ) {
        let code = message.messageCode ?? ""
        let trigger = message.triggerEvent ?? ""
        let type = "\(code)^\(trigger)"
        guard let index = plan.messageIndex[type] ?? plan.messageIndex["\(code)^*"] else {
            throw MappingError(
                .unmappedType, location: "MSH-9", reason: "no mapping for \(code.isEmpty ? "this message" : type) in the mapping set")
        }
        let map = plan.messages[index]
        let msh = message.segment(at: 0)
        let facility = msh.value(field: 4).flatMap { $0.isEmpty ? nil : $0 }
        let namespaceFallback = facility ?? context.sender
        var input = V2Input(message: message, namespaceFallback: namespaceFallback)
        // What the engine itself reads: the sender, the time zone, the type and the control id.
        for field in [3, 4, 7, 9, 10] { input.used.append(V2Mark.make(segment: 0, field: field, repetition: 1, component: 1)) }
        input.used.append(V2Mark.make(segment: 0, field: 9, repetition: 1, component: 2))
        input.used.append(V2Mark.make(segment: 0, field: 9, repetition: 1, component: 3))
        let runner = RuleRunner(plan: plan)

        var positions: [String: [Int]] = [:]
        for p in 0..<message.segmentCount { positions[message.segment(at: p).id, default: []].append(p) }
        let messageNamespace = "message:\(namespaceFallback)|\(message.controlID ?? "")"

        var instances = InstanceSet()
        var dropped: Set<String> = []
        // `default: true` rules, applied once every segment has added to its resource: the instance, the definition
        // and the segment.
        var defaults: [(instance: Int, definition: Int, cursor: V2Input.Cursor)] = []

        for (d, definition) in map.resources.enumerated() {
            guard let segmentID = definition.segment else { continue }
            let found = positions[segmentID] ?? []
            if definition.required && found.isEmpty {
                throw MappingError(.missingRequired, location: segmentID, reason: "\(type) is mapped only with a \(segmentID) segment")
            }
            let hasDefaults = definition.hasDefaults  // a walk of its rules: once per definition, not per segment
            for (occurrence, position) in found.enumerated() {
                if !definition.unless.isEmpty {
                    let next = occurrence + 1 < found.count ? found[occurrence + 1] : message.segmentCount
                    if (position + 1..<next).contains(where: { definition.unless.contains(message.segment(at: $0).id) }) { continue }
                }
                if !definition.follows.isEmpty {
                    var above = position - 1
                    while above >= 0, Self.passedOver(message.segment(at: above).id, by: segmentID) { above -= 1 }
                    guard above >= 0, definition.follows.contains(message.segment(at: above).id) else { continue }
                }
                let cursor = V2Input.Cursor(segment: position)
                if let c = definition.condition, !runner.evaluate(c, at: cursor, fallback: cursor, input: &input) { continue }
                for p in definition.requiredPaths where RuleRunner.first([p], at: cursor, input: &input) == nil {
                    throw MappingError(
                        .missingRequired, location: Self.location(p, occurrence: occurrence + 1, of: found.count),
                        reason: "\(definition.name) needs this value")
                }
                if let into = definition.into {
                    // The nearest of the names above the segment; else, as for every name, the first (an OUL's OBR comes before
                    // its ORC).
                    let target =
                        if let group = definition.within {
                            instances.nearest(definition.intoNames, within: group, to: position)
                        } else {
                            instances.nearestBefore(definition.intoNames, to: position) ?? instances.nearest(into, to: position)
                        }
                    guard let target else { continue }
                    // Its refs: name resources built above (the Condition of the same DG1 for the Encounter's diagnosis).
                    if let element = definition.element {
                        var built = JSONObject()
                        runner.apply(definition.rules, at: cursor, into: &built, input: &input)
                        for (path, reference) in instances.references(definition.refs, at: position) {
                            RuleRunner.writeWhole(reference, path.steps[...], into: &built)
                        }
                        if built.count > 0 { RuleRunner.writeWhole(.object(built), element.steps[...], into: &instances[target].object) }
                    } else {
                        runner.apply(definition.rules, at: cursor, into: &instances[target].object, input: &input, pass: .deferringDefaults)
                        if hasDefaults { defaults.append((target, d, cursor)) }
                        for (path, reference) in instances.references(definition.refs, at: position) {
                            RuleRunner.writeWhole(reference, path.steps[...], into: &instances[target].object)
                        }
                    }
                    continue
                }
                var identified: String? = nil
                if let spec = definition.id {
                    let scope = spec.scope.map { s in instances.nearest(s, to: position).map { instances[$0].id } ?? messageNamespace }
                    if let (value, namespace) = RuleRunner.identity(
                        spec, at: cursor, scopeNamespace: scope, fallback: namespaceFallback, input: &input)
                    {
                        identified = StableID.make(type: definition.resource, namespace: namespace, value: value)
                    } else if spec.required {
                        throw MappingError(
                            .missingRequired, location: Self.location(spec.value[0], occurrence: occurrence + 1, of: found.count),
                            reason: "the \(definition.resource) has no identifier to derive a stable id from")
                    }
                }
                // `merge: true`: a segment identifying a resource already built adds to it.
                if definition.merges, let identified, let existing = instances.index(of: definition.resource, id: identified) {
                    runner.apply(definition.rules, at: cursor, into: &instances[existing].object, input: &input, pass: .deferringDefaults)
                    if hasDefaults { defaults.append((existing, d, cursor)) }
                    continue
                }
                // Two segments identifying the same thing in one message (the same OBX code twice) keep apart ids.
                // Without an identifying value: the input's own id and the segment's place (a resend gives the same).
                let id = instances.unique(
                    identified
                        ?? StableID.make(type: definition.resource, namespace: messageNamespace, value: "\(definition.name)|\(occurrence + 1)"),
                    type: definition.resource)
                var object = JSONObject()
                object.appendUnchecked("resourceType", .string(definition.resource))
                object.appendUnchecked("id", .string(id))
                runner.apply(definition.rules, at: cursor, into: &object, input: &input, pass: .deferringDefaults)
                if let missing = definition.missingNeed(in: object) {
                    dropped.insert("\(segmentID) (no \(definition.resource).\(missing))")
                    continue
                }
                if hasDefaults { defaults.append((instances.all.count, d, cursor)) }
                instances.add(
                    .init(definition: d, position: position, resource: definition.resource, id: id, object: object), name: definition.name)
            }
        }
        for (i, d, cursor) in defaults {
            runner.apply(map.resources[d].rules, at: cursor, into: &instances[i].object, input: &input, pass: .defaultsOnly)
        }
        // References once every resource has its id.
        instances.link(map.resources)
        var resources = instances.all.sorted { ($0.position, $0.definition) < ($1.position, $1.definition) }.map(\.object)
        // Resources made by datatype maps follow, unless a segment built the same one.
        for made in input.made.list where !instances.contains("\(made["resourceType"]?.stringValue ?? "")/\(made["id"]?.stringValue ?? "")") {
            resources.append(made)
        }
        var report = coverage(message, used: input.used, mapped: Set(map.resources.compactMap(\.segment)))
        if !dropped.isEmpty { report.unmapped = Self.sortedPlaces(report.unmapped + dropped) }
        let unstored = Set(instances.all.filter { !map.resources[$0.definition].stored }.map { "\($0.resource)/\($0.id)" })
        return (resources, report, unstored)
    }

    /// What `follows:` looks past to find the segment above: others of the same type, and the segments that attach to
    /// the one before them and never open a group (ARV access restrictions, NTE notes, ROL roles, PRT participations).
    static func passedOver(_ id: String, by segment: String) -> Bool {
        id == segment || id == "ARV" || id == "NTE" || id == "ROL" || id == "PRT"
    }

    static func location(_ path: SourcePath, occurrence: Int, of count: Int) -> String {
        guard case .segment(let id, let levels) = path else { return path.description }
        let field = levels.map(String.init).joined(separator: ".")
        return count > 1 ? "\(id)[\(occurrence)]-\(field)" : "\(id)-\(field)"
    }

    private func coverage(_ message: Message, used marks: [Int], mapped: Set<String>) -> CoverageReport {
        var report = CoverageReport()
        let sorted = marks.sorted()
        // Per segment, what rules read: a bit per field and component below 64 of a field's first repetition, a set
        // for the rest (every repetition is a value of its own: a second OBX-5 nobody read is not mapped).
        var bits = [UInt64](repeating: 0, count: 64)
        var beyond: Set<Int> = []
        var k = 0
        // Unmapped places as marks with the segment name's index for the position, named once at the end.
        var names: [String] = []
        var nameIndex: [String: Int] = [:]
        var unmapped: Set<Int> = []
        var unmappedSegments: Set<String> = []
        for p in 0..<message.segmentCount {
            for i in bits.indices { bits[i] = 0 }
            beyond.removeAll(keepingCapacity: true)
            while k < sorted.count, V2Mark.segment(sorted[k]) < p { k += 1 }
            while k < sorted.count, V2Mark.segment(sorted[k]) == p {
                let m = sorted[k]
                let field = V2Mark.field(m), repetition = V2Mark.repetition(m), component = V2Mark.component(m)
                if field < 64 && component < 64 && repetition == 1 {
                    bits[field] |= 1 << UInt64(component)
                } else {
                    beyond.insert(V2Mark.make(segment: 0, field: field, repetition: repetition, component: component))
                }
                k += 1
            }
            let segment = message.segment(at: p)
            let id = segment.id
            let built = mapped.contains(id) || p == 0
            var name = -1
            var any = false
            segment.forEachValuedComponent { field, repetition, component in
                report.values += 1
                let read =
                    field < 64 && component < 64 && repetition == 1
                    ? bits[field] & (1 << UInt64(component)) != 0
                    : beyond.contains(V2Mark.make(segment: 0, field: field, repetition: repetition, component: component))
                if read {
                    report.mappedValues += 1
                } else if built {
                    if name < 0 {
                        if let n = nameIndex[id] {
                            name = n
                        } else {
                            name = names.count
                            nameIndex[id] = name
                            names.append(id)
                        }
                    }
                    unmapped.insert(V2Mark.make(segment: name, field: field, repetition: repetition, component: component))
                } else {
                    any = true
                }
            }
            if any && !built { unmappedSegments.insert(id) }
        }
        // In place order (``placeKey``), sorted as numbers before they become text: a whole segment before its fields.
        var keyed: [((String, Int, Int, Int), Int)] = unmappedSegments.map { (($0, 0, 0, 0), -1) }
        keyed.reserveCapacity(unmappedSegments.count + unmapped.count)
        for u in unmapped {
            let component = V2Mark.component(u)
            keyed.append(((names[V2Mark.segment(u)], V2Mark.field(u), V2Mark.repetition(u), component == 1 ? 0 : component), u))
        }
        keyed.sort { $0.0 < $1.0 }
        report.unmapped = keyed.map { key, u in
            guard u >= 0 else { return key.0 }
            let repetition = V2Mark.repetition(u), component = V2Mark.component(u)
            let r = repetition > 1 ? "[\(repetition)]" : ""
            return component == 1 ? "\(key.0)-\(key.1)\(r)" : "\(key.0)-\(key.1)\(r).\(component)"
        }
        return report
    }

    /// A place's sort key: PID-2 before PID-10; PID-3, PID-3.4, then PID-3[2] and PID-3[2].4 (PID-3's second
    /// repetition).
    static func placeKey(_ s: String) -> (String, Int, Int, Int) {
        let parts = s.split(separator: "-", maxSplits: 1)
        guard parts.count == 2 else { return (s, 0, 0, 0) }
        let levels = parts[1].split(separator: ".")
        var fieldText = levels.first ?? ""
        var repetition = 1
        if let open = fieldText.firstIndex(of: "["), fieldText.last == "]" {
            repetition = Int(fieldText[fieldText.index(after: open)..<fieldText.index(before: fieldText.endIndex)]) ?? 1
            fieldText = fieldText[..<open]
        }
        let component = levels.count > 1 ? Int(levels[1]) ?? 0 : 0
        return (String(parts[0]), Int(fieldText) ?? 0, repetition, component)
    }

    /// Sorted in place order, each key computed once.
    static func sortedPlaces(_ places: some Sequence<String>) -> [String] {
        places.map { (placeKey($0), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
