/// A FHIR search as the store runs it: clauses over the indexed search keys of current versions (all must hold; the
/// values of one clause are alternatives), `_id`, `_lastUpdated`, and a page.
public struct SearchQuery: Sendable, Hashable {
    public enum Match: Sendable, Hashable {
        /// A token or reference: the value, and the system when given (`nil` matches any system; `""` none).
        case exact(system: String?, value: String)
        /// A string's start (values are stored lower-cased).
        case prefix(String)
        /// `lower <= value < upper` as text (ISO 8601 dates and times compare so); either end may be open.
        case range(lower: String?, upper: String?)
    }

    public struct Clause: Sendable, Hashable {
        /// The stored parameters that answer it (`name` is answered by family, given and name).
        public var parameters: [String]
        public var anyOf: [Match]

        public init(parameters: [String], anyOf: [Match]) {
            self.parameters = parameters
            self.anyOf = anyOf
        }
    }

    public var type: String
    public var clauses: [Clause] = []
    /// `_id`: one of these.
    public var ids: [String]? = nil
    /// `_lastUpdated`, milliseconds since 1970: `lower <= last_updated < upper`.
    public var lastUpdatedLower: Int64? = nil
    public var lastUpdatedUpper: Int64? = nil
    public var count = 50
    public var offset = 0

    public init(type: String) {
        self.type = type
    }

    /// The WHERE clause over `resources r` with `?` placeholders, and its arguments (text or integers) in order.
    func whereClause(falseValue: String) -> (sql: String, arguments: [SearchArgument]) {
        var sql = "r.resource_type = ? AND r.is_delete = \(falseValue)"
        var arguments: [SearchArgument] = [.text(type)]
        if let ids {
            if ids.isEmpty { return (sql + " AND 1 = 0", arguments) }
            sql += " AND r.resource_id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))"
            arguments += ids.map(SearchArgument.text)
        }
        if let lower = lastUpdatedLower {
            sql += " AND r.last_updated >= ?"
            arguments.append(.integer(lower))
        }
        if let upper = lastUpdatedUpper {
            sql += " AND r.last_updated < ?"
            arguments.append(.integer(upper))
        }
        for clause in clauses {
            let parameters = clause.parameters.map { _ in "?" }.joined(separator: ", ")
            var alternatives: [String] = []
            var altArguments: [SearchArgument] = []
            for match in clause.anyOf {
                switch match {
                case .exact(let system, let value):
                    if let system, system.isEmpty {
                        alternatives.append("(k.value = ? AND k.system IS NULL)")
                        altArguments.append(.text(value))
                    } else if let system {
                        alternatives.append("(k.value = ? AND k.system = ?)")
                        altArguments += [.text(value), .text(system)]
                    } else {
                        alternatives.append("k.value = ?")
                        altArguments.append(.text(value))
                    }
                case .prefix(let start):
                    alternatives.append("k.value LIKE ? ESCAPE '\\'")
                    altArguments.append(.text(Self.likeEscaped(start) + "%"))
                case .range(let lower, let upper):
                    var parts: [String] = []
                    if let lower {
                        parts.append("k.value >= ?")
                        altArguments.append(.text(lower))
                    }
                    if let upper {
                        parts.append("k.value < ?")
                        altArguments.append(.text(upper))
                    }
                    alternatives.append(parts.isEmpty ? "1 = 1" : "(" + parts.joined(separator: " AND ") + ")")
                }
            }
            guard !alternatives.isEmpty else { continue }
            sql += """
                 AND EXISTS (SELECT 1 FROM search_keys k WHERE k.resource_type = r.resource_type AND k.resource_id = r.resource_id \
                AND k.parameter IN (\(parameters)) AND (\(alternatives.joined(separator: " OR "))))
                """
            arguments += clause.parameters.map(SearchArgument.text) + altArguments
        }
        return (sql, arguments)
    }

    static func likeEscaped(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

/// One bound value of a search.
enum SearchArgument: Sendable, Hashable {
    case text(String)
    case integer(Int64)
}

/// What a search found: one page of ids (in id order) and how many match in all.
public struct SearchPage: Sendable, Hashable {
    public var ids: [String]
    public var total: Int

    public init(ids: [String], total: Int) {
        self.ids = ids
        self.total = total
    }
}
