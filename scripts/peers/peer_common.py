"""What the test peers share: stopping on SIGTERM whatever the parent set, and a bounded lifetime."""
import os
import signal
import sys
import threading
import time
from http.server import ThreadingHTTPServer


def stop_on_sigterm():
    # A test process may have been started with SIGTERM ignored, which children inherit: stop on it regardless.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def serve_until_done(lifetime):
    """Returns (and exits) after `lifetime` seconds, or as soon as the process that started the peer is gone."""
    parent = os.getppid()
    deadline = time.time() + lifetime
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(0.5)
    sys.exit(0)


def answer(handler, body, content_type="application/json", status=200):
    """Writes one complete HTTP answer on a BaseHTTPRequestHandler."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def serve_in_background(handler, port=0, reuse_address=False):
    """Starts a threaded HTTP server for `handler` on 127.0.0.1 (`port` 0: any free one) and returns it."""
    if reuse_address:
        ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
