import Store

/// Why ingest could not take a message. Nothing was stored: the sender must send again (HTTP 503, MLLP AE).
public enum IngestError: Error, Sendable, CustomStringConvertible {
    /// More is waiting for the store than the queue holds: back off.
    case overloaded(pendingUnits: Int)
    /// The store did not commit (unreachable, or it refused the transaction).
    case storeUnavailable(String)

    public var description: String {
        switch self {
        case .overloaded(let n): "ingest queue full (\(n) messages waiting for the store); send again shortly"
        case .storeUnavailable(let s): "the record store is unavailable (\(s)); nothing was stored, send again"
        }
    }
}

/// Group commit: concurrent callers' units are written together in one store transaction, with at most the store's
/// `maxConcurrentCommits` transactions at a time (one for SQLite), so many small messages cost about one commit's
/// latency each round instead of one fsync apiece.
///
/// A caller's `submit` returns only after the transaction holding its units committed (durable before acknowledged).
/// The queue is bounded: past `capacity` waiting units, `submit` throws `IngestError.overloaded` at once instead of
/// growing memory. If a group's commit fails and it held several callers, each caller's units are retried alone, so
/// one caller's bad unit cannot fail the others.
public actor CommitQueue {
    private struct Pending {
        var units: [IngestUnit]
        var continuation: CheckedContinuation<[UnitResult], any Error>
    }

    public nonisolated let store: any RecordStore
    public nonisolated let capacity: Int
    public nonisolated let maxGroupUnits: Int
    private var pending: [Pending] = []
    private var pendingUnits = 0
    /// Flush loops running (at most the store's `maxConcurrentCommits`).
    private var flushing = 0

    public init(store: any RecordStore, capacity: Int = 20_000, maxGroupUnits: Int = 1_000) {
        self.store = store
        self.capacity = capacity
        self.maxGroupUnits = maxGroupUnits
    }

    /// Units waiting for the store now (for metrics and health).
    public var depth: Int { pendingUnits }

    /// Told of every commit's results once it is durable (the anchor service feeds its tree from them).
    private var observer: (@Sendable ([UnitResult]) -> Void)?

    public func setCommitObserver(_ observer: @escaping @Sendable ([UnitResult]) -> Void) { self.observer = observer }

    public func submit(_ units: [IngestUnit]) async throws -> [UnitResult] {
        if units.isEmpty { return [] }
        if pendingUnits + units.count > capacity, pendingUnits > 0 {
            throw IngestError.overloaded(pendingUnits: pendingUnits)
        }
        return try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(units: units, continuation: continuation))
            pendingUnits += units.count
            if flushing < store.maxConcurrentCommits {
                flushing += 1
                Task { await self.flush() }
            }
        }
    }

    private func takeGroup() -> [Pending] {
        var group: [Pending] = []
        var count = 0
        while let first = pending.first, group.isEmpty || count + first.units.count <= maxGroupUnits {
            group.append(pending.removeFirst())
            count += first.units.count
        }
        pendingUnits -= count
        return group
    }

    private func flush() async {
        while !pending.isEmpty {
            let group = takeGroup()
            let units = group.flatMap(\.units)
            do {
                let results = try await store.commit(units)
                observer?(results)
                var offset = 0
                for p in group {
                    p.continuation.resume(returning: Array(results[offset..<offset + p.units.count]))
                    offset += p.units.count
                }
            } catch {
                // An unreachable store fails everyone at once (retrying one by one would only wait out its deadline
                // again and again); a store that refused the data is retried caller by caller, to isolate the culprit;
                // a conflict with a concurrent commit (the same new record written by two at once) is committed again,
                // alone, a few times: the second attempt sees what the other wrote.
                if Self.isUnavailable(error) || (group.count == 1 && !Self.isConflict(error)) {
                    let wrapped = Self.wrap(error)
                    for p in group { p.continuation.resume(throwing: wrapped) }
                } else {
                    for p in group {
                        do {
                            let results = try await commitAlone(p.units)
                            observer?(results)
                            p.continuation.resume(returning: results)
                        } catch {
                            p.continuation.resume(throwing: Self.wrap(error))
                        }
                    }
                }
            }
        }
        flushing -= 1
    }

    /// One caller's units on their own, again while they only meet concurrent commits (up to 5 tries, a few
    /// milliseconds apart, so a race that repeats does not spin).
    private func commitAlone(_ units: [IngestUnit]) async throws -> [UnitResult] {
        var attempt = 0
        while true {
            do {
                return try await store.commit(units)
            } catch  where Self.isConflict(error) && attempt < 4 {
                attempt += 1
                try? await Task.sleep(for: .milliseconds(Int.random(in: 1...5) * attempt))
            }
        }
    }

    private static func isConflict(_ error: any Error) -> Bool {
        if case .conflict = error as? StoreError { return true }
        return false
    }

    private static func isUnavailable(_ error: any Error) -> Bool {
        if case .unavailable = error as? StoreError { return true }
        return !(error is StoreError)
    }

    private static func wrap(_ error: any Error) -> IngestError {
        if let e = error as? IngestError { return e }
        if let e = error as? StoreError, case .unavailable(let s) = e { return .storeUnavailable(s) }
        return .storeUnavailable("\(error)")
    }
}
