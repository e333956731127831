#!/usr/bin/env python3
"""A real RFC 3161 Time-Stamp Authority for tests: `openssl ts -reply` behind a small HTTP handler on 127.0.0.1.

On first start in --dir it makes the TSA's key and self-signed certificate (extendedKeyUsage timeStamping,
critical; EC P-256 or RSA 2048 by --key-type) and the openssl configuration; a restart in the same folder keeps
them, so a test can stop and start the TSA as a real outage. POST / takes application/timestamp-query and answers
application/timestamp-reply; every imprint it stamped is appended to <dir>/imprints.log.

Prints "READY <port>" when serving. Exits after --lifetime seconds, or when its parent dies.
"""
import argparse
import os
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler

from peer_common import answer, serve_in_background, serve_until_done, stop_on_sigterm

CONFIG = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3
other_policies = 1.3.6.1.4.1.4146.2.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def setup(d, key_type):
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "tsa.crt")):
        key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec" else ["-newkey", "rsa:2048"]
        subprocess.run(
            ["openssl", "req", "-x509", *key, "-nodes", "-keyout", os.path.join(d, "tsa.key"), "-out", os.path.join(d, "tsa.crt"),
             "-days", "30", "-subj", "/CN=Ledgerbridge test TSA", "-addext", "extendedKeyUsage=critical,timeStamping",
             "-addext", "keyUsage=critical,digitalSignature"], check=True, capture_output=True)
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")
    with open(os.path.join(d, "tsa.cnf"), "w") as f:
        f.write(CONFIG.format(dir=d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key-type", choices=["ec", "rsa"], default="ec")
    ap.add_argument("--lifetime", type=float, default=1800)
    args = ap.parse_args()
    stop_on_sigterm()
    d = os.path.abspath(args.dir)
    setup(d, args.key_type)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            with lock, tempfile.TemporaryDirectory() as t:
                qf, rf = os.path.join(t, "q.tsq"), os.path.join(t, "r.tsr")
                with open(qf, "wb") as f:
                    f.write(query)
                p = subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(d, "tsa.cnf"), "-queryfile", qf, "-out", rf],
                                   capture_output=True)
                if p.returncode != 0 or not os.path.exists(rf):
                    self.send_error(400, "bad time-stamp query")
                    return
                reply = open(rf, "rb").read()
                at = query.find(b"\x04\x20")
                with open(os.path.join(d, "imprints.log"), "a") as log:
                    log.write((query[at + 2:at + 34].hex() if at >= 0 else "?") + "\n")
            answer(self, reply, "application/timestamp-reply")

    server = serve_in_background(Handler, args.port, reuse_address=True)
    print(f"READY {server.server_address[1]}", flush=True)
    serve_until_done(args.lifetime)


if __name__ == "__main__":
    main()
