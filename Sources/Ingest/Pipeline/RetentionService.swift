import Logging
import ServiceLifecycle
import Store

/// Purges the raw bodies of inbound messages older than the retention period, once an hour. Outcomes, keys and the
/// records made from the messages stay, so duplicates are still recognised and provenance still resolves.
public struct RetentionService: Service {
    public let store: any RecordStore
    public let retentionDays: Int
    public let logger: Logger

    public init(store: any RecordStore, retentionDays: Int, logger: Logger = Logger(label: "ledgerbridge.retention")) {
        self.store = store
        self.retentionDays = retentionDays
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let cutoff = StoreTime.nowMillis() - Int64(retentionDays) * 86_400_000
            do {
                let purged = try await store.purgeInboundBodies(receivedBefore: cutoff)
                if purged > 0 { logger.info("purged inbound bodies past retention", metadata: ["lb.count": "\(purged)"]) }
            } catch {
                logger.warning("retention purge failed; next try in an hour", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
