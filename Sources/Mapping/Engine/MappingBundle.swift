import FHIR

/// The FHIR `Bundle` a mapped input becomes on the command line: a `transaction` of `PUT`s by the stable ids (a
/// FHIR server given it twice ends up with the same resources), and a `Provenance` naming the input and the mapping
/// set that made them.
public enum MappingBundle {
    /// Where resources came from, for their Provenance.
    public struct Origin: Sendable {
        /// The feed, file or table the input came from (`file:ADT-A01.hl7`, `table:patients`).
        public var source: String
        /// MSH-10, or the row's key.
        public var reference: String?
        /// When the input was written (FHIR instant): MSH-7 when it has seconds and a zone, else the time of mapping.
        public var recorded: String
        /// When what the input reports happened (FHIR dateTime, any precision): MSH-7 for a message.
        public var occurred: String?
        public var mappingVersion: String

        public init(source: String, reference: String?, recorded: String, occurred: String? = nil, mappingVersion: String) {
            self.source = source
            self.reference = reference
            self.recorded = recorded
            self.occurred = occurred
            self.mappingVersion = mappingVersion
        }
    }

    public static func transaction(_ resources: [JSONObject], origin: Origin) -> JSONObject {
        var entries: [JSONValue] = []
        var targets: [JSONValue] = []
        for r in resources {
            let type = r["resourceType"]?.stringValue ?? ""
            let id = r["id"]?.stringValue ?? ""
            targets.append(.object(JSONObject([("reference", .string("\(type)/\(id)"))])))
            entries.append(entry(r, type: type, id: id))
        }
        let sourceValue = origin.reference.map { "\(origin.source)#\($0)" } ?? origin.source
        var provenance = JSONObject()
        provenance.appendUnchecked("resourceType", .string("Provenance"))
        let provenanceID = StableID.make(type: "Provenance", namespace: origin.mappingVersion, value: sourceValue)
        provenance.appendUnchecked("id", .string(provenanceID))
        provenance.appendUnchecked("target", .array(targets))
        if let occurred = origin.occurred { provenance.appendUnchecked("occurredDateTime", .string(occurred)) }
        provenance.appendUnchecked("recorded", .string(origin.recorded))
        provenance.appendUnchecked("policy", .array([.string("urn:ledgerbridge:mapping-set:\(origin.mappingVersion)")]))
        provenance.appendUnchecked(
            "activity", .object(JSONObject.concept(system: "http://terminology.hl7.org/CodeSystem/v3-DataOperation", code: "CREATE")))
        // The guide's MSH[Provenance-Source]: the message's author is the sending responsible organization (MSH-22), else
        // the sending facility (MSH-4), as the MessageHeader names them.
        var agents = [Self.agent(role: "assembler", who: "Ledgerbridge mapping set \(origin.mappingVersion.prefix(12))")]
        let header = resources.first { $0["resourceType"]?.stringValue == "MessageHeader" }
        if let author = header?["responsible"] ?? header?["sender"], case .object = author {
            agents.insert(Self.agent(role: "author", reference: author), at: 0)
        }
        provenance.appendUnchecked("agent", .array(agents))
        provenance.appendUnchecked(
            "entity",
            .array([
                .object(
                    JSONObject([
                        ("role", .string("source")),
                        (
                            "what",
                            .object(
                                JSONObject([
                                    (
                                        "identifier",
                                        .object(JSONObject([("system", .string("urn:ledgerbridge:source")), ("value", .string(sourceValue))]))
                                    )
                                ]))
                        ),
                    ]))
            ]))
        entries.append(entry(provenance, type: "Provenance", id: provenanceID))
        return JSONObject([("resourceType", .string("Bundle")), ("type", .string("transaction")), ("entry", .array(entries))])
    }

    /// A Provenance agent: its participant type (`author`, `assembler`, … of provenance-participant-type) and who.
    public static func agent(role: String, who: String) -> JSONValue {
        agent(role: role, reference: .object(JSONObject([("display", .string(who))])))
    }

    /// A Provenance agent whose `who` is this Reference.
    static func agent(role: String, reference: JSONValue) -> JSONValue {
        let coding = JSONObject([
            ("system", .string("http://terminology.hl7.org/CodeSystem/provenance-participant-type")), ("code", .string(role)),
        ])
        return .object(JSONObject([("type", .object(JSONObject([("coding", .array([.object(coding)]))]))), ("who", reference)]))
    }

    private static func entry(_ r: JSONObject, type: String, id: String) -> JSONValue {
        .object(
            JSONObject([
                ("fullUrl", .string("urn:uuid:\(uuid(id))")),
                ("resource", .object(r)),
                ("request", .object(JSONObject([("method", .string("PUT")), ("url", .string("\(type)/\(id)"))]))),
            ]))
    }

    /// A 32-hex-digit stable id written as a UUID (8-4-4-4-12), for `fullUrl`.
    static func uuid(_ id: String) -> String {
        let u = Array(id.utf8)
        guard u.count == 32 else { return id }
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, b) in u.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(0x2D) }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// MSH-7 as a FHIR instant, when it has seconds and a zone.
    public static func recorded(fromMSH7 value: String?) -> String? {
        V2Time.instant(value, zone: V2Time.zone(of: value))
    }

    /// MSH-7 as a FHIR dateTime at the precision it was sent (the Provenance's occurred[x]).
    public static func occurred(fromMSH7 value: String?) -> String? {
        V2Time.dateTime(value, zone: V2Time.zone(of: value))
    }
}
