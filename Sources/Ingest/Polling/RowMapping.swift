import FHIR
import Mapping
import Store

/// Legacy table rows through the mapping: how a row is keyed, kept as an inbound message, read back, and mapped. The
/// poller and dead-letter replay both use it, so a replayed row is mapped exactly as a polled one.
enum RowMapping {
    /// The idempotency key of a row at a watermark: the same row changed later is a new message.
    static func key(rowKey: String, watermark: String) -> String { "\(rowKey)@\(watermark)" }

    /// The row key back from `key(rowKey:watermark:)`.
    static func rowKey(fromKey key: String?) -> String {
        guard let key else { return "" }
        return key.lastIndex(of: "@").map { String(key[..<$0]) } ?? key
    }

    /// The kept message type of a row of `table`, and the table back from it.
    static func messageType(table: String) -> String { "row:\(table)" }
    static func table(fromMessageType type: String?) -> String? {
        guard let type, type.hasPrefix("row:") else { return nil }
        return String(type.dropFirst(4))
    }

    /// The row as it is kept: a JSON object of its columns, in name order.
    static func body(_ row: [String: String]) -> [UInt8] {
        JSONWriter().write(.object(JSONObject(row.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
    }

    /// The row back from `body(_:)`.
    static func row(fromBody body: [UInt8]) -> [String: String]? {
        guard let object = try? JSONParser().parse(body).objectValue else { return nil }
        var row: [String: String] = [:]
        for (key, value) in object.members {
            guard let text = value.stringValue else { return nil }
            row[key] = text
        }
        return row
    }

    /// The row's resources from the mapping in force, or a dead letter with the reason.
    static func disposition(
        _ row: [String: String], table: String, rowKey: String, source: String, sender: String, mapper: any MessageMapper
    )
        -> Disposition
    {
        mapped(source: source, sourceReference: "\(table):\(rowKey)", mapper: mapper) { () throws(MappingError) in
            try mapper.mapWithCoverage(row: row, table: table, context: MappingContext(sender: sender))
        }.disposition
    }

    /// What a mapping of a polled payload (a row, a C-CDA document) gives: its validated resources, or a dead letter
    /// with the reason the mapping failed; and the mapping's result, for its coverage report.
    static func mapped(
        source: String, sourceReference: String, mapper: any MessageMapper, _ map: () throws(MappingError) -> MappingResult
    ) -> (disposition: Disposition, result: MappingResult?) {
        do {
            let result = try map()
            return (
                ResourceValidation.disposition(result.resources, source: source, sourceReference: sourceReference, mappingVersion: mapper.version),
                result
            )
        } catch {
            return (.deadLetter(reason: error.description), nil)
        }
    }
}
