import FHIR

/// The resources one map builds from one input (a message, a document), by name: how `into`, `scope`, `refs` and
/// `parent` find the instance they mean, and how two instances identifying the same thing keep apart ids.
struct InstanceSet {
    struct Instance {
        var definition: Int
        /// Where in the input it was built (segment position, element order): "nearest before" is by this.
        var position: Int
        var resource: String
        var id: String
        var object: JSONObject

        var reference: JSONValue { .object(JSONObject([("reference", .string("\(resource)/\(id)"))])) }
    }

    private(set) var all: [Instance] = []
    /// Each name's instances in the order of their positions, whichever definitions built them (an OBR's Specimen and
    /// an SPM's share a name): "nearest before" and "the first" read these lists in that order.
    private var byName: [String: [Int]] = [:]
    private var keys: Set<String> = []

    subscript(i: Int) -> Instance {
        get { all[i] }
        set { all[i] = newValue }
    }

    /// The instance of `name` nearest before `position` (each OBX belongs to the OBR above it), else the first.
    func nearest(_ name: String, to position: Int) -> Int? {
        guard let list = byName[name], !list.isEmpty else { return nil }
        return list.last { all[$0].position <= position } ?? list.first
    }

    /// The instance of one of `names` nearest before `position` (none when every one comes after): an NTE listed
    /// `into: [observation, order]` after an OBR notes the order, not the result above the order.
    func nearestBefore(_ names: [String], to position: Int) -> Int? {
        var best: Int? = nil
        for name in names {
            guard let i = byName[name]?.last(where: { all[$0].position <= position }) else { continue }
            if best.map({ all[i].position > all[$0].position }) ?? true { best = i }
        }
        return best
    }

    /// The instance of one of `names` in the group of `position`: the positions from the nearest instance of `group`
    /// at or before it to the next one (the whole input when there is none). The nearest before `position` in the
    /// group, else the nearest after it; nil when the group has none.
    func nearest(_ names: [String], within group: String, to position: Int) -> Int? {
        let opens = (byName[group] ?? []).map { all[$0].position }
        let start = opens.last { $0 <= position } ?? Int.min
        let end = opens.first { $0 > position } ?? Int.max
        var before: Int? = nil
        var after: Int? = nil
        for name in names {
            for i in byName[name] ?? [] {
                let p = all[i].position
                guard p >= start, p < end else { continue }
                if p <= position {
                    if before.map({ p > all[$0].position }) ?? true { before = i }
                } else if after.map({ p < all[$0].position }) ?? true {
                    after = i
                }
            }
        }
        return before ?? after
    }

    /// `id`, or, when this input already made a `type` with that id (the same OBX code twice), one derived from it.
    mutating func unique(_ id: String, type: String) -> String {
        var id = id
        var n = 1
        let base = id
        while keys.contains("\(type)/\(id)") {
            n += 1
            id = StableID.make(type: type, namespace: base, value: String(n))
        }
        keys.insert("\(type)/\(id)")
        return id
    }

    /// The instance with this type and id, if there is one.
    func index(of resource: String, id: String) -> Int? { all.firstIndex { $0.resource == resource && $0.id == id } }

    /// Whether an instance has this `Type/id` (a made resource the input also built from a segment is not added twice).
    func contains(_ key: String) -> Bool { keys.contains(key) }

    mutating func add(_ instance: Instance, name: String) {
        var list = byName.removeValue(forKey: name) ?? []
        // One definition's instances come in position order; another's may start before them.
        let at = list.lastIndex { all[$0].position <= instance.position }.map { $0 + 1 } ?? 0
        list.insert(all.count, at: at)
        byName[name] = list
        all.append(instance)
    }

    /// An `into:` segment's `refs:`, resolved when it is applied: each names the nearest instance built so far.
    func references(_ refs: [(target: TargetPath, resource: String)], at position: Int) -> [(TargetPath, JSONValue)] {
        refs.compactMap { target, name in nearest(name, to: position).map { (target, all[$0].reference) } }
    }

    /// Writes a reference to every instance of the names of each of `enclosed` built inside the positions after
    /// `start` up to `end` (an element's descendants), in document order.
    func writeEnclosed(_ enclosed: [(target: TargetPath, names: [String])], from start: Int, to end: Int, into object: inout JSONObject) {
        for (target, names) in enclosed {
            let inside = names.flatMap { byName[$0] ?? [] }.filter { all[$0].position > start && all[$0].position < end }
            for i in inside.sorted(by: { all[$0].position < all[$1].position }) {
                RuleRunner.writeWhole(all[i].reference, target.steps[...], into: &object)
            }
        }
    }

    /// Writes every `refs:` and `parent:` reference, once all instances have their ids.
    mutating func link(_ definitions: [ResourceDefinition]) {
        for i in all.indices {
            let d = all[i].definition
            for (target, name) in definitions[d].refs {
                guard let other = nearest(name, to: all[i].position), other != i else { continue }
                RuleRunner.writeWhole(all[other].reference, target.steps[...], into: &all[i].object)
            }
            if let parent = definitions[d].parent, let p = nearest(parent.resource, to: all[i].position), p != i {
                RuleRunner.writeWhole(all[i].reference, parent.target.steps[...], into: &all[p].object)
            }
        }
    }
}

extension RuleRunner {
    /// What an `id:` spec identifies at `cursor`: the first of its values with one (joined with its `with:` values),
    /// and the namespace: the scope's, else the first namespace path with a value, else `fallback`. Nil when no value
    /// path has a value.
    static func identity<I: MappingInput>(
        _ spec: IDSpec, at cursor: I.Cursor, scopeNamespace: String?, fallback: String, input: inout I
    ) -> (value: String, namespace: String)? {
        guard var value = spec.constant ?? first(spec.value, at: cursor, input: &input) else { return nil }
        for w in spec.with { value += "|" + (first([w], at: cursor, input: &input) ?? "") }
        return (value, scopeNamespace ?? first(spec.namespace, at: cursor, input: &input) ?? fallback)
    }
}
