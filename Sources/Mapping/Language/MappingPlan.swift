import FHIR

/// A loaded, checked mapping set: every name resolved and every path type-checked, so running it looks nothing up by
/// name and cannot meet an unknown element.
public struct MappingPlan: Sendable {
    /// SHA-256 (hex) over the sorted file names and contents: stored with every record the set produced.
    public let version: String
    /// The files it was loaded from (relative paths), sorted.
    public let files: [String]
    /// What loaded but is probably a mistake (a resource group no message map includes, a segment map nothing uses), with file:line:column.
    public internal(set) var warnings: [MappingDiagnostic] = []

    var vocabularies: [Vocabulary]
    var datatypes: [DatatypeMap]
    var segments: [SegmentMap]
    var messages: [MessageMap]
    var tables: [TableMap]
    var documents: [DocumentMap] = []
    /// Root element name → document map index.
    var documentIndex: [String: Int] = [:]
    /// `ADT^A01` → message map index; `ADT^*` entries are kept under that key.
    var messageIndex: [String: Int]
    var tableIndex: [String: Int]

    /// The message types this set maps (`ADT^A01`, `ORU^*`, …), sorted.
    public var messageTypes: [String] { messageIndex.keys.sorted() }
    /// The table names this set maps.
    public var tableNames: [String] { tableIndex.keys.sorted() }
    /// The XML documents this set maps, by root element.
    public var documentRoots: [String] { documentIndex.keys.sorted() }
}

final class Vocabulary: Sendable {
    enum Unmapped: Sendable {
        /// Keep the code as sent, under `system` when the target is a Coding.
        case keep(system: String?)
        /// Use this code instead.
        case `default`(code: String, display: String?)
        /// Write nothing (the source value shows as not mapped in the coverage report).
        case drop
        /// Write `format` with `{}` replaced by the code (an unknown coding system name as a URN).
        case format(String)
    }

    let name: String
    let system: String?
    let codes: [String: (code: String, display: String?, system: String?)]
    /// Codes starting with `prefix` become `format` with `{rest}` replaced by what follows the prefix.
    let prefixes: [(prefix: String, format: String)]
    let unmapped: Unmapped

    init(
        name: String, system: String?, codes: [String: (code: String, display: String?, system: String?)],
        prefixes: [(prefix: String, format: String)],
        unmapped: Unmapped
    ) {
        self.name = name
        self.system = system
        self.codes = codes
        self.prefixes = prefixes
        self.unmapped = unmapped
    }
}

/// One rule, compiled. A class: the runner walks thousands of rules per message, and a reference is cheaper to pass
/// around than a struct of arrays.
final class Rule: Sendable {
    enum Value: Sendable {
        /// The value at `source`.
        case read
        /// A literal.
        case constant(String)
        /// Text with `{}` (the value at `source`) and `{PATH}` placeholders.
        case format([TemplatePiece])
    }

    /// Where the value is read, with its HL7 v2 numbers worked out at load (``PathRef``), and whether there is a
    /// source: both read once per rule and input place, without taking the path apart.
    let source: PathRef?
    let hasSource: Bool
    let target: TargetPath
    /// How a value becomes the target's type.
    let kind: ValueConversion.Kind
    let condition: Condition?
    let value: Value
    /// A datatype map applied to the value at `source`; with several (`map: [A, B]`), the first that gives something.
    let map: [Int]?
    let vocabulary: Int?
    /// Whether every repetition of a repeating field is mapped (the source is a whole field and the target appends).
    let everyRepetition: Bool
    /// For `extension: URL`: the value goes into a new Extension with this url, appended at `extensionOwner`
    /// (`extension[]` of the resource, or of the element named by `on:`); `target` is then a path in the Extension.
    let extensionURL: String?
    let extensionOwner: TargetPath?
    /// `also:` constants written into the same new element as the value (the one the first `[]` of `target` makes):
    /// a participant's type next to its individual. `alsoSplit` is the number of steps up to that element.
    let also: [(path: TargetPath, value: JSONValue)]
    let alsoSplit: Int
    /// `encode: base64`: the text is written base64-encoded (a text report as an Attachment's data).
    let base64: Bool
    /// `default: true`: applied after the other rules (of the input, for a resource's own rules), so it writes only
    /// what none of them wrote.
    let isDefault: Bool

    init(
        source: SourcePath?, target: TargetPath, condition: Condition?, value: Value, map: [Int]?, vocabulary: Int?, everyRepetition: Bool,
        extensionURL: String? = nil, extensionOwner: TargetPath? = nil, also: [(path: TargetPath, value: JSONValue)] = [], alsoSplit: Int = 0,
        base64: Bool = false, isDefault: Bool = false
    ) {
        self.source = source.map(PathRef.init)
        hasSource = source != nil
        self.target = target
        kind = ValueConversion.Kind(target.type)
        self.condition = condition
        self.value = value
        self.map = map
        self.vocabulary = vocabulary
        self.everyRepetition = everyRepetition
        self.extensionURL = extensionURL
        self.extensionOwner = extensionOwner
        self.also = also
        self.alsoSplit = alsoSplit
        self.base64 = base64
        self.isDefault = isDefault
    }
}

enum TemplatePiece: Sendable {
    case text(String)
    /// `{}`: the value at the rule's `from:`.
    case value
    /// `{.2}` in a segment map: a component of the value at `from:`.
    case valueComponent(SourcePath)
    /// `{PID-5.1}`, or `{.2}` in a datatype map (a component of the value the map is applied to).
    case path(SourcePath)
}

final class DatatypeMap: Sendable {
    let name: String
    let datatype: String
    let type: String
    let rules: [Rule]
    /// For a map that makes a resource (XCN → Practitioner, PL → Location): how its id is derived. Without one, the
    /// id is derived from the text of the value it was made from, so the same practitioner written the same way is
    /// one resource.
    let id: IDSpec?
    let makesResource: Bool
    /// `emit: false`: only the reference is written (to a resource another message makes: MRG-1's prior patient).
    let emits: Bool
    /// Whether its rules read only within the value it is applied to (relative paths: a declared datatype map), so
    /// that over an empty value it makes nothing. The `rules:` of a rule in a segment map also read the segment.
    let readsWithinValue: Bool
    /// Whether the resource it made from a text is reused for the same text again in the message (not when rules added
    /// to it read the rest of the segment).
    let reusedByText: Bool

    init(
        name: String, datatype: String, type: String, rules: [Rule], id: IDSpec? = nil, emits: Bool = true, readsWithinValue: Bool = true,
        reusedByText: Bool = true
    ) {
        self.readsWithinValue = readsWithinValue
        self.reusedByText = reusedByText
        self.name = name
        self.datatype = datatype
        self.type = type
        self.rules = rules
        self.id = id
        self.emits = emits
        makesResource = FHIRTypeTable.r4.isResource(type)
    }
}

/// A segment map (`segment:`, a segment's fields → a resource), or an entry map (`element:`, an XML element's parts
/// → a resource, by paths relative to it), which document maps share with `map:`.
struct SegmentMap: Sendable {
    var name: String
    var segment: String
    /// The resource type the map builds; for an element map, the datatype of the element (`Annotation`).
    var resource: String
    var rules: [Rule]
    /// An entry map's XML element name (`observation`); nil for a segment map.
    var element: String? = nil
    /// `type:` instead of `resource:`: the map builds one element of that datatype (an NTE → an Annotation), for
    /// message map entries with `element:` (`note[]`) in any resource that has such an element.
    var buildsElement = false
}

/// How a resource's id is derived from what identifies it, so a resend or an update addresses the same resource.
struct IDSpec: Sendable {
    /// The first of these with a value is the identifying value.
    var value: [SourcePath]
    /// Further values joined to it with `|` (an observation's OBX-4 sub-id).
    var with: [SourcePath]
    /// The first of these with a value is the namespace (assigning authority); else MSH-4, else the sender.
    var namespace: [SourcePath]
    /// The namespace is the id of this resource (by name) the segment belongs to: ids unique within their report.
    var scope: String?
    /// With no identifying value the input is not mapped (rather than given a per-message id).
    var required: Bool
    /// `constant:`: the identifying value is this text, so there is one such resource per scope or namespace.
    var constant: String? = nil
}

struct ResourceDefinition: Sendable {
    var name: String
    /// A document map's resource: one per element these paths reach from the root (in document order, each once).
    var each: [SourcePath] = []
    /// The segment each instance is built from (message maps), or nil for a table map's one row.
    var segment: String?
    var resource: String
    var rules: [Rule]
    /// Merge into the nearest instance of this name instead of making a new resource (PD1 into the PID's Patient).
    /// `into: [observation, order]` lists several: the segment adds to whichever was built nearest above it (an NTE
    /// after an OBX notes the result, after the OBR the order). HL7 v2 message maps only.
    var intoNames: [String]
    /// The first of ``intoNames``; nil when the definition makes resources of its own.
    var into: String? { intoNames.first }
    /// With `into`: the rules build one new element appended here in that resource (an NK1 → a Patient.contact).
    var element: TargetPath? = nil
    /// With `into`: `within: order` keeps the segment inside its group, the segments from an instance of that name (an
    /// ORC) to the next: it adds to the nearest of ``intoNames`` in the group above it, else the nearest below it, and
    /// to none outside it (a TQ1 after the second ORC times the second order, never the first one's RXE).
    var within: String? = nil
    var id: IDSpec?
    var condition: Condition?
    var required: Bool
    var requiredPaths: [SourcePath]
    var refs: [(target: TargetPath, resource: String)]
    /// `refs: {entry[]: [problem, allergy]}` (document maps): a reference to every instance of these names built from
    /// an element inside this one's, in document order (a Composition section lists its entries).
    var enclosed: [(target: TargetPath, names: [String])] = []
    /// Elements the resource must have got from its rules; without them it is left out (and the coverage report
    /// names the segment), rather than failing the message (`needs: [recorded]` for a Provenance from EVN).
    var needs: [String] = []

    /// The first element of `needs:` the object lacks (`effective[x]`: lacks every type of the choice).
    func missingNeed(in object: JSONObject) -> String? {
        needs.first { need in
            guard need.hasSuffix("[x]") else { return object[need] == nil }
            let stem = String(need.dropLast(3))
            return !object.members.contains { isChoice($0.key, of: stem) }
        }
    }
    /// `unless: [SPM]`: not for a segment followed, before the next segment of its own type, by one of these (an
    /// OBR's specimen fields make a Specimen unless an SPM of its group describes the specimen). Message maps only.
    var unless: Set<String> = []
    /// `follows: [PID, PD1]`: only for a segment whose nearest segment above, past others of its type and the ARV,
    /// NTE, ROL and PRT that attach to a segment, is one of these (the guide's `follow:PID.ROL`, a role about the
    /// patient, against `follow:PV1.ROL`, one of the visit). Message maps only.
    var follows: Set<String> = []
    /// `merge: true`: a segment whose id an earlier segment's resource of this map already has adds to that resource
    /// (its rules applied to it) instead of making another (one CareTeam per patient, each PRT a participant).
    var merges = false
    /// `stored: false`: part of the mapped bundle (a MessageHeader), but not stored by the gateway.
    var stored = true
    var parent: (resource: String, target: TargetPath)?
    /// Whether some of its rules are `default: true` (applied once the input's other segments have added to it).
    var hasDefaults: Bool { rules.contains { $0.isDefault } }
}

struct MessageMap: Sendable {
    var name: String
    var file: String
    var types: [String]
    var resources: [ResourceDefinition]
}

struct DocumentMap: Sendable {
    var name: String
    var file: String
    /// The root element's name (`ClinicalDocument`).
    var root: String
    /// Read at the root: which documents of that root this map takes (a C-CDA template id).
    var condition: Condition?
    var resources: [ResourceDefinition]
}

struct TableMap: Sendable {
    var table: String
    var file: String
    var resources: [ResourceDefinition]
}
