import FHIR
import HL7v2

/// The mapping engine: a loaded ``MappingPlan`` run over messages and rows. Immutable; a reload makes a new one.
public struct DeclarativeMapper: MessageMapper {
    public let plan: MappingPlan

    public init(plan: MappingPlan) {
        self.plan = plan
    }

    public var version: String { plan.version }

    public func map(_ message: Message, context: MappingContext) throws(MappingError) -> [JSONObject] {
        try MessageExecutor(plan: plan).run(message, context: context).resources
    }

    public func map(row: [String: String], table: String, context: MappingContext) throws(MappingError) -> [JSONObject] {
        try TableExecutor(plan: plan).run(row, table: table, context: context).resources
    }

    public func mapWithCoverage(_ message: Message, context: MappingContext) throws(MappingError) -> MappingResult {
        let (resources, coverage, unstored) = try MessageExecutor(plan: plan).runAll(message, context: context)
        return MappingResult(resources: resources, coverage: coverage, unstored: unstored)
    }

    public func mapDocument(_ bytes: [UInt8], context: MappingContext) throws(MappingError) -> MappingResult {
        let root: XMLElement
        do {
            root = try XMLTree.parse(bytes)
        } catch {
            throw MappingError(
                .invalidValue, location: error.line.map { "line \($0)" }, reason: "the document is not well-formed XML: \(error.reason)")
        }
        let (resources, coverage) = try DocumentExecutor(plan: plan).run(root, context: context)
        return MappingResult(resources: resources, coverage: coverage)
    }

    public func mapWithCoverage(row: [String: String], table: String, context: MappingContext) throws(MappingError) -> MappingResult {
        let (resources, coverage) = try TableExecutor(plan: plan).run(row, table: table, context: context)
        return MappingResult(resources: resources, coverage: coverage)
    }
}

/// Resources made from one input, with what of the input they did not use.
public struct MappingResult: Sendable {
    public var resources: [JSONObject]
    public var coverage: CoverageReport?
    /// `Type/id` of resources that belong to the mapped bundle but are not stored (`stored: false`: a MessageHeader).
    public var unstored: Set<String> = []

    public init(resources: [JSONObject], coverage: CoverageReport?, unstored: Set<String> = []) {
        self.resources = resources
        self.coverage = coverage
        self.unstored = unstored
    }

    /// The resources the gateway stores.
    public var storedResources: [JSONObject] {
        guard !unstored.isEmpty else { return resources }
        return resources.filter { !unstored.contains("\($0["resourceType"]?.stringValue ?? "")/\($0["id"]?.stringValue ?? "")") }
    }
}
