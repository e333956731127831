#!/usr/bin/env python3
"""Times fhir.resources (PyPI, pydantic models; R4B, the nearest it ships to R4) on FHIR bundles.

    peer_fhir_resources.py json|xml --runs N --accepted LIST FILE...

json: Bundle.model_validate_json(bytes)                    (parse + validate)
xml:  Bundle.model_validate_xml(bytes).model_dump_json()   (XML -> JSON)
Files the models reject are left out and listed on stderr; the ones accepted are written to LIST so that the other
side measures the same files. Prints one JSON object: bytes, files, seconds (median of the timed passes; reading
files excluded).
"""
import argparse
import json
import statistics
import sys
import time

from fhir.resources.R4B.bundle import Bundle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["json", "xml"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--accepted")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    data = []
    for path in a.files:
        raw = open(path, "rb").read()
        try:
            if a.mode == "json":
                Bundle.model_validate_json(raw)
            else:
                Bundle.model_validate_xml(raw).model_dump_json()
            data.append((path, raw))
        except Exception as e:  # noqa: BLE001 - the peer's own verdict
            print("fhir.resources rejects %s: %s" % (path, str(e).splitlines()[0]), file=sys.stderr)
    if a.accepted:
        with open(a.accepted, "w") as f:
            f.write("\n".join(p for p, _ in data) + "\n")
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        if a.mode == "json":
            for _, raw in data:
                Bundle.model_validate_json(raw)
        else:
            for _, raw in data:
                Bundle.model_validate_xml(raw).model_dump_json()
        times.append(time.perf_counter() - t)
    print(json.dumps({"bytes": sum(len(r) for _, r in data), "files": len(data), "seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
