#!/usr/bin/env bash
# HL7 v2 full-parse throughput, Ledgerbridge beside hl7conv2 (PyPI, Rust core), in one run on one core.
#
#   Benchmarks/hl7/run.sh [MESSAGES] [RUNS]        (defaults: 20000 messages ≈ 73 MB, 7 runs)
#
# Generates the corpus with a fixed seed, builds ledgerbridge in release mode, then times on CPU 0 (taskset):
#   ledgerbridge   `hl7 parse --quiet`: parse, index every delimiter, and reach every subcomponent (in-process time,
#                  file reading excluded); and the same with every subcomponent decoded into a String (--decode);
#   hl7conv2       Hl7Json(message).hl7_json for every message (in-process time, file reading excluded).
# Reports medians, MB/s, messages/s and the ratio; the machine is noisy, so compare ratios from the same run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. Benchmarks/lib.sh
messages="${1:-20000}"
runs="${2:-7}"
python="$(scripts/python-env.sh)"
work=".bench/hl7"
corpus="$(hl7_corpus "$messages")"
swift build -c release --product ledgerbridge >&2
bin=".build/release/ledgerbridge"
"$bin" hl7 parse --check --quiet "$corpus"    # the corpus itself must be well-formed and round-trip

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ours() {
    for _ in $(seq "$runs"); do
        taskset -c 0 "$bin" hl7 parse --quiet --stats "$@" "$corpus" 2>&1 >/dev/null | sed -E 's/.*"seconds":([0-9.e-]+).*/\1/'
    done | median
}
indexed=$(ours)
decoded=$(ours --decode)
peer=$(taskset -c 0 "$python" Benchmarks/hl7/peer_hl7conv2.py "$corpus" --runs "$runs")
peer_seconds=$("$python" -c "import json,sys; print(json.loads(sys.argv[1])['seconds'])" "$peer")
bytes=$(stat -c %s "$corpus")

"$python" - "$bytes" "$messages" "$indexed" "$decoded" "$peer_seconds" <<'PY'
import sys
size, n, ours, decoded, peer = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
rows = [("ledgerbridge (indexed, every subcomponent reached)", ours), ("ledgerbridge (every subcomponent decoded to String)", decoded), ("hl7conv2 0.2.5 (Hl7Json.hl7_json)", peer)]
print(f"corpus: {n} messages, {size/1e6:.1f} MB; medians on one core")
print(f"{'parser':54} {'seconds':>9} {'MB/s':>9} {'msgs/s':>11} {'× hl7conv2':>11}")
for name, s in rows:
    print(f"{name:54} {s:9.4f} {size/s/1e6:9.1f} {n/s:11.0f} {peer/s:11.1f}")
PY
