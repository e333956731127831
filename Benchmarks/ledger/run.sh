#!/usr/bin/env bash
# Ledger throughput on one core, beside `openssl speed -evp sha256` measured in the same run.
#
#   Benchmarks/ledger/run.sh [ENTRIES] [RUNS]        (defaults: 1,000,000 entries, 5 runs)
#
# Times (medians, CPU 0): hashing every leaf (SHA-256(0x00 ‖ entry)), building the RFC 9162 tree, and producing
# every inclusion proof; then the mean time to verify one proof (100,000 random proofs), and appending in
# anchoring-sized batches to a large tree. Our SHA-256 rate during the
# build is reported as a share of OpenSSL's EVP sha256 rate for 64- and 16384-byte blocks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
entries="${1:-1000000}"
runs="${2:-5}"
swift build -c release --product LedgerBench >&2
output=$(taskset -c 0 .build/release/LedgerBench "$entries" "$runs")
result=$(echo "$output" | head -1)
append=$(echo "$output" | tail -1)
openssl_out=$(taskset -c 0 openssl speed -evp sha256 -seconds 2 2>/dev/null | grep -E '^sha256' | tail -1)
python3 - "$result" "$openssl_out" "$append" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
a = json.loads(sys.argv[3])
cols = sys.argv[2].split()[1:]
def kb(x): return float(x.rstrip("k")) * 1000
sizes = [16, 64, 256, 1024, 8192, 16384]
rates = dict(zip(sizes, [kb(c) for c in cols]))
ours = r["hashedBytes"] / (r["leafSeconds"] + r["treeSeconds"])
print(f"entries: {r['entries']:,}; medians of the runs on one core")
print(f"  leaf hashes          {r['leafSeconds']:.3f} s")
print(f"  tree (interior)      {r['treeSeconds']:.3f} s")
print(f"  all inclusion proofs {r['proofSeconds']:.3f} s")
print(f"  total                {r['totalSeconds']:.3f} s   (target: at most 0.5 s)")
print(f"  verify one proof     {r['verifySeconds']*1e6:.2f} µs (target: under 20 µs)")
print(f"  append {a['appendedEntries']:,} entries in batches of 1,000 to a tree of {r['entries']//2:,}: {a['appendSeconds']:.3f} s")
print(f"SHA-256 while building: {ours/1e6:.0f} MB/s over {r['hashCalls']:,} calls; "
      f"openssl speed -evp sha256: {rates[64]/1e6:.0f} MB/s at 64-byte blocks, {rates[16384]/1e6:.0f} MB/s at 16 KiB "
      f"-> {100*ours/rates[64]:.0f}% and {100*ours/rates[16384]:.0f}% of them")
PY
