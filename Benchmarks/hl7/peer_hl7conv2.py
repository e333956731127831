#!/usr/bin/env python3
"""Times hl7conv2 (PyPI, Rust core) converting every message of a corpus file to its JSON structure.

Prints one JSON object: bytes, messages, seconds (the median of --runs timed passes; file reading excluded).
"""
import argparse
import json
import statistics
import time

import hl7conv2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    data = open(a.corpus, "rb").read().decode("utf-8")
    messages = ["MSH" + m for m in data.split("MSH")[1:]]
    size = sum(len(m.encode("utf-8")) for m in messages)
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        for m in messages:
            hl7conv2.Hl7Json(m).hl7_json
        times.append(time.perf_counter() - t)
    print(json.dumps({"bytes": size, "messages": len(messages), "seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
