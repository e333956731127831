#!/usr/bin/env python3
"""A real Ethereum node for tests: eth-tester's py-evm backend (a real EVM, in memory) behind a small JSON-RPC
HTTP server, on 127.0.0.1 only.

Two ports. The RPC port speaks the JSON-RPC subset the gateway and `ledgerbridge verify` use (eth_chainId,
eth_accounts, eth_blockNumber, eth_sendTransaction, eth_getTransactionReceipt, eth_getTransactionByHash,
eth_getBlockByNumber) plus evm_mine, evm_snapshot and evm_revert. The control port lets a test take the RPC port
down and up again while the chain lives on (POST /rpc/stop, /rpc/start), delay the next answer to a method (POST
/delay: the call takes effect at once, the answer comes late), make calls (POST /call: mine, revert for a reorg),
and list every transaction on the canonical chain (GET /transactions).

Prints "READY <rpc port> <control port>" when serving. Exits after --lifetime seconds, or when its parent dies.
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler

from peer_common import answer, serve_in_background, serve_until_done, stop_on_sigterm

from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionNotFound, BlockNotFound

LOCK = threading.RLock()
TESTER = EthereumTester(PyEVMBackend())
CHAIN_ID = hex(TESTER.backend.chain.chain_id)
SNAPSHOTS = {}
# method -> seconds: the next answer to that method comes this late (the call itself is carried out at once), so a
# test can make a client time out on a call that took effect.
DELAYS = {}


def q(n):
    return hex(n) if isinstance(n, int) else n


def tx_json(tx):
    return {
        "hash": tx["hash"], "from": tx["from"], "to": tx["to"], "input": tx["data"], "nonce": q(tx["nonce"]),
        "blockHash": tx.get("block_hash"), "blockNumber": q(tx.get("block_number")), "value": q(tx["value"]),
        "gas": q(tx["gas"]), "chainId": q(tx.get("chain_id", 0)),
    }


def receipt_json(r):
    return {
        "transactionHash": r["transaction_hash"], "blockHash": r["block_hash"], "blockNumber": q(r["block_number"]),
        "status": q(r["status"]), "from": r["from"], "to": r["to"], "gasUsed": q(r["gas_used"]),
        "transactionIndex": q(r["transaction_index"]), "logs": [],
    }


def block_json(b, full):
    txs = [tx_json(TESTER.get_transaction_by_hash(h)) if full else h for h in b["transactions"]]
    return {"number": q(b["number"]), "hash": b["hash"], "parentHash": b["parent_hash"], "timestamp": q(b["timestamp"]),
            "transactions": txs}


def rpc(method, params):
    with LOCK:
        if method == "eth_chainId":
            return CHAIN_ID
        if method == "eth_accounts":
            return TESTER.get_accounts()
        if method == "eth_blockNumber":
            return q(TESTER.get_block_by_number("latest")["number"])
        if method == "eth_sendTransaction":
            t = dict(params[0])
            tx = {"from": t["from"], "to": t.get("to", t["from"]), "value": int(t.get("value", "0x0"), 16),
                  "data": t.get("data", t.get("input", "0x")), "gas": int(t.get("gas", "0x30d40"), 16)}
            return TESTER.send_transaction(tx)
        if method == "eth_getTransactionReceipt":
            try:
                r = TESTER.get_transaction_receipt(params[0])
            except TransactionNotFound:
                return None
            return receipt_json(r) if r.get("block_hash") else None
        if method == "eth_getTransactionByHash":
            try:
                return tx_json(TESTER.get_transaction_by_hash(params[0]))
            except TransactionNotFound:
                return None
        if method == "eth_getBlockByNumber":
            n = params[0]
            try:
                b = TESTER.get_block_by_number(n if n in ("latest", "earliest", "pending") else int(n, 16))
            except BlockNotFound:
                return None
            return block_json(b, bool(params[1]) if len(params) > 1 else False)
        if method == "evm_mine":
            TESTER.mine_blocks(int(params[0]) if params else 1)
            return q(TESTER.get_block_by_number("latest")["number"])
        if method == "evm_snapshot":
            sid = TESTER.take_snapshot()
            key = hex(len(SNAPSHOTS) + 1)
            SNAPSHOTS[key] = sid
            return key
        if method == "evm_revert":
            TESTER.revert_to_snapshot(SNAPSHOTS[params[0]])
            return True
    raise KeyError(method)


class RPCHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        delay = DELAYS.pop(body.get("method"), 0)
        try:
            reply_body = {"jsonrpc": "2.0", "id": body.get("id"), "result": rpc(body["method"], body.get("params", []))}
        except KeyError as e:
            reply_body = {"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": -32601, "message": f"method not found: {e}"}}
        except Exception as e:  # the node's refusal, as a JSON-RPC error
            reply_body = {"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": -32000, "message": str(e)}}
        data = json.dumps(reply_body).encode()
        if delay:
            threading.Event().wait(delay)
        try:
            answer(self, data)
        except OSError:
            pass  # the client gave up waiting


class RPCPort:
    def __init__(self, port):
        self.port = port
        self.server = None
        self.start()

    def start(self):
        if self.server is None:
            self.server = serve_in_background(RPCHandler, self.port, reuse_address=True)
            self.port = self.server.server_address[1]

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=1800)
    args = ap.parse_args()
    stop_on_sigterm()
    rpc_port = RPCPort(0)

    class Control(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, value):
            answer(self, json.dumps(value).encode())

        def do_GET(self):
            if self.path == "/transactions":
                with LOCK:
                    latest = TESTER.get_block_by_number("latest")["number"]
                    out = []
                    for n in range(latest + 1):
                        for h in TESTER.get_block_by_number(n)["transactions"]:
                            out.append(tx_json(TESTER.get_transaction_by_hash(h)))
                self.reply(out)
            else:
                self.send_error(404)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self.path == "/rpc/stop":
                rpc_port.stop()
                self.reply(True)
            elif self.path == "/rpc/start":
                rpc_port.start()
                self.reply(True)
            elif self.path == "/delay":
                DELAYS[body["method"]] = float(body["seconds"])
                self.reply(True)
            elif self.path == "/call":
                self.reply(rpc(body["method"], body.get("params", [])))
            else:
                self.send_error(404)

    control = serve_in_background(Control)
    print(f"READY {rpc_port.port} {control.server_address[1]}", flush=True)
    serve_until_done(args.lifetime)


if __name__ == "__main__":
    main()
