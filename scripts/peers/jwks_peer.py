#!/usr/bin/env python3
"""An identity provider's key endpoint for tests: GET /jwks.json answers the file <dir>/jwks.json as it is now (a
test rewrites it to rotate keys); every GET is counted in <dir>/requests.log. Serves on 127.0.0.1.

Prints "READY <port>" when serving. Exits after --lifetime seconds, or when its parent dies.
"""
import argparse
import os
import threading
from http.server import BaseHTTPRequestHandler

from peer_common import answer, serve_in_background, serve_until_done, stop_on_sigterm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    stop_on_sigterm()
    d = os.path.abspath(args.dir)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            with lock, open(os.path.join(d, "requests.log"), "a") as log:
                log.write(self.path + "\n")
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            answer(self, open(os.path.join(d, "jwks.json"), "rb").read())

    server = serve_in_background(Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    serve_until_done(args.lifetime)


if __name__ == "__main__":
    main()
