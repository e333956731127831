import Foundation
import Ledger
import Store

/// Anchors tree heads on an Ethereum chain through a node's JSON-RPC: `eth_sendTransaction` from a configured
/// account (the node, or a signing proxy in front of it, holds the key), with the tree head's signed bytes as the
/// transaction data; then `eth_getTransactionReceipt` until the block is `confirmations` deep. A receipt that
/// disappears (a reorg dropped the block) is sent again.
public struct EthereumBackend: AnchorBackend {
    public struct Configuration: Sendable, Hashable, Codable {
        public var rpcURL: String
        /// The sending account; the node's first account when unset.
        public var from: String?
        /// The recipient; the sending account itself when unset (a zero-value transaction to oneself).
        public var to: String?
        public var confirmations: Int = 2
        /// Gas limit; the node estimates it when unset.
        public var gas: Int?
        /// When set, a node on another chain is refused.
        public var chainId: String?
        public var timeoutSeconds: Double = 10
        /// How often a sent transaction is looked at while it waits for confirmations.
        public var pollSeconds: Double = 2
        /// Blocks searched for an earlier attempt whose answer was lost (a timeout after sending).
        public var searchBlocks: Int = 256

        public init(rpcURL: String) { self.rpcURL = rpcURL }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rpcURL = try c.decode(String.self, forKey: .rpcURL)
            from = try c.decodeIfPresent(String.self, forKey: .from)
            to = try c.decodeIfPresent(String.self, forKey: .to)
            confirmations = try c.decodeIfPresent(Int.self, forKey: .confirmations) ?? 2
            gas = try c.decodeIfPresent(Int.self, forKey: .gas)
            chainId = try c.decodeIfPresent(String.self, forKey: .chainId)
            timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 10
            pollSeconds = try c.decodeIfPresent(Double.self, forKey: .pollSeconds) ?? 2
            searchBlocks = try c.decodeIfPresent(Int.self, forKey: .searchBlocks) ?? 256
        }
    }

    public let name: String
    public let type = "ethereum"
    public let configuration: Configuration
    let rpc: EthereumRPC

    public init(name: String = "ethereum", configuration: Configuration) throws(AnchorBackendError) {
        guard let url = URL(string: configuration.rpcURL), url.scheme == "http" || url.scheme == "https" else {
            throw AnchorBackendError("ethereum rpcURL \(configuration.rpcURL) is not an http(s) URL")
        }
        self.name = name
        self.configuration = configuration
        rpc = EthereumRPC(url: url, timeout: configuration.timeoutSeconds)
    }

    public func advance(
        head: SignedTreeHead, state: AnchorState, previous: AnchorReceipt?
    ) async throws(AnchorBackendError)
        -> AnchorProgress
    {
        let data = "0x" + Hex.encode(head.anchorPayload)
        var receipt = previous ?? AnchorReceipt(backend: name, type: type, status: AnchorState.pending.rawValue)
        switch state {
        case .anchored:
            return .anchored(receipt)
        case .submitted:
            return try await check(receipt, data: data)
        case .pending:
            // An earlier attempt may have reached the chain: a transaction we were told of, or one whose answer was
            // lost. Look before sending again, so a head is not anchored twice.
            if receipt.txHash != nil, let found = try await rpc.receipt(receipt.txHash!), found.succeeded {
                return try await check(receipt, data: data)
            }
            if let from = receipt.scanFromBlock, receipt.txHash == nil,
                let tx = try await rpc.findTransaction(data: data, fromBlock: from, limit: configuration.searchBlocks)
            {
                receipt.txHash = tx
                return try await check(receipt, data: data)
            }
            let chainId = try await rpc.call("eth_chainId", []).string ?? "?"
            if let expected = configuration.chainId, expected.lowercased() != chainId.lowercased() {
                throw AnchorBackendError("the node is on chain \(chainId), the configuration names \(expected)")
            }
            let sender: String
            if let from = configuration.from {
                sender = from
            } else {
                guard let first = try await rpc.call("eth_accounts", []).array?.first?.string else {
                    throw AnchorBackendError("the node has no account to send from; set 'from'")
                }
                sender = first
            }
            let startBlock = try await rpc.blockNumber()
            receipt = AnchorReceipt(backend: name, type: type, status: AnchorState.submitted.rawValue)
            receipt.chainId = chainId
            receipt.from = sender
            receipt.to = configuration.to ?? sender
            receipt.scanFromBlock = startBlock
            var tx: [String: EthereumRPC.JSON] = [
                "from": .string(sender), "to": .string(receipt.to!), "value": .string("0x0"), "data": .string(data),
            ]
            if let gas = configuration.gas { tx["gas"] = .string("0x" + String(gas, radix: 16)) }
            do throws(AnchorBackendError) {
                guard let hash = try await rpc.call("eth_sendTransaction", [.object(tx)]).string else {
                    throw AnchorBackendError("eth_sendTransaction answered no transaction hash", progress: receipt)
                }
                receipt.txHash = hash
            } catch let error {
                // Keep where to look from: the next attempt searches these blocks before sending again.
                var e = error
                e.progress = receipt
                throw e
            }
            return .submitted(receipt, checkAgainIn: 0)
        }
    }

    /// Looks at a sent transaction: mined and deep enough, still waiting, or gone.
    private func check(_ sent: AnchorReceipt, data: String) async throws(AnchorBackendError) -> AnchorProgress {
        var receipt = sent
        guard let hash = receipt.txHash else { throw AnchorBackendError("no transaction hash to check") }
        guard let mined = try await rpc.receipt(hash) else {
            if receipt.blockHash != nil {
                // It was in a block and is no longer: a reorg. Send it again.
                let reason = "transaction \(hash) left the chain (block \(receipt.blockNumber ?? 0) \(receipt.blockHash ?? "") was reorganised away)"
                var again = AnchorReceipt(backend: name, type: type, status: AnchorState.pending.rawValue)
                again.chainId = receipt.chainId
                return .resend(again, reason: reason)
            }
            return .submitted(receipt, checkAgainIn: configuration.pollSeconds)
        }
        guard mined.succeeded else {
            var again = AnchorReceipt(backend: name, type: type, status: AnchorState.pending.rawValue)
            again.chainId = receipt.chainId
            return .resend(again, reason: "transaction \(hash) failed (status 0) in block \(mined.blockNumber)")
        }
        let latest = try await rpc.blockNumber()
        receipt.blockNumber = mined.blockNumber
        receipt.blockHash = mined.blockHash
        let depth = latest >= mined.blockNumber ? Int(latest - mined.blockNumber) + 1 : 0
        receipt.confirmations = depth
        if depth >= configuration.confirmations {
            receipt.status = AnchorState.anchored.rawValue
            receipt.scanFromBlock = nil
            return .anchored(receipt)
        }
        receipt.status = AnchorState.submitted.rawValue
        return .submitted(receipt, checkAgainIn: configuration.pollSeconds)
    }
}

/// A minimal Ethereum JSON-RPC client over `HTTPPost`.
public struct EthereumRPC: Sendable {
    public let url: URL
    public let timeout: Double

    public init(url: URL, timeout: Double) {
        self.url = url
        self.timeout = timeout
    }

    /// JSON values as JSON-RPC carries them.
    public indirect enum JSON: Sendable, Hashable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([JSON])
        case object([String: JSON])

        public var string: String? { if case .string(let s) = self { s } else { nil } }
        public var array: [JSON]? { if case .array(let a) = self { a } else { nil } }
        public subscript(key: String) -> JSON? { if case .object(let o) = self { o[key] } else { nil } }

        init(_ any: Any) {
            switch any {
            case let s as String: self = .string(s)
            case let b as Bool: self = .bool(b)
            case let n as NSNumber: self = .number(n.doubleValue)
            case let a as [Any]: self = .array(a.map(JSON.init))
            case let o as [String: Any]: self = .object(o.mapValues(JSON.init))
            default: self = .null
            }
        }

        var any: Any {
            switch self {
            case .null: NSNull()
            case .bool(let b): b
            case .number(let n): n
            case .string(let s): s
            case .array(let a): a.map(\.any)
            case .object(let o): o.mapValues(\.any)
            }
        }
    }

    public func call(_ method: String, _ params: [JSON]) async throws(AnchorBackendError) -> JSON {
        let request: [String: Any] = ["jsonrpc": "2.0", "id": 1, "method": method, "params": params.map(\.any)]
        let body: Data
        do { body = try JSONSerialization.data(withJSONObject: request) } catch { throw AnchorBackendError("\(method): cannot encode the request") }
        let answer: (status: Int, contentType: String?, body: [UInt8])
        do {
            answer = try await HTTPPost.send(url, body: Array(body), contentType: "application/json", accept: "application/json", timeout: timeout)
        } catch {
            throw AnchorBackendError("\(method): \(error.description)")
        }
        guard answer.status == 200 else { throw AnchorBackendError("\(method): the node answered HTTP \(answer.status)") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any] else {
            throw AnchorBackendError("\(method): the node's answer is not a JSON-RPC object")
        }
        if let error = object["error"] as? [String: Any] {
            throw AnchorBackendError("\(method): the node refused: \(error["message"] as? String ?? "error \(error["code"] ?? "?")")")
        }
        return JSON(object["result"] ?? NSNull())
    }

    public struct Mined: Sendable {
        public var blockNumber: UInt64
        public var blockHash: String
        public var succeeded: Bool
    }

    public func receipt(_ hash: String) async throws(AnchorBackendError) -> Mined? {
        let r = try await call("eth_getTransactionReceipt", [.string(hash)])
        guard let number = r["blockNumber"]?.string.flatMap(Self.quantity), let block = r["blockHash"]?.string else { return nil }
        return Mined(blockNumber: number, blockHash: block, succeeded: r["status"]?.string.flatMap(Self.quantity) != 0)
    }

    public func blockNumber() async throws(AnchorBackendError) -> UInt64 {
        guard let n = try await call("eth_blockNumber", []).string.flatMap(Self.quantity) else {
            throw AnchorBackendError("eth_blockNumber answered no number")
        }
        return n
    }

    /// A transaction with exactly this data in the blocks from `fromBlock` on (at most `limit` blocks).
    public func findTransaction(data: String, fromBlock: UInt64, limit: Int) async throws(AnchorBackendError) -> String? {
        let latest = try await blockNumber()
        guard latest >= fromBlock else { return nil }
        var n = fromBlock
        while n <= latest, n < fromBlock + UInt64(max(limit, 1)) {
            let block = try await call("eth_getBlockByNumber", [.string("0x" + String(n, radix: 16)), .bool(true)])
            for tx in block["transactions"]?.array ?? [] where (tx["input"]?.string ?? tx["data"]?.string)?.lowercased() == data.lowercased() {
                if let hash = tx["hash"]?.string { return hash }
            }
            n += 1
        }
        return nil
    }

    /// An Ethereum quantity (`0x…`) as a number.
    public static func quantity(_ s: String) -> UInt64? {
        guard s.hasPrefix("0x") else { return UInt64(s) }
        return UInt64(s.dropFirst(2), radix: 16)
    }
}
