import Foundation
import Ledger
import X509

/// The anchor steps of `ledgerbridge verify`: that a bundle's receipts really anchor its tree head's root.
public enum AnchorChecks {
    public typealias Step = ProofBundleVerification.Step

    /// An RFC 3161 receipt: the token stamps the root and verifies with the TSA certificate you trust.
    public static func rfc3161(_ receipt: AnchorReceipt, root: [UInt8], certificate: Certificate) -> Step {
        let name = "anchor \(receipt.backend)"
        guard receipt.status == "anchored", let base64 = receipt.token, let der = Data(base64Encoded: base64) else {
            return Step(name: name, passed: false, detail: "no time-stamp token (status \(receipt.status))")
        }
        do {
            let token = try RFC3161.parseToken(Array(der))
            try RFC3161.verify(token, imprint: root, certificate: certificate)
            return Step(
                name: name, passed: true,
                detail: "RFC 3161 token of \(token.genTime) (serial \(Hex.encode(token.serialNumber))) stamps the root; signed by the trusted TSA")
        } catch {
            return Step(name: name, passed: false, detail: "\(error)")
        }
    }

    /// An Ethereum receipt: the transaction exists on the node's chain, in the receipt's block, succeeded, and its
    /// data is the tree head's signed bytes.
    public static func ethereum(_ receipt: AnchorReceipt, head: SignedTreeHead, rpc url: URL) async -> Step {
        let name = "anchor \(receipt.backend)"
        guard receipt.status == "anchored", let hash = receipt.txHash else {
            return Step(name: name, passed: false, detail: "no transaction (status \(receipt.status))")
        }
        let rpc = EthereumRPC(url: url, timeout: 15)
        do {
            let chain = try await rpc.call("eth_chainId", []).string ?? "?"
            if let expected = receipt.chainId, expected.lowercased() != chain.lowercased() {
                return Step(name: name, passed: false, detail: "the node is on chain \(chain), the receipt names chain \(expected)")
            }
            let tx = try await rpc.call("eth_getTransactionByHash", [.string(hash)])
            guard let input = tx["input"]?.string ?? tx["data"]?.string else {
                return Step(name: name, passed: false, detail: "transaction \(hash) is not on this chain")
            }
            guard input.lowercased() == "0x" + Hex.encode(head.anchorPayload) else {
                return Step(name: name, passed: false, detail: "transaction \(hash) carries other data than this tree head")
            }
            guard let mined = try await rpc.receipt(hash), mined.succeeded else {
                return Step(name: name, passed: false, detail: "transaction \(hash) is not in a block, or failed")
            }
            if let block = receipt.blockHash, block.lowercased() != mined.blockHash.lowercased() {
                return Step(name: name, passed: false, detail: "transaction \(hash) is now in block \(mined.blockHash), not \(block)")
            }
            let latest = try await rpc.blockNumber()
            let depth = latest >= mined.blockNumber ? latest - mined.blockNumber + 1 : 0
            return Step(
                name: name, passed: true,
                detail: "transaction \(hash) in block \(mined.blockNumber) of chain \(chain) carries the tree head (\(depth) confirmations)")
        } catch {
            return Step(name: name, passed: false, detail: "\(error)")
        }
    }
}
