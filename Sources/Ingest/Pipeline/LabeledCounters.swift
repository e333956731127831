import Metrics
import Synchronization

/// The counters of one metric label, one per combination of dimension values, each made once. (`Counter(label:
/// dimensions:)` asks the metrics factory for it on every call, which locks and looks it up: per message and per
/// request, that was measurable.) Make it after `MetricsSystem.bootstrap`: counters keep the factory they were made by.
public final class LabeledCounters: Sendable {
    public let label: String
    public let dimensions: [String]
    private let counters = Mutex<[[String]: Counter]>([:])

    public init(label: String, dimensions: [String]) {
        self.label = label
        self.dimensions = dimensions
    }

    /// Adds to the counter of these dimension values (in the order of `dimensions`).
    public func increment(_ values: String..., by amount: Int64 = 1) {
        precondition(values.count == dimensions.count, "\(label) has dimensions \(dimensions)")
        let counter = counters.withLock { made in
            if let counter = made[values] { return counter }
            let counter = Counter(label: label, dimensions: Array(zip(dimensions, values)))
            made[values] = counter
            return counter
        }
        counter.increment(by: amount)
    }
}
