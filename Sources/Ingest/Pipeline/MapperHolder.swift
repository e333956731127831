import Mapping
import Synchronization

/// The mapping set in force. Readers take the current one per message; a reload swaps it atomically, so a message is
/// mapped wholly by the old set or wholly by the new one.
public final class MapperHolder: Sendable {
    private let current: Mutex<any MessageMapper>

    public init(_ mapper: any MessageMapper) {
        current = Mutex(mapper)
    }

    public var mapper: any MessageMapper { current.withLock { $0 } }

    public func replace(with mapper: any MessageMapper) {
        current.withLock { $0 = mapper }
    }
}
