import Foundation
import Mapping
import Synchronization

/// The mapping set in force. Readers take the current one per message; a reload swaps it atomically, so a message is
/// mapped wholly by the old set or wholly by the new one.
public final class MapperHolder: Sendable {
    private let current: Mutex<any MessageMapper>
    private let tally = Mutex(CoverageSummary())

    public init(_ mapper: any MessageMapper) {
        current = Mutex(mapper)
    }

    public var mapper: any MessageMapper { current.withLock { $0 } }

    public func replace(with mapper: any MessageMapper) {
        current.withLock { $0 = mapper }
    }

    /// Adds one message's coverage report to the running sum (shown on the admin endpoint).
    public func record(_ report: CoverageReport) {
        tally.withLock { $0.add(report) }
    }

    /// Coverage summed over every message mapped since the gateway started.
    public var coverage: CoverageSummary { tally.withLock { $0 } }
}

/// A coverage report as kept with its inbound message: `{"values":N,"mapped":M,"unmapped":["PID-13.2",…]}`.
public enum CoverageJSON {
    public static func encode(_ r: CoverageReport) -> String {
        let places = r.unmapped.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        return "{\"values\":\(r.values),\"mapped\":\(r.mappedValues),\"unmapped\":[\(places.joined(separator: ","))]}"
    }
}
