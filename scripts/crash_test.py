#!/usr/bin/env python3
"""Crash test: sends N HL7 v2 messages over MLLP and HTTP to a real `ledgerbridge serve` while killing it with
SIGKILL and restarting it several times, then checks that every acknowledged message is stored exactly once.

Senders behave like EHRs: a message is sent until it is acknowledged AA (a dropped connection, an AE or a 503 means
"send again"). At the end, every message that got an AA must have exactly one accepted inbound row, the duplicates
must account for every resend, and each message's Patient must exist once.

    crash_test.py --binary .build/debug/ledgerbridge --config cfg.yaml --http-port P --mllp-port Q \
                  --psql "psql -h 127.0.0.1 -p 5432 -U postgres -d db" [--messages 10000] [--kills 4]

Prints a JSON summary on the last line; exits 1 when a check fails.
"""
import argparse
import http.client
import json
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


def message(n: int) -> bytes:
    return (
        f"MSH|^~\\&|CRASH|HOSP|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|CRASH-{n}|P|2.5.1\r"
        f"PID|1||C{n}^^^HOSP^MR||Crash^Test||19700101|F\r"
    ).encode()


def msa(ack: bytes):
    for segment in ack.replace(b"\n", b"\r").split(b"\r"):
        if segment.startswith(b"MSA|"):
            fields = segment.decode(errors="replace").split("|")
            return fields[1], fields[2] if len(fields) > 2 else ""
    return None, None


class Gateway:
    def __init__(self, binary, config, http_port, log_path):
        self.binary, self.config, self.http_port, self.log_path = binary, config, http_port, log_path
        self.log = open(log_path, "ab")
        self.process = None
        self.start_seconds = []
        self.lock = threading.Lock()

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def start(self):
        with self.lock:
            self.process = subprocess.Popen(
                [self.binary, "serve", "--config", self.config], stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL
            )
        started = time.time()
        deadline = started + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with status {self.process.returncode} while starting; its log ends:\n{self.log_tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    self.start_seconds.append(time.time() - started)
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the gateway did not answer /health within 90 s; its log ends:\n{self.log_tail()}")

    def kill(self):
        with self.lock:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self):
        with self.lock:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Sender(threading.Thread):
    def __init__(self, kind, numbers, port, acked, stats):
        super().__init__(daemon=True)
        self.kind, self.numbers, self.port, self.acked, self.stats = kind, numbers, port, acked, stats
        self.sock = None
        self.error = None

    def send_mllp(self, body: bytes):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock.sendall(SB + body + EB + CR)
        data = b""
        while EB + CR not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return msa(data[data.index(SB) + 1 : data.index(EB)])

    def send_http(self, body: bytes):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", "/feeds/hl7v2", body=body, headers={"Content-Type": "x-application/hl7-v2+er7"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return msa(data)

    def run(self):
        try:
            for n in self.numbers:
                body = message(n)
                attempts = 0
                while True:
                    attempts += 1
                    try:
                        code, control = self.send_mllp(body) if self.kind == "mllp" else self.send_http(body)
                    except OSError:
                        code, control = None, None
                        if self.sock is not None:
                            self.sock.close()
                            self.sock = None
                    if code == "AA" and control == f"CRASH-{n}":
                        self.acked[n] = attempts
                        break
                    self.stats["retries"] += 1
                    if attempts > 400:
                        raise RuntimeError(f"message {n} never acknowledged")
                    time.sleep(0.05)
        except Exception as e:  # noqa: BLE001 - reported in the summary
            self.error = repr(e)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--mllp-port", type=int, required=True)
    p.add_argument("--psql", required=True)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--kills", type=int, default=4)
    p.add_argument("--senders", type=int, default=4, help="per channel")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--log", required=True, help="the gateway's output goes here (shown when it fails to start)")
    args = p.parse_args()
    random.seed(args.seed)

    gateway = Gateway(args.binary, args.config, args.http_port, args.log)
    gateway.start()
    acked = {}
    stats = {"retries": 0}
    senders = []
    numbers = list(range(args.messages))
    per = 2 * args.senders
    for i in range(per):
        kind = "mllp" if i % 2 == 0 else "http"
        port = args.mllp_port if kind == "mllp" else args.http_port
        senders.append(Sender(kind, numbers[i::per], port, acked, stats))
    started = time.time()
    for s in senders:
        s.start()

    kills = 0
    while kills < args.kills and any(s.is_alive() for s in senders):
        time.sleep(random.uniform(0.8, 2.0))
        gateway.kill()
        kills += 1
        time.sleep(0.2)
        gateway.start()
    for s in senders:
        s.join()
    elapsed = time.time() - started
    gateway.stop()

    def query(sql):
        out = subprocess.run(shlex.split(args.psql) + ["-At", "-c", sql], capture_output=True, text=True, check=True)
        return [line for line in out.stdout.splitlines() if line]

    accepted = query("SELECT message_key FROM inbound_messages WHERE outcome = 'accepted'")
    accepted_set = set(accepted)
    duplicates = int(query("SELECT COUNT(*) FROM inbound_messages WHERE outcome = 'duplicate'")[0])
    other = query("SELECT outcome || ':' || COUNT(*) FROM inbound_messages WHERE outcome NOT IN ('accepted', 'duplicate') GROUP BY outcome")
    patients = int(query("SELECT COUNT(*) FROM resources WHERE resource_type = 'Patient'")[0])
    versions = int(query("SELECT COUNT(*) FROM resource_versions")[0])
    ledger = int(query("SELECT COUNT(DISTINCT leaf_index) FROM resource_versions")[0])

    problems = []
    errors = [s.error for s in senders if s.error]
    if errors:
        problems.append(f"senders failed: {errors[:3]}")
    missing = [n for n in acked if f"CRASH-{n}" not in accepted_set]
    if missing:
        problems.append(f"{len(missing)} acknowledged messages not stored, e.g. {missing[:5]}")
    if len(accepted) != len(accepted_set):
        problems.append(f"{len(accepted) - len(accepted_set)} messages stored more than once")
    if len(acked) != args.messages:
        problems.append(f"only {len(acked)} of {args.messages} messages acknowledged")
    if len(accepted_set) != args.messages:
        problems.append(f"{len(accepted_set)} accepted rows for {args.messages} messages")
    if patients != args.messages or versions != ledger:
        problems.append(f"{patients} patients, {versions} versions, {ledger} ledger entries")
    if other:
        problems.append(f"unexpected outcomes: {other}")

    summary = {
        "messages": args.messages,
        "acknowledged": len(acked),
        "accepted_rows": len(accepted),
        "duplicate_rows": duplicates,
        "resends": stats["retries"],
        "kills": kills,
        "patients": patients,
        "seconds": round(elapsed, 1),
        "slowest_start_seconds": round(max(gateway.start_seconds), 1),
        "problems": problems,
    }
    print(json.dumps(summary))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
