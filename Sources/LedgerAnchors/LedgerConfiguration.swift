import Foundation

/// `ledger:` in the configuration file: when heads are sealed, how anchors are retried, and the backends.
public struct LedgerConfiguration: Sendable, Decodable {
    /// One backend. `type` says which; the other keys are that type's.
    public struct Backend: Sendable, Decodable {
        public var name: String
        public var type: String
        /// local: the checkpoint file (default `checkpoints.jsonl` beside the store).
        public var checkpointFile: String?
        public var ethereum: EthereumBackend.Configuration?
        public var rfc3161: RFC3161Backend.Configuration?

        public static func local(path: String? = nil) -> Backend {
            Backend(name: "local", type: "local", checkpointFile: path)
        }

        init(name: String, type: String, checkpointFile: String? = nil) {
            self.name = name
            self.type = type
            self.checkpointFile = checkpointFile
        }

        enum CodingKeys: String, CodingKey { case name, type, checkpointFile }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decode(String.self, forKey: .type)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? type
            switch type {
            case "local": checkpointFile = try c.decodeIfPresent(String.self, forKey: .checkpointFile)
            case "ethereum": ethereum = try EthereumBackend.Configuration(from: decoder)
            case "rfc3161": rfc3161 = try RFC3161Backend.Configuration(from: decoder)
            default:
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: c.codingPath + [CodingKeys.type],
                        debugDescription: "unknown ledger backend type '\(type)' (local, ethereum, rfc3161)"))
            }
        }
    }

    /// False only to measure the cost of anchoring (Benchmarks/anchoring): entries are still logged in every commit,
    /// but no head is sealed or anchored, so nothing new becomes provable.
    public var enabled = true
    public var batchEntries = 1_000
    public var batchSeconds = 10.0
    public var retryInitialSeconds = 1.0
    public var retryMaxSeconds = 300.0
    public var backends: [Backend] = [.local()]

    public init() {}

    enum CodingKeys: String, CodingKey { case enabled, batchEntries, batchSeconds, retryInitialSeconds, retryMaxSeconds, backends }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LedgerConfiguration()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        batchEntries = try c.decodeIfPresent(Int.self, forKey: .batchEntries) ?? d.batchEntries
        batchSeconds = try c.decodeIfPresent(Double.self, forKey: .batchSeconds) ?? d.batchSeconds
        retryInitialSeconds = try c.decodeIfPresent(Double.self, forKey: .retryInitialSeconds) ?? d.retryInitialSeconds
        retryMaxSeconds = try c.decodeIfPresent(Double.self, forKey: .retryMaxSeconds) ?? d.retryMaxSeconds
        backends = try c.decodeIfPresent([Backend].self, forKey: .backends) ?? d.backends
        let names = backends.map(\.name)
        guard Set(names).count == names.count else {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.backends], debugDescription: "ledger backend names must be unique"))
        }
        guard batchEntries >= 1, batchSeconds > 0 else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [CodingKeys.batchEntries], debugDescription: "batchEntries and batchSeconds must be positive"))
        }
    }

    public var schedule: AnchorSchedule {
        var s = AnchorSchedule()
        s.batchEntries = batchEntries
        s.batchSeconds = batchSeconds
        s.retryInitialSeconds = retryInitialSeconds
        s.retryMaxSeconds = retryMaxSeconds
        s.tickSeconds = min(0.5, batchSeconds / 2)
        return s
    }

    /// The backends, built; `dataDirectory` is where a local checkpoint file goes by default.
    public func makeBackends(dataDirectory: String) throws(AnchorBackendError) -> [any AnchorBackend] {
        try backends.map { b throws(AnchorBackendError) -> any AnchorBackend in
            switch b.type {
            case "ethereum": try EthereumBackend(name: b.name, configuration: b.ethereum!)
            case "rfc3161": try RFC3161Backend(name: b.name, configuration: b.rfc3161!)
            default:
                LocalCheckpointBackend(
                    name: b.name, path: b.checkpointFile ?? (dataDirectory as NSString).appendingPathComponent("checkpoints.jsonl"))
            }
        }
    }
}
