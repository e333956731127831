import FHIR
import Foundation

/// What rules read from: an HL7 v2 message, or a table row. Reads mark what they used, for the coverage report.
protocol MappingInput {
    associatedtype Cursor
    /// The place `path` names, seen from `cursor` (nil when it cannot exist there).
    mutating func cursor(_ path: SourcePath, at cursor: Cursor) -> Cursor?
    /// The same for a rule's source or a condition's path (an HL7 v2 input reads its numbers, worked out at load).
    mutating func cursor(_ ref: PathRef, at cursor: Cursor) -> Cursor?
    /// The value at a place (decoded; nil when empty or the explicit null `""`). Marks it used.
    mutating func value(at cursor: Cursor) -> String?
    /// How many repetitions the field at `cursor` has, and the cursor of one of them.
    func repetitionCount(at cursor: Cursor) -> Int
    func repetition(_ r: Int, of cursor: Cursor) -> Cursor
    /// The time zone of times without one (MSH-7's offset).
    var zone: String? { get }
    /// Resources datatype maps made on the way (the Practitioner of an XCN, the Location of a PL).
    var made: MadeResources { get set }
    /// The namespace of ids when a value names none (MSH-4, else the sender).
    var namespaceFallback: String { get }
    /// How many reads found a value: a datatype map that read nothing made nothing, whatever constants it wrote.
    var reads: Int { get set }
    /// What a made resource is reused by within this input: the same datatype map over the same text makes the same
    /// resource (the ordering provider on every OBX). Nil where reads are not marked per place (no reuse).
    func memoText(at cursor: Cursor) -> String?
    /// How many marks of used places the input holds, the marks since a count (relative to the value's place), and
    /// those marks made again at another place with the same text.
    var markCount: Int { get }
    func marks(since count: Int) -> [Int]
    mutating func replay(_ marks: [Int], at cursor: Cursor)
    /// The value at a place as sent (ER7 with its delimiters, or the column's text): what a made resource without an
    /// identifier is known by.
    func text(at cursor: Cursor) -> String
    /// The element at a place as a Narrative's XHTML div, where the input has markup of its own (a CDA narrative
    /// block); nil elsewhere, and the place's text is the narrative instead.
    mutating func narrative(at cursor: Cursor) -> String?
    /// Whether the place has no text at all, so nothing within it can be read (false where that is not cheap to
    /// know: an XML element's text says nothing of its children's).
    func isEmpty(at cursor: Cursor) -> Bool
    /// Whether the place holds anything but spaces (and, in HL7 v2, delimiters or the null `""`): what `when:` asks of
    /// a place whose first part is empty.
    func hasText(at cursor: Cursor) -> Bool
}

extension MappingInput {
    mutating func cursor(_ ref: PathRef, at cursor: Cursor) -> Cursor? { self.cursor(ref.path, at: cursor) }
    func memoText(at cursor: Cursor) -> String? { nil }
    func isEmpty(at cursor: Cursor) -> Bool { false }
    func hasText(at cursor: Cursor) -> Bool { text(at: cursor).utf8.contains { $0 != 0x20 } }
    var markCount: Int { 0 }
    func marks(since count: Int) -> [Int] { [] }
    mutating func replay(_ marks: [Int], at cursor: Cursor) {}
    mutating func narrative(at cursor: Cursor) -> String? { nil }
}

/// Resources made by datatype maps, once each by type and id, and what each datatype map made from each text.
struct MadeResources {
    struct Key: Hashable {
        var datatype: Int
        var text: String
    }

    struct Made {
        /// The reference written (nil: the value made nothing).
        var result: JSONValue?
        var marks: [Int]
        var reads: Int
    }

    var list: [JSONObject] = []
    var ids: Set<String> = []
    var memo: [Key: Made] = [:]
}

/// Applies rules to build or extend one JSON object.
struct RuleRunner {
    let plan: MappingPlan

    /// Applies the rules in order. An element a rule addresses by slot (`coding[1]`) when the slots before it are
    /// still empty is kept at that slot while the rules run, so the rules of one slot fill one element; the empty
    /// slots before it are taken out at the end (a CWE with only its alternate code has one coding).
    ///
    /// `default: true` rules come last (`pass` `.all`), or are left for the caller to apply once the input's other
    /// segments have added to the resource (`.deferringDefaults`, then `.defaultsOnly`).
    func apply<I: MappingInput>(_ rules: [Rule], at cursor: I.Cursor, into object: inout JSONObject, input: inout I, pass: Pass = .all) {
        var gaps = false
        var defaults = false
        let onlyDefaults = pass == .defaultsOnly
        for rule in rules {
            guard rule.isDefault == onlyDefaults else {
                defaults = defaults || rule.isDefault
                continue
            }
            guard rule.hasSource else {
                gaps = apply(rule, at: cursor, source: nil, into: &object, input: &input) || gaps
                continue
            }
            guard let ref = rule.source, let source = input.cursor(ref, at: cursor) else { continue }
            if rule.everyRepetition {
                let count = input.repetitionCount(at: source)
                guard count > 0 else { continue }
                for r in 1...count {
                    let rep = input.repetition(r, of: source)
                    gaps = apply(rule, at: cursor, source: rep, into: &object, input: &input) || gaps
                }
            } else {
                gaps = apply(rule, at: cursor, source: source, into: &object, input: &input) || gaps
            }
        }
        if gaps { object.removeSlotGaps() }
        if defaults && pass == .all { apply(rules, at: cursor, into: &object, input: &input, pass: .defaultsOnly) }
    }

    enum Pass {
        case all, deferringDefaults, defaultsOnly
    }

    /// Whether the rule left an empty slot before the element it wrote.
    private func apply<I: MappingInput>(_ rule: Rule, at cursor: I.Cursor, source: I.Cursor?, into object: inout JSONObject, input: inout I) -> Bool {
        if let url = rule.extensionURL, let owner = rule.extensionOwner {
            // A complex extension (the rule writes its sub-extensions) is one per owner: rules add to it.
            if owner.steps.count == 1, rule.target.steps.first?.name == "extension",
                let i = object["extension"]?.arrayValue?.firstIndex(where: { $0.objectValue?["url"]?.stringValue == url }),
                case .array(var list)? = object.take("extension"), var ext = list[i].objectValue
            {
                list[i] = .null
                let gaps = applyValue(rule, at: cursor, source: source, into: &ext, input: &input)
                list[i] = .object(ext)
                object.put("extension", .array(list))
                return gaps
            }
            var ext = JSONObject()
            ext.appendUnchecked("url", .string(url))
            var gaps = applyValue(rule, at: cursor, source: source, into: &ext, input: &input)
            if ext.count > 1 { gaps = Self.write(.object(ext), owner.steps[...], into: &object) || gaps }
            return gaps
        }
        return applyValue(rule, at: cursor, source: source, into: &object, input: &input)
    }

    /// The rule's condition, then its value written at its target (inside an extension when the caller made one).
    /// Whether the write left an empty slot.
    private func applyValue<I: MappingInput>(
        _ rule: Rule, at cursor: I.Cursor, source: I.Cursor?, into object: inout JSONObject, input: inout I
    ) -> Bool {
        if let condition = rule.condition {
            // A condition reads from where the map is applied: the segment, or the value a datatype map maps.
            guard evaluate(condition, at: cursor, fallback: cursor, input: &input) else { return false }
        }
        if let maps = rule.map {
            guard let source else { return false }
            // A datatype map reads only within the value it maps: over an empty value it can make nothing, and most
            // of the fields a segment map names are empty in any one message.
            var empty: Bool? = nil
            for map in maps {
                let datatype = plan.datatypes[map]
                if datatype.readsWithinValue {
                    if empty == nil { empty = input.isEmpty(at: source) }
                    if empty == true { continue }
                }
                if datatype.makesResource {
                    guard let reference = make(datatype, index: map, at: source, input: &input) else { continue }
                    return emit(reference, rule, into: &object)
                }
                var built = JSONObject()
                let before = input.reads
                apply(datatype.rules, at: source, into: &built, input: &input)
                if built.count > 0 && input.reads > before {
                    return emit(.object(built), rule, into: &object)
                }
            }
            return false
        }
        if case .narrative = rule.kind, case .read = rule.value, let source, let div = input.narrative(at: source) {
            return emit(ValueConversion.narrative(div: div), rule, into: &object)
        }
        let text: String?
        switch rule.value {
        case .read: text = source.flatMap { input.value(at: $0) }
        case .constant(let c): text = c
        case .format(let pieces): text = format(pieces, value: source, cursor: cursor, input: &input)
        }
        guard var text else { return false }
        if rule.base64 { text = Data(text.utf8).base64EncodedString() }
        let value: JSONValue?
        if let v = rule.vocabulary {
            value = translate(text, plan.vocabularies[v], kind: rule.kind, zone: input.zone)
        } else {
            value = ValueConversion.convert(text, as: rule.kind, zone: input.zone)
        }
        guard let value else { return false }
        if let allowed = rule.target.requiredCodes, case .string(let code) = value, !allowed.contains(code) { return false }
        return emit(value, rule, into: &object)
    }

    /// Writes a rule's value, with its `also:` constants beside it in the same new element. Whether it left an empty
    /// slot.
    private func emit(_ value: JSONValue, _ rule: Rule, into object: inout JSONObject) -> Bool {
        guard !rule.also.isEmpty else {
            return Self.write(value, rule.target.steps[...], into: &object)
        }
        let rest = rule.target.steps[rule.alsoSplit...]
        var element: JSONObject
        var gaps = false
        if rest.isEmpty {
            guard case .object(let o) = value else { return false }
            element = o
        } else {
            element = JSONObject()
            gaps = Self.write(value, rest, into: &element)
        }
        for (path, constant) in rule.also { gaps = Self.write(constant, path.steps[...], into: &element) || gaps }
        // Slots within the new element are its own: it is whole once written.
        if gaps { element.removeSlotGaps() }
        return Self.write(.object(element), rule.target.steps[..<rule.alsoSplit], into: &object)
    }

    /// The first of `paths` with a value.
    static func first<I: MappingInput>(_ paths: [SourcePath], at cursor: I.Cursor, input: inout I) -> String? {
        for p in paths {
            if let c = input.cursor(p, at: cursor), let v = input.value(at: c) { return v }
        }
        return nil
    }

    /// Builds the resource a datatype map makes, keeps it (once), and returns a reference to it. The same map over
    /// the same text again in this input gives the same reference without building it again; the places it read
    /// are marked used all the same.
    private func make<I: MappingInput>(_ datatype: DatatypeMap, index: Int, at source: I.Cursor, input: inout I) -> JSONValue? {
        let key = datatype.reusedByText ? input.memoText(at: source).map { MadeResources.Key(datatype: index, text: $0) } : nil
        if let key, let hit = input.made.memo[key] {
            input.replay(hit.marks, at: source)
            input.reads += hit.reads
            return hit.result
        }
        let marksBefore = input.markCount
        let readsBefore = input.reads
        let result = build(datatype, at: source, input: &input)
        if let key { input.made.memo[key] = .init(result: result, marks: input.marks(since: marksBefore), reads: input.reads - readsBefore) }
        return result
    }

    private func build<I: MappingInput>(_ datatype: DatatypeMap, at source: I.Cursor, input: inout I) -> JSONValue? {
        var built = JSONObject()
        built.appendUnchecked("resourceType", .string(datatype.type))
        built.appendUnchecked("id", .string(""))
        let before = input.reads
        apply(datatype.rules, at: source, into: &built, input: &input)
        guard built.count > 2, input.reads > before else { return nil }
        var id: String? = nil
        if let spec = datatype.id,
            let (value, namespace) = Self.identity(spec, at: source, scopeNamespace: nil, fallback: input.namespaceFallback, input: &input)
        {
            id = StableID.make(type: datatype.type, namespace: namespace, value: value)
        }
        let resolved = id ?? StableID.make(type: datatype.type, namespace: "map:\(datatype.name)", value: input.text(at: source))
        built.put("id", .string(resolved))
        let key = "\(datatype.type)/\(resolved)"
        if datatype.emits, input.made.ids.insert(key).inserted { input.made.list.append(built) }
        return .object(JSONObject([("reference", .string(key))]))
    }

    func evaluate<I: MappingInput>(_ c: Condition, at cursor: I.Cursor, fallback: I.Cursor, input: inout I) -> Bool {
        // A relative path reads the value at hand; any other, the segment or row (`fallback`).
        func place(_ p: PathRef) -> I.Cursor? { input.cursor(p, at: p.isRelative ? cursor : fallback) }
        func read(_ p: PathRef) -> String? { place(p).flatMap { input.value(at: $0) } }
        switch c {
        case .present(let p) where p.isXMLElement:
            // An XML element is there when it is there, text or not (`when: value` for <value code="…"/>).
            return input.cursor(p, at: p.isXMLValue ? cursor : fallback) != nil
        case .present(let p):
            guard let c = place(p) else { return false }
            if input.value(at: c) != nil { return true }
            // A field or component whose first part is empty but which has others is there too (an XCN with a name
            // and no id, `^COLLECT^JOHN`); HL7's null (`""`) is not.
            return !input.isEmpty(at: c) && input.hasText(at: c)
        case .repeats(let p): return input.cursor(p, at: fallback).map { input.repetitionCount(at: $0) > 1 } ?? false
        case .longer(let p, let n): return read(p).map { $0.count > n } ?? false
        case .form(let p, let form): return read(p).map(form.matches) ?? false
        case .equals(let p, let v): return read(p) == v
        case .notEquals(let p, let v): return read(p) != v
        case .oneOf(let p, let vs): return read(p).map { vs.contains($0) } ?? false
        case .not(let inner): return !evaluate(inner, at: cursor, fallback: fallback, input: &input)
        case .and(let a, let b):
            return evaluate(a, at: cursor, fallback: fallback, input: &input) && evaluate(b, at: cursor, fallback: fallback, input: &input)
        case .or(let a, let b):
            return evaluate(a, at: cursor, fallback: fallback, input: &input) || evaluate(b, at: cursor, fallback: fallback, input: &input)
        }
    }

    private func format<I: MappingInput>(_ pieces: [TemplatePiece], value: I.Cursor?, cursor: I.Cursor, input: inout I) -> String? {
        var out = ""
        var filled = false
        for piece in pieces {
            switch piece {
            case .text(let t): out += t
            case .value:
                if let v = value.flatMap({ input.value(at: $0) }) {
                    out += v
                    filled = true
                }
            case .valueComponent(let p):
                if let value, let v = input.cursor(p, at: value).flatMap({ input.value(at: $0) }) {
                    out += v
                    filled = true
                }
            case .path(let p):
                if let v = input.cursor(p, at: cursor).flatMap({ input.value(at: $0) }) {
                    out += v
                    filled = true
                }
            }
        }
        guard filled else { return nil }
        return Self.collapsingSpaces(out)
    }

    /// Runs of spaces as one, none at the ends (a template's empty placeholders leave no gaps); nil when nothing is left.
    static func collapsingSpaces(_ text: String) -> String? {
        let bytes = text.utf8
        var needed = bytes.first == 0x20 || bytes.last == 0x20
        if !needed {
            var previous: UInt8 = 0
            for b in bytes {
                if b == 0x20 && previous == 0x20 {
                    needed = true
                    break
                }
                previous = b
            }
        }
        guard needed else { return text.isEmpty ? nil : text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes where !(b == 0x20 && (out.isEmpty || out.last == 0x20)) { out.append(b) }
        if out.last == 0x20 { out.removeLast() }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    func translate(_ code: String, _ vocabulary: Vocabulary, kind: ValueConversion.Kind, zone: String?) -> JSONValue? {
        var system = vocabulary.system
        var mapped: (code: String, display: String?)
        if let hit = vocabulary.codes[code] {
            mapped = (hit.code, hit.display)
            if let s = hit.system { system = s }
        } else if let p = vocabulary.prefixes.first(where: { code.hasPrefix($0.prefix) }) {
            mapped = (p.format.replacingFirst("{rest}", with: String(code.dropFirst(p.prefix.count))), nil)
        } else {
            switch vocabulary.unmapped {
            case .drop: return nil
            case .default(let c, let d): mapped = (c, d)
            case .format(let f):
                let safe = code.unicodeScalars.filter { c in
                    switch c.value {
                    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F: true
                    case 0..<0x80: false
                    default: CharacterSet.alphanumerics.contains(c)
                    }
                }
                guard !safe.isEmpty else { return nil }
                mapped = (f.replacingFirst("{}", with: String(String.UnicodeScalarView(safe))), nil)
            case .keep(let keepSystem):
                mapped = (code, nil)
                system = keepSystem
            }
        }
        switch kind {
        case .coding:
            return .object(JSONObject.coding(system: system, code: mapped.code, display: mapped.display))
        case .concept:
            return .object(JSONObject.concept(system: system, code: mapped.code, display: mapped.display))
        default:
            return ValueConversion.convert(mapped.code, as: kind, zone: zone)
        }
    }

    /// Writes `value` at the path. An element already written is kept (rules are listed in order of preference);
    /// `[]` appends (a whole element equal to one already in the list is not added again), `[n]` addresses slot n:
    /// the element there, else a new one at n, after empty slots (`.null`) when the list is shorter. Returns whether
    /// it left empty slots, which ``JSONObject/removeSlotGaps()`` takes out once the element's rules have run.
    @discardableResult
    static func write(_ value: JSONValue, _ steps: ArraySlice<TargetPath.Step>, into object: inout JSONObject) -> Bool {
        guard let step = steps.first else { return false }
        let rest = steps.dropFirst()
        switch step.index {
        case .none:
            if let stem = step.choiceStem, object.members.contains(where: { $0.key != step.name && isChoice($0.key, of: stem) }) {
                return false
            }
            if rest.isEmpty {
                guard let i = object.index(of: step.name) else {
                    object.appendUnchecked(step.name, value)
                    return false
                }
                // Two rules building one element (a quantity's value, then its unit): fill in what is missing.
                guard case .object(let more) = value else { return false }
                object.modifyValue(at: i) { existing in
                    guard case .object(var element) = existing else { return }
                    existing = .null
                    for (k, v) in more.members where element.index(of: k) == nil { element.appendUnchecked(k, v) }
                    existing = .object(element)
                }
                return false
            }
            var gaps = false
            withObject(step.name, in: &object) { child in gaps = write(value, rest, into: &child) }
            return gaps
        case .append:
            var gaps = false
            withArray(step.name, in: &object) { array in
                if rest.isEmpty {
                    // A whole element equal to one already there (the same placer number from ORC-2 and OBR-2) is
                    // not written twice.
                    if case .object = value, array.contains(value) { return }
                    array.append(value)
                } else {
                    var child = JSONObject()
                    gaps = write(value, rest, into: &child)
                    array.append(.object(child))
                }
            }
            return gaps
        case .at(let n):
            var gaps = false
            withArray(step.name, in: &object) { array in
                if n < array.count {
                    guard !rest.isEmpty else {
                        if case .null = array[n] { array[n] = value }
                        return
                    }
                    var child = array[n].objectValue ?? JSONObject()
                    array[n] = .null
                    gaps = write(value, rest, into: &child)
                    array[n] = .object(child)
                    return
                }
                if n > array.count {
                    array.append(contentsOf: repeatElement(.null, count: n - array.count))
                    gaps = true
                }
                if rest.isEmpty {
                    array.append(value)
                } else {
                    var child = JSONObject()
                    gaps = write(value, rest, into: &child) || gaps
                    array.append(.object(child))
                }
            }
            return gaps
        }
    }

    /// Writes one value outside a rule list (a reference by `refs:` or `parent:`, an `into:` element), the object left
    /// without empty slots.
    static func writeWhole(_ value: JSONValue, _ steps: ArraySlice<TargetPath.Step>, into object: inout JSONObject) {
        if write(value, steps, into: &object) { object.removeSlotGaps() }
    }

    /// Changes the object member `name` in place (one search, no copy), made empty when it is missing or not an
    /// object.
    private static func withObject(_ name: String, in object: inout JSONObject, _ body: (inout JSONObject) -> Void) {
        guard let i = object.index(of: name) else {
            var child = JSONObject()
            body(&child)
            object.appendUnchecked(name, .object(child))
            return
        }
        object.modifyValue(at: i) { member in
            var child = JSONObject()
            if case .object(let o) = member { child = o }
            member = .null
            body(&child)
            member = .object(child)
        }
    }

    /// Changes the array member `name` in place (one search, no copy), made empty when it is missing or not an array.
    private static func withArray(_ name: String, in object: inout JSONObject, _ body: (inout [JSONValue]) -> Void) {
        guard let i = object.index(of: name) else {
            var array: [JSONValue] = []
            body(&array)
            object.appendUnchecked(name, .array(array))
            return
        }
        object.modifyValue(at: i) { member in
            var array: [JSONValue] = []
            if case .array(let a) = member { array = a }
            member = .null
            body(&array)
            member = .array(array)
        }
    }
}

extension JSONObject {
    /// Takes out the empty slots (`.null`) that rules writing `[n]` left in lists, at any depth, and lists left
    /// empty. Rules write no nulls of their own.
    mutating func removeSlotGaps() {
        for i in 0..<count {
            modifyValue(at: i) { $0.removeSlotGaps() }
        }
        if members.contains(where: { if case .array(let a) = $0.value { a.isEmpty } else { false } }) {
            self = JSONObject(members.filter { if case .array(let a) = $0.value { !a.isEmpty } else { true } })
        }
    }
}

extension JSONValue {
    fileprivate mutating func removeSlotGaps() {
        switch self {
        case .object(var o):
            self = .null
            o.removeSlotGaps()
            self = .object(o)
        case .array(var a):
            self = .null
            a.removeAll { if case .null = $0 { true } else { false } }
            for i in a.indices { a[i].removeSlotGaps() }
            self = .array(a)
        default:
            break
        }
    }
}

/// Whether `key` is one of the typed names of choice `stem` (`valueString` of `value`).
func isChoice(_ key: String, of stem: String) -> Bool {
    // FHIR element names are ASCII: compare bytes (String's count and Character are slow here, in the hot loop).
    let k = key.utf8, s = stem.utf8
    guard k.count > s.count, k.starts(with: s) else { return false }
    let next = k[k.index(k.startIndex, offsetBy: s.count)]
    return next >= 0x41 && next <= 0x5A
}

extension String {
    /// The text with the first occurrence of `target` replaced, compared as UTF-8 bytes (Foundation's search is slow
    /// in the hot loop of vocabularies: a prefix's `{rest}`, an unmapped code's `{}`).
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let u = utf8, t = target.utf8
        guard let head = t.first else { return self }
        var from = u.startIndex
        while let at = u[from...].firstIndex(of: head) {
            if u[at...].starts(with: t) {
                let end = u.index(at, offsetBy: t.count)
                return String(self[..<at]) + replacement + String(self[end...])
            }
            from = u.index(after: at)
        }
        return self
    }
}
