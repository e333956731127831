#!/usr/bin/env bash
# HL7 v2 → FHIR mapping throughput on one core, as a multiple of parse time, in one run.
#
#   Benchmarks/mapping/run.sh [MESSAGES] [RUNS]        (defaults: 20000 messages, 5 runs)
#
# The corpus is Benchmarks/hl7's (fixed seed: half ADT^A01 with NK1/AL1/DG1, half ORU^R01 with 10–30 OBX and NTE).
# `ledgerbridge bench map` times in process, on CPU 0 (taskset), file reading and loading Mappings/ excluded:
#   parse   every message of the file (ER7 index);
#   map     the shipped Mappings/ over each message, coverage report included, and its transaction Bundle built;
#   write   each Bundle written as JSON.
# Reports medians; the machine is noisy, so compare the ratios from the same run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. Benchmarks/lib.sh
messages="${1:-20000}"
runs="${2:-5}"
python="$(scripts/python-env.sh)"
work=".bench/hl7"
corpus="$(hl7_corpus "$messages")"
swift build -c release --product ledgerbridge >&2
bin=".build/release/ledgerbridge"
results="$work/mapping-runs.jsonl"
: > "$results"
for _ in $(seq "$runs"); do taskset -c 0 "$bin" bench map "$corpus" >> "$results"; done
"$python" - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
n, resources = runs[0]["messages"], runs[0]["resources"]
med = {k: statistics.median(r[k] for r in runs) for k in ("parseSeconds", "mapSeconds", "writeSeconds")}
print(f"corpus: {n} messages, {resources} resources ({resources / n:.1f} per message), failures {runs[0]['failures']}; medians of {len(runs)} runs on one core")
print(f"{'stage':34} {'seconds':>9} {'msgs/s':>10} {'resources/s':>12} {'× parse':>9}")
for name, key in (("parse", "parseSeconds"), ("map (resources + bundle)", "mapSeconds"), ("write bundle JSON", "writeSeconds")):
    s = med[key]
    print(f"{name:34} {s:9.3f} {n / s:10.0f} {resources / s:12.0f} {s / med['parseSeconds']:9.1f}")
total = med["parseSeconds"] + med["mapSeconds"]
print(f"{'parse + map':34} {total:9.3f} {n / total:10.0f} {resources / total:12.0f}")
PY
