import Foundation
import Logging
import Mapping
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Keeps the running gateway on the current `Mappings/`: it checks the folder every `interval` (and at once on
/// SIGHUP), loads a changed set, and swaps it in atomically. A set that does not load is refused: the previous one
/// keeps serving, and the errors go to the log and to ``status`` (shown on the admin endpoint).
public final class MappingWatcher: Service, Sendable {
    public struct Status: Sendable, Codable {
        public var folder: String
        /// The version in force.
        public var version: String
        public var files: Int
        public var messageTypes: [String]
        public var loadedAt: String
        /// What the set in force loaded with but is probably a mistake (file:line:column: an unused group…).
        public var warnings: [String]
        /// The last refused edit: its errors (file:line:column) and when it was seen.
        public var rejectedErrors: [String]?
        public var rejectedAt: String?

        /// A set just loaded from `folder`, with no refused edit.
        init(loaded mapper: DeclarativeMapper, from folder: MappingFolder) {
            self.folder = folder.path
            version = mapper.version
            files = mapper.plan.files.count
            messageTypes = mapper.plan.messageTypes
            loadedAt = MappingWatcher.now()
            warnings = mapper.plan.warnings.map(\.description)
        }
    }

    private let folder: MappingFolder
    private let holder: MapperHolder
    private let interval: Duration
    private let logger: Logger
    private let state: Mutex<(fingerprint: String, status: Status)>

    /// `mapper` is the set already loaded from `folder` (and installed in `holder`).
    public init(folder: MappingFolder, holder: MapperHolder, loaded mapper: DeclarativeMapper, interval: Duration = .seconds(2), logger: Logger) {
        self.folder = folder
        self.holder = holder
        self.interval = interval
        self.logger = logger
        state = Mutex((folder.fingerprint(), Status(loaded: mapper, from: folder)))
    }

    public var status: Status { state.withLock { $0.status } }

    /// Logs what a loaded set is probably wrong about (it loads all the same).
    public static func logWarnings(_ mapper: DeclarativeMapper, _ logger: Logger) {
        for w in mapper.plan.warnings { logger.warning("mapping warning", metadata: ["lb.warning": "\(w)"]) }
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await _ in signals {
                    logger.info("SIGHUP: reloading mappings", metadata: ["lb.folder": "\(folder.path)"])
                    reload(force: true)
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    reload(force: false)
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Loads the folder when it changed (or when forced); returns whether a new set was installed.
    @discardableResult
    public func reload(force: Bool) -> Bool {
        let fingerprint = folder.fingerprint()
        let changed = state.withLock { $0.fingerprint != fingerprint }
        guard force || changed else { return false }
        do {
            let mapper = try folder.load()
            holder.replace(with: mapper)
            state.withLock {
                $0.fingerprint = fingerprint
                $0.status = Status(loaded: mapper, from: folder)
            }
            logger.notice("mappings loaded", metadata: ["lb.version": "\(mapper.version.prefix(12))", "lb.files": "\(mapper.plan.files.count)"])
            Self.logWarnings(mapper, logger)
            return true
        } catch {
            let errors = (error as? MappingLoadError)?.diagnostics.map(\.description) ?? ["\(error)"]
            state.withLock {
                $0.fingerprint = fingerprint
                $0.status.rejectedErrors = errors
                $0.status.rejectedAt = Self.now()
            }
            logger.error(
                "mapping edit refused; the previous mappings keep serving",
                metadata: ["lb.errors": "\(errors.prefix(20).joined(separator: "; "))", "lb.count": "\(errors.count)"])
            return false
        }
    }

    private static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }
}
