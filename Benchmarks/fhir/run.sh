#!/usr/bin/env bash
# FHIR codec throughput, Ledgerbridge beside fhir.resources (PyPI, pydantic models), in one run on one core.
#
#   Benchmarks/fhir/run.sh [RUNS]          (default 7)
#
# Corpus: the 90 FHIR bundles another converter wrote from the HL7 v2 and C-CDA samples
# (Tests/FHIRTests/Fixtures/hl7v2-expected, ccda-expected), and their XML renderings (written by ledgerbridge).
# Measured on CPU 0 (taskset), in-process time with file reading excluded, median of RUNS passes, on exactly the
# files both sides accept:
#   JSON parse + validate   ledgerbridge `fhir validate`      vs  Bundle.model_validate_json
#   XML → JSON              ledgerbridge `fhir convert --to json`  vs  Bundle.model_validate_xml(...).model_dump_json()
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-7}"
python="$(scripts/python-env.sh)"
work=".bench/fhir"
mkdir -p "$work/xml"
swift build -c release --product ledgerbridge >&2
bin=".build/release/ledgerbridge"
json_files=(Tests/FHIRTests/Fixtures/hl7v2-expected/*.json Tests/FHIRTests/Fixtures/ccda-expected/*.json)
for f in "${json_files[@]}"; do
    out="$work/xml/$(basename "$(dirname "$f")")--$(basename "$f" .json).xml"
    [ -f "$out" ] || "$bin" fhir convert --to xml "$f" > "$out"
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ours() {  # ours SUBCOMMAND... -- FILES (reads the accepted list)
    local list="$1"; shift
    mapfile -t files < "$list"
    for _ in $(seq "$runs"); do
        taskset -c 0 "$bin" "$@" --stats "${files[@]}" 2>&1 >/dev/null | tail -1 | sed -E 's/.*"seconds":([0-9.e-]+).*/\1/'
    done | median
}
field() { "$python" -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

peer_json=$(taskset -c 0 "$python" Benchmarks/fhir/peer_fhir_resources.py json --runs "$runs" --accepted "$work/accepted-json.txt" "${json_files[@]}" 2>"$work/rejected-json.txt")
peer_xml=$(taskset -c 0 "$python" Benchmarks/fhir/peer_fhir_resources.py xml --runs "$runs" --accepted "$work/accepted-xml.txt" "$work"/xml/*.xml 2>"$work/rejected-xml.txt")
ours_json=$(ours "$work/accepted-json.txt" fhir validate)
ours_xml=$(ours "$work/accepted-xml.txt" fhir convert --to json)

"$python" - "$peer_json" "$peer_xml" "$ours_json" "$ours_xml" "${#json_files[@]}" <<'PY'
import json, sys
pj, px = json.loads(sys.argv[1]), json.loads(sys.argv[2])
oj, ox, total = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"bundles: {total}; fhir.resources accepts {pj['files']} as JSON ({pj['bytes']/1e6:.1f} MB), {px['files']} as XML ({px['bytes']/1e6:.1f} MB); medians on one core")
print(f"{'task':28} {'ledgerbridge MB/s':>18} {'fhir.resources MB/s':>20} {'ratio':>8}")
for name, peer, ours in (("JSON parse + validate", pj, oj), ("XML -> JSON", px, ox)):
    a, b = peer["bytes"] / ours / 1e6, peer["bytes"] / peer["seconds"] / 1e6
    print(f"{name:28} {a:18.1f} {b:20.1f} {a/b:7.1f}x")
PY
echo "(files fhir.resources rejects: $(wc -l < "$work/rejected-json.txt") JSON, $(wc -l < "$work/rejected-xml.txt") XML; see $work/rejected-*.txt)"
