import FHIR
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
/// Places are written as JSON strings by ``JSONWriter`` (a table column's name may hold any character); every message
/// stores one, so it is written straight into bytes.
public enum CoverageJSON {
    public static func encode(_ r: CoverageReport) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(48 + 12 * r.unmapped.count)
        out.append(contentsOf: #"{"values":"#.utf8)
        out.append(contentsOf: String(r.values).utf8)
        out.append(contentsOf: #","mapped":"#.utf8)
        out.append(contentsOf: String(r.mappedValues).utf8)
        out.append(contentsOf: #","unmapped":["#.utf8)
        for (n, place) in r.unmapped.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(place, to: &out)
        }
        out.append(contentsOf: "]}".utf8)
        return String(decoding: out, as: UTF8.self)
    }
}
