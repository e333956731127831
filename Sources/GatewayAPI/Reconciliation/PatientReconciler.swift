import FHIR

/// Who is one person across sources, and what their records say together: the pure part of reconciliation.
///
/// Records are linked when they share an identifier (its system, or else its assigner, with its value; only the
/// configured systems when some are configured) or when one names the other in `Patient.link` (a merge). The view
/// takes every element from every linked record: repeating elements are joined (each value with the records that
/// sent it); single-valued elements that disagree are a **conflict**, shown with every value and the one the
/// precedence chooses (the first configured sender that sent one, else the most recent record) — never overwritten.
public enum PatientReconciler {
    public struct Record: Sendable {
        public var reference: String
        public var resource: JSONObject
        /// The sender (MSH-3^MSH-4, a feed client, a poller), the message, when stored, the mapping set.
        public var sender: String
        public var sourceReference: String?
        public var storedAt: String
        public var mappingVersion: String?
        public var integrity: String?
        public var lastUpdated: Int64

        public init(
            reference: String, resource: JSONObject, sender: String, sourceReference: String?, storedAt: String, mappingVersion: String?,
            integrity: String?, lastUpdated: Int64
        ) {
            self.reference = reference
            self.resource = resource
            self.sender = sender
            self.sourceReference = sourceReference
            self.storedAt = storedAt
            self.mappingVersion = mappingVersion
            self.integrity = integrity
            self.lastUpdated = lastUpdated
        }
    }

    public struct Configuration: Sendable {
        /// Identifier systems (or, for identifiers without one, assigning authority names such as `SSA`) that identify
        /// a person across sources; empty: every identifier with a system or an assigning authority.
        public var identifierSystems: [String]
        /// Senders in order of trust, for conflicts (prefixes of MSH-3^MSH-4 or source names).
        public var precedence: [String]

        /// Pairs of records (`Patient/a`, `Patient/b`) an operator has said are not the same person: never linked
        /// to each other directly (a third record linked to both still joins them, and says so).
        public var unlinked: Set<[String]>

        public init(identifierSystems: [String] = [], precedence: [String] = [], unlinked: [[String]] = []) {
            self.identifierSystems = identifierSystems
            self.precedence = precedence
            self.unlinked = Set(unlinked.filter { $0.count == 2 }.map { $0.sorted() })
        }

        func mayLink(_ a: String, _ b: String) -> Bool { !unlinked.contains([a, b].sorted()) }
    }

    public struct Conflict: Sendable {
        public var element: String
        /// Each distinct value with the records that sent it.
        public var values: [(value: JSONValue, records: [String])]
        public var chosen: JSONValue
        public var rule: String
    }

    public struct View: Sendable {
        public var patient: JSONObject
        /// Element → where each of its values came from.
        public var elements: [(element: String, values: [(value: JSONValue, records: [String])])]
        public var conflicts: [Conflict]
    }

    /// The identity keys of a Patient: `system|value` (or `authority:NAME|value` without a system) for each identifier
    /// that counts.
    public static func identityKeys(_ patient: JSONObject, configuration: Configuration) -> [String] {
        var keys: [String] = []
        for identifier in patient["identifier"]?.arrayValue ?? [] {
            guard let o = identifier.objectValue, let value = o["value"]?.stringValue else { continue }
            if let system = o["system"]?.stringValue {
                if configuration.identifierSystems.isEmpty || configuration.identifierSystems.contains(system) {
                    keys.append("\(system)|\(value)")
                }
            } else if let assigner = o["assigner"]?.objectValue,
                let authority = assigner["display"]?.stringValue ?? assigner["reference"]?.stringValue
            {
                // No system: the assigning authority by name (HD-1: SSA, a hospital's namespace) stands for it.
                if configuration.identifierSystems.isEmpty || configuration.identifierSystems.contains(authority) {
                    keys.append("authority:\(authority)|\(value)")
                }
            }
        }
        return keys
    }

    /// Groups of linked records (each group sorted by reference; groups in order of their first member).
    public static func groups(_ records: [Record], configuration: Configuration) -> [[Record]] {
        var parent = Array(records.indices)
        func find(_ i: Int) -> Int {
            var i = i
            while parent[i] != i {
                parent[i] = parent[parent[i]]
                i = parent[i]
            }
            return i
        }
        func union(_ a: Int, _ b: Int) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        var byReference: [String: Int] = [:]
        for (i, r) in records.enumerated() { byReference[r.reference] = i }
        var byKeyAll: [String: [Int]] = [:]
        for (i, r) in records.enumerated() {
            for key in identityKeys(r.resource, configuration: configuration) {
                for j in byKeyAll[key, default: []] where configuration.mayLink(r.reference, records[j].reference) { union(i, j) }
                byKeyAll[key, default: []].append(i)
            }
            for link in r.resource["link"]?.arrayValue ?? [] {
                if let other = link.objectValue?["other"]?.objectValue?["reference"]?.stringValue, let j = byReference[other],
                    configuration.mayLink(r.reference, other)
                {
                    union(i, j)
                }
            }
        }
        var out: [Int: [Record]] = [:]
        var order: [Int] = []
        for i in records.indices {
            let root = find(i)
            if out[root] == nil { order.append(root) }
            out[root, default: []].append(records[i])
        }
        return order.map { out[$0]!.sorted { $0.reference < $1.reference } }
    }

    static let skipped: Set<String> = ["resourceType", "id", "meta", "text"]

    /// The reconciled view of one group.
    public static func view(_ records: [Record], configuration: Configuration) -> View {
        let ordered = records.sorted { $0.reference < $1.reference }
        var names: [String] = []
        for r in ordered { for key in r.resource.keys where !skipped.contains(key) && !names.contains(key) { names.append(key) } }
        var patient = JSONObject([
            ("resourceType", .string("Patient")), ("id", .string(String(ordered.first?.reference.split(separator: "/").last ?? ""))),
        ])
        var elements: [(String, [(JSONValue, [String])])] = []
        var conflicts: [Conflict] = []
        var chosen: [String: JSONValue] = [:]
        let repeating = FHIRTypeTable.r4.type("Patient")
        /// Repeating elements join their values; a single-valued one takes its only value, or the precedence's choice
        /// and a conflict.
        func decide(_ name: String, _ values: [(JSONValue, [String])]) {
            if repeating?.element(named: name)?.element.repeats ?? false {
                chosen[name] = .array(values.map(\.0))
            } else if values.count == 1 {
                chosen[name] = values[0].0
            } else if !values.isEmpty {
                let (value, rule) = choose(values, records: ordered, configuration: configuration)
                chosen[name] = value
                conflicts.append(Conflict(element: name, values: values, chosen: value, rule: rule))
            }
        }
        for name in names {
            var values: [(JSONValue, [String])] = []
            func add(_ v: JSONValue, _ from: String) {
                if let i = values.firstIndex(where: { $0.0.isEquivalent(to: v) }) {
                    if !values[i].1.contains(from) { values[i].1.append(from) }
                } else {
                    values.append((v, [from]))
                }
            }
            for r in ordered {
                guard let v = r.resource[name] else { continue }
                if case .array(let items) = v { for item in items { add(item, r.reference) } } else { add(v, r.reference) }
            }
            elements.append((name, values))
            if !name.hasPrefix("_") { decide(name, values) }
        }
        // A primitive's own element (`_birthDate`: the birth time beside the date) goes with the value chosen for the
        // primitive, from the records that sent that value: never one source's date with another's time.
        for (name, values) in elements where name.hasPrefix("_") {
            let base = String(name.dropFirst())
            guard let value = chosen[base], let sent = elements.first(where: { $0.0 == base })?.1.first(where: { $0.0.isEquivalent(to: value) })
            else {
                decide(name, values)
                continue
            }
            decide(name, values.filter { candidate in candidate.1.contains { record in sent.1.contains(record) } })
        }
        for name in names { patient[name] = chosen[name] }
        return View(patient: patient, elements: elements, conflicts: conflicts)
    }

    /// The precedence's choice among disagreeing values: the first configured sender that sent one, else the most
    /// recently stored record's value.
    static func choose(_ values: [(JSONValue, [String])], records: [Record], configuration: Configuration) -> (JSONValue, String) {
        let byReference = Dictionary(records.map { ($0.reference, $0) }, uniquingKeysWith: { a, _ in a })
        for preferred in configuration.precedence {
            for (value, from) in values where from.contains(where: { byReference[$0]?.sender.hasPrefix(preferred) == true }) {
                return (value, "precedence: \(preferred) first")
            }
        }
        let newest = values.max { a, b in
            let ta = a.1.compactMap { byReference[$0]?.lastUpdated }.max() ?? 0
            let tb = b.1.compactMap { byReference[$0]?.lastUpdated }.max() ?? 0
            return ta < tb
        }!
        return (newest.0, "most recent record")
    }
}
