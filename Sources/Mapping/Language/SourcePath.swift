import Foundation

/// Where a rule reads its value.
///
/// - HL7 v2, absolute: `PID-3`, `PID-3.4`, `PID-3.4.2` (field, component, subcomponent of a segment; MSH fields can be
///   read from any segment map: `MSH-7`).
/// - HL7 v2, relative, in datatype maps: `.1`, `.4.2` (component and subcomponent of the value the map is applied to).
/// - A table column: `mrn` (table maps).
/// - An XML path: `patient/name/given`, `code/@code`, `section[templateId/@root='…']/entry` (document maps).
enum SourcePath: Hashable, Sendable, CustomStringConvertible {
    case segment(id: String, levels: [Int])
    case relative([Int])
    case column(String)
    /// An XML document: element steps, predicates, an @attribute (document maps and `source: xml` datatype maps).
    case xml(XMLPath)

    var description: String {
        switch self {
        case .segment(let id, let levels): "\(id)-" + levels.map(String.init).joined(separator: ".")
        case .relative(let levels): levels.isEmpty ? "." : "." + levels.map(String.init).joined(separator: ".")
        case .column(let name): name
        case .xml(let path): path.description
        }
    }

    enum Dialect {
        /// A segment map of segment `id`: absolute paths into it or into MSH.
        case segment(String)
        /// A datatype map: relative paths.
        case datatype
        /// The `rules:` of a rule in a segment map of segment `id`: relative paths read the rule's value (each
        /// repetition of its `from:`), absolute ones the segment.
        case value(segment: String)
        /// A message map: absolute paths into any segment (the segment a resource is built from).
        case message
        /// A table map: column names.
        case table
        /// A document map, or an XML datatype map: paths into the document.
        case xml
    }

    /// Parses a path as written in a file of the given dialect; nil with a reason when it is not one.
    static func parse(_ text: String, dialect: Dialect) -> Result<SourcePath, PathError> {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch dialect {
        case .xml:
            return XMLPath.parse(t).map(SourcePath.xml)
        case .table:
            guard !t.isEmpty, t.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                return .failure(PathError("'\(t)' is not a column name (letters, digits and _)"))
            }
            return .success(.column(t))
        case .datatype:
            if t == "." { return .success(.relative([])) }
            guard t.hasPrefix(".") else { return .failure(PathError("'\(t)' is not a component path: write .1, .4.2 (relative to the value)")) }
            guard let levels = numbers(t.dropFirst()), (1...2).contains(levels.count) else {
                return .failure(PathError("'\(t)' is not a component path: write .1 or .4.2"))
            }
            return .success(.relative(levels))
        case .segment(let own):
            guard case .success(let p) = absolute(t), case .segment(let id, _) = p else {
                return .failure(PathError("'\(t)' is not a field path: write \(own)-3, \(own)-3.1 or \(own)-3.4.2"))
            }
            guard id == own || id == "MSH" else {
                return .failure(PathError("'\(t)' reads segment \(id); a map of \(own) reads \(own) fields (and MSH fields)"))
            }
            return .success(p)
        case .message:
            return absolute(t)
        case .value(let own):
            return t.hasPrefix(".") ? parse(t, dialect: .datatype) : parse(t, dialect: .segment(own))
        }
    }

    private static func absolute(_ t: String) -> Result<SourcePath, PathError> {
        guard let dash = t.firstIndex(of: "-") else { return .failure(PathError("'\(t)' is not a field path like PID-3.1")) }
        let id = String(t[..<dash])
        guard id.count == 3, id.allSatisfy({ ($0.isUppercase && $0.isLetter) || $0.isNumber }) else {
            return .failure(PathError("'\(id)' is not a segment name"))
        }
        guard let levels = numbers(t[t.index(after: dash)...]), (1...3).contains(levels.count) else {
            return .failure(PathError("'\(t)' is not a field path: write \(id)-3, \(id)-3.1 or \(id)-3.4.2"))
        }
        return .success(.segment(id: id, levels: levels))
    }

    private static func numbers(_ s: Substring) -> [Int]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        var out: [Int] = []
        for p in parts {
            guard let n = Int(p), n >= 1, n <= 999 else { return nil }
            out.append(n)
        }
        return out.isEmpty ? nil : out
    }
}

/// An HL7 v2 path as plain numbers, kept in a ``PathRef`` so the runner finds its place without touching the path's
/// heap storage (the hot loop of mapping a message).
struct V2Path: Sendable {
    enum Kind: UInt8, Sendable {
        /// A field of the segment being mapped.
        case segment
        /// A field of MSH, from any segment.
        case header
        /// A component or subcomponent of the value a datatype map maps (no levels: the value itself).
        case relative
    }

    var kind: Kind
    /// 1 to 3 levels (0 for `.`); unused ones are 0.
    var count: Int
    var first = 0, second = 0, third = 0

    init?(_ path: SourcePath?) {
        let levels: [Int]
        switch path {
        case .segment(let id, let l)?:
            kind = id == "MSH" ? .header : .segment
            levels = l
        case .relative(let l)?:
            kind = .relative
            levels = l
        default:
            return nil
        }
        count = levels.count
        if count > 0 { first = levels[0] }
        if count > 1 { second = levels[1] }
        if count > 2 { third = levels[2] }
    }
}

/// A path as a rule or a condition holds it, with what the runner asks of it worked out once at load: a message's
/// rules read sources and evaluate conditions thousands of times, and taking the path apart each time showed in
/// profiles.
final class PathRef: Sendable, Hashable, CustomStringConvertible {
    let path: SourcePath
    /// The HL7 v2 numbers (nil for a column or an XML path).
    let v2: V2Path?
    /// `.4.3`: read in the value at hand rather than in the segment or row.
    let isRelative: Bool
    /// An XML element without an attribute (present when it is there, text or not), and whether it is the value at
    /// hand itself (no steps).
    let isXMLElement: Bool
    let isXMLValue: Bool

    init(_ path: SourcePath) {
        self.path = path
        v2 = V2Path(path)
        if case .relative = path { isRelative = true } else { isRelative = false }
        if case .xml(let x) = path, x.attribute == nil {
            isXMLElement = true
            isXMLValue = x.steps.isEmpty
        } else {
            isXMLElement = false
            isXMLValue = false
        }
    }

    var description: String { path.description }
    static func == (a: PathRef, b: PathRef) -> Bool { a.path == b.path }
    func hash(into hasher: inout Hasher) { hasher.combine(path) }
}

struct PathError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
