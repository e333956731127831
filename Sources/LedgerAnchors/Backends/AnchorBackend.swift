import Foundation
import Ledger
import Store

extension AnchorReceipt {
    /// A receipt as an outbox row keeps it (JSON, keys sorted); nil when the text is not one.
    public init?(json: String) {
        guard let r = try? JSONDecoder().decode(AnchorReceipt.self, from: Data(json.utf8)) else { return nil }
        self = r
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// One ledger a tree head is anchored to. The anchor worker calls `advance` for an outbox row until it says
/// `anchored`; whatever it returns is written to the row (state, receipt, next attempt) before the next call.
public protocol AnchorBackend: Sendable {
    /// The configured name (the outbox row's `backend`).
    var name: String { get }
    /// `local`, `ethereum` or `rfc3161`.
    var type: String { get }
    /// Moves one tree head's anchoring forward from `state`, given what the previous call left in `previous`.
    func advance(head: SignedTreeHead, state: AnchorState, previous: AnchorReceipt?) async throws(AnchorBackendError) -> AnchorProgress
}

public enum AnchorProgress: Sendable {
    /// Done; the receipt is the proof.
    case anchored(AnchorReceipt)
    /// Sent; ask again after this many seconds (e.g. for confirmations).
    case submitted(AnchorReceipt, checkAgainIn: Double)
    /// What was sent is gone (an Ethereum reorg dropped the transaction): send again now.
    case resend(AnchorReceipt, reason: String)
}

/// A failed attempt: retried with backoff. `progress` is a receipt worth keeping meanwhile (for instance the block
/// from which a retry looks for an attempt that may have reached the ledger).
public struct AnchorBackendError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public var progress: AnchorReceipt?
    public init(_ description: String, progress: AnchorReceipt? = nil) {
        self.description = description
        self.progress = progress
    }
}
