import HL7v2

/// An HL7 v2 message as rules read it. A cursor is a place in one segment: the segment itself (depth 0), a field
/// repetition (1), a component (2) or a subcomponent (3).
struct V2Input: MappingInput {
    struct Cursor {
        var segment: Int
        var field = 0
        var repetition = 1
        var component = 0
        var subcomponent = 0
        var depth = 0
    }

    let message: Message
    let zone: String?
    /// What rules read (``V2Mark``s), for the coverage report: in the order read, repeats included; sorted once at
    /// the end.
    var used: [Int] = []
    var made = MadeResources()
    var reads = 0
    let namespaceFallback: String

    init(message: Message, namespaceFallback: String) {
        self.message = message
        self.namespaceFallback = namespaceFallback
        zone = V2Time.zone(of: message.segment(at: 0).value(field: 7))
    }

    func cursor(_ path: SourcePath, at c: Cursor) -> Cursor? { V2Path(path).flatMap { cursor($0, at: c) } }

    func cursor(_ ref: PathRef, at c: Cursor) -> Cursor? { ref.v2.flatMap { cursor($0, at: c) } }

    /// A table column or an XML path names no place here (nil).
    private func cursor(_ p: V2Path, at c: Cursor) -> Cursor? {
        switch p.kind {
        case .segment, .header:
            var out = Cursor(segment: p.kind == .header ? 0 : c.segment)
            out.field = p.first
            out.component = p.second
            out.subcomponent = p.third
            out.depth = p.count
            return out
        case .relative:
            guard p.count > 0 else { return c }
            var out = c
            switch c.depth {
            case 1:
                out.component = p.first
                out.depth = 2
                if p.count > 1 {
                    out.subcomponent = p.second
                    out.depth = 3
                }
            case 2:
                guard p.count == 1 else { return nil }
                out.subcomponent = p.first
                out.depth = 3
            case 3:
                guard p.count == 1, p.first == 1 else { return nil }
            default:
                return nil
            }
            return out
        }
    }

    mutating func value(at c: Cursor) -> String? {
        guard c.depth >= 1 else { return nil }
        let segment = message.segment(at: c.segment)
        guard
            let v = segment.value(
                field: c.field, repetition: c.repetition, component: max(c.component, 1), subcomponent: max(c.subcomponent, 1)),
            !v.isEmpty, v != "\"\"", v.utf8.contains(where: { $0 != 0x20 })
        else { return nil }
        used.append(V2Mark.make(segment: c.segment, field: c.field, repetition: c.repetition, component: max(c.component, 1)))
        reads += 1
        return v
    }

    func memoText(at c: Cursor) -> String? { c.depth == 1 || c.depth == 2 ? text(at: c) : nil }
    var markCount: Int { used.count }
    func marks(since count: Int) -> [Int] { used[count...].map(V2Mark.component) }

    /// Marks at `c`'s segment, field and repetition; a value that is a component (depth 2) is read in that component
    /// only.
    mutating func replay(_ marks: [Int], at c: Cursor) {
        for m in marks {
            used.append(V2Mark.make(segment: c.segment, field: c.field, repetition: c.repetition, component: c.depth == 2 ? max(c.component, 1) : m))
        }
    }

    func text(at c: Cursor) -> String {
        let segment = message.segment(at: c.segment)
        switch c.depth {
        case 0: return segment.rawText
        case 1: return segment.rawValue(field: c.field, repetition: c.repetition) ?? ""
        case 2: return segment.rawValue(field: c.field, repetition: c.repetition, component: c.component) ?? ""
        default: return segment.rawValue(field: c.field, repetition: c.repetition, component: c.component, subcomponent: c.subcomponent) ?? ""
        }
    }

    func hasText(at c: Cursor) -> Bool {
        let text = self.text(at: c)
        guard text != "\"\"" else { return false }
        let e = message.encoding
        return text.utf8.contains { $0 != 0x20 && $0 != e.component && $0 != e.repetition && $0 != e.subcomponent && $0 != e.field }
    }

    func isEmpty(at c: Cursor) -> Bool {
        let segment = message.segment(at: c.segment)
        switch c.depth {
        case 0: return false
        case 1: return segment.isEmpty(field: c.field, repetition: c.repetition)
        case 2: return segment.isEmpty(field: c.field, repetition: c.repetition, component: c.component)
        default: return segment.isEmpty(field: c.field, repetition: c.repetition, component: c.component, subcomponent: c.subcomponent)
        }
    }

    func repetitionCount(at c: Cursor) -> Int {
        message.segment(at: c.segment).repetitionCount(field: c.field)
    }

    func repetition(_ r: Int, of c: Cursor) -> Cursor {
        var out = c
        out.repetition = r
        return out
    }
}

/// A place in a message rules read, as one number: segment position, field, repetition and component (fields and
/// components up to 1,023, repetitions up to 16,383: larger ones share the last).
enum V2Mark {
    static func make(segment: Int, field: Int, repetition: Int, component: Int) -> Int {
        segment << 34 | min(field, 0x3FF) << 24 | min(repetition, 0x3FFF) << 10 | min(component, 0x3FF)
    }

    static func segment(_ m: Int) -> Int { m >> 34 }
    static func field(_ m: Int) -> Int { m >> 24 & 0x3FF }
    static func repetition(_ m: Int) -> Int { m >> 10 & 0x3FFF }
    static func component(_ m: Int) -> Int { m & 0x3FF }
}
