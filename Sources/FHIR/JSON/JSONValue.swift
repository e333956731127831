/// A JSON value that keeps what FHIR needs kept: member order and numbers exactly as written (`1.50` stays `1.50`).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number's text as written.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Equality as values: object members compared without regard to order, numbers by their text.
    public func isEquivalent(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (key, value) in a.members {
                guard let v = b[key], value.isEquivalent(to: v) else { return false }
            }
            return true
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEquivalent(to: $1) }
        default:
            return self == other
        }
    }
}

/// A JSON object with its members in order. Keys are unique.
public struct JSONObject: Sendable, Hashable {
    public private(set) var members: [(key: String, value: JSONValue)]

    public init() {
        members = []
    }

    public init(_ members: [(key: String, value: JSONValue)]) {
        self.members = members
    }

    public var count: Int { members.count }
    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { index(of: key).map { members[$0].value } }
        set {
            if let i = index(of: key) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    /// Appends without checking for an existing key (the caller knows it is new).
    public mutating func appendUnchecked(_ key: String, _ value: JSONValue) {
        members.append((key, value))
    }

    /// Takes a member's value out, leaving `null` in its place, so the caller can change it without a copy and
    /// ``put(_:_:)`` it back where it was.
    public mutating func take(_ key: String) -> JSONValue? {
        guard let i = index(of: key) else { return nil }
        let value = members[i].value
        members[i].value = .null
        return value
    }

    /// The position of a member in ``members``, or nil.
    public func index(of key: String) -> Int? {
        members.firstIndex { $0.key == key }
    }

    /// Changes the value of the member at `index` (from ``index(of:)``) in place: one search for a read-modify-write
    /// instead of the two of ``take(_:)`` and ``put(_:_:)``. The value passed in is uniquely held when the object is,
    /// so an array or object inside can be changed without a copy after moving it out (`value = .null`).
    public mutating func modifyValue<R>(at index: Int, _ body: (inout JSONValue) throws -> R) rethrows -> R {
        try body(&members[index].value)
    }

    /// Sets a member: in its place when it exists, else at the end.
    public mutating func put(_ key: String, _ value: JSONValue) {
        if let i = index(of: key) {
            members[i].value = value
        } else {
            members.append((key, value))
        }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(members.count)
        for m in members {
            hasher.combine(m.key)
            hasher.combine(m.value)
        }
    }
}

extension JSONObject {
    /// A FHIR `Coding`: system (when given), code, display (when given).
    public static func coding(system: String?, code: String, display: String? = nil) -> JSONObject {
        var c = JSONObject()
        if let system { c.appendUnchecked("system", .string(system)) }
        c.appendUnchecked("code", .string(code))
        if let display { c.appendUnchecked("display", .string(display)) }
        return c
    }

    /// A FHIR `CodeableConcept` of one coding.
    public static func concept(system: String?, code: String, display: String? = nil) -> JSONObject {
        JSONObject([("coding", .array([.object(coding(system: system, code: code, display: display))]))])
    }
}
