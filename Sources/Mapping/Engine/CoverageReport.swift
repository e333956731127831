/// What a mapping did not use of one input: the values no rule read. Nothing is dropped silently: an engineer sees
/// which segments, fields and components (or columns) a mapping misses.
public struct CoverageReport: Sendable, Hashable, Codable {
    /// Places with a value that no rule read: `PID-13.2` (field 13, component 2, any repetition), `ZPI` (a whole
    /// segment no resource is built from), `column fax` (a table column).
    public var unmapped: [String]
    /// Values (components, or columns) the input had, and how many of them rules read.
    public var values: Int
    public var mappedValues: Int

    public init(unmapped: [String] = [], values: Int = 0, mappedValues: Int = 0) {
        self.unmapped = unmapped
        self.values = values
        self.mappedValues = mappedValues
    }

    /// The share of values mapped, 0…1 (1 for an input without values).
    public var ratio: Double { values == 0 ? 1 : Double(mappedValues) / Double(values) }
}

/// Reports summed over many inputs: how often each place went unmapped.
public struct CoverageSummary: Sendable, Hashable, Codable {
    public var inputs = 0
    public var values = 0
    public var mappedValues = 0
    public var unmapped: [String: Int] = [:]

    public init() {}

    public mutating func add(_ r: CoverageReport) {
        inputs += 1
        values += r.values
        mappedValues += r.mappedValues
        for u in r.unmapped { unmapped[u, default: 0] += 1 }
    }
}
