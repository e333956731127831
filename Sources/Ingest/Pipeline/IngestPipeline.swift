import Mapping
import Store

/// The ingest stages over one store, wired as every way in uses them: the group-commit queue, the mapping set in
/// force, and the HL7 v2 and FHIR ingestors. `serve`, `import` and the tests all build it this one way.
public struct IngestPipeline: Sendable {
    public let store: any RecordStore
    public let queue: CommitQueue
    public let mappers: MapperHolder
    public let hl7: HL7Ingestor
    public let fhir: FHIRIngestor

    public init(store: any RecordStore, mapper: any MessageMapper, queueCapacity: Int = 20_000, maxGroupUnits: Int = 1_000) {
        self.store = store
        queue = CommitQueue(store: store, capacity: queueCapacity, maxGroupUnits: maxGroupUnits)
        mappers = MapperHolder(mapper)
        hl7 = HL7Ingestor(queue: queue, mappers: mappers)
        fhir = FHIRIngestor(queue: queue)
    }
}
