"""What the test peers share: stopping on SIGTERM whatever the parent set, and a bounded lifetime."""
import os
import signal
import sys
import time


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
