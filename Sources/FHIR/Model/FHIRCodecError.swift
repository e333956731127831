/// Why a FHIR document could not be read or written: where (line and column, or the element path) and why.
/// Descriptions name places and rules, never element values.
public struct FHIRCodecError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String?
    public var line: Int?
    public var column: Int?
    public var reason: String

    public init(path: String? = nil, line: Int? = nil, column: Int? = nil, reason: String) {
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        var place: [String] = []
        if let line { place.append("line \(line)" + (column.map { ", column \($0)" } ?? "")) }
        if let path { place.append(path) }
        return place.isEmpty ? reason : place.joined(separator: ", ") + ": " + reason
    }
}
