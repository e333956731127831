#!/usr/bin/env bash
# What anchoring costs ingest: durable HL7 v2 ingest over MLLP into PostgreSQL with anchoring off and on, in one run.
#
#   Benchmarks/anchoring/run.sh        (PAIRS=3 MESSAGES=30000 CONNECTIONS=32 BATCH_SECONDS=1 to change it)
#
# One throwaway PostgreSQL (fsync and synchronous_commit on). Each run gets a fresh database and a fresh release
# gateway; runs alternate off / on so that drift in the machine hits both alike. "On" seals a tree head every
# BATCH_SECONDS and anchors it to the local checkpoint file and to an RFC 3161 TSA (the test peer, openssl ts) on
# this machine. "Off" is `ledger.enabled: false`: entries are still written with every version, nothing is sealed.
# Reports messages/s of every run, the medians, and on / off.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. Benchmarks/lib.sh
PAIRS=${PAIRS:-3}
MESSAGES=${MESSAGES:-30000}
CONNECTIONS=${CONNECTIONS:-32}
BATCH_SECONDS=${BATCH_SECONDS:-1}

swift build -c release --product ledgerbridge >&2
BIN=$PWD/.build/release/ledgerbridge
PY=$(scripts/python-env.sh)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/lb-anchor-bench-XXXXXX)
chown postgres "$WORK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGPORT=$(free_port)
as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start \
    -o "-p $PGPORT -h 127.0.0.1 -k $WORK -c shared_buffers=512MB -c max_wal_size=4GB -c max_connections=200" >/dev/null
GW=""
TSA=""
cleanup() {
    [ -n "$GW" ] && kill "$GW" 2>/dev/null && wait "$GW" 2>/dev/null || true
    [ -n "$TSA" ] && kill "$TSA" 2>/dev/null || true
    as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt)

"$PY" scripts/peers/tsa_peer.py --dir "$WORK/tsa" --lifetime 3600 > "$WORK/tsa.out" &
TSA=$!
for _ in $(seq 100); do grep -q READY "$WORK/tsa.out" 2>/dev/null && break; sleep 0.1; done
TSA_PORT=$(awk '{print $2}' "$WORK/tsa.out")

run() { # $1 = off|on, $2 = run number; prints messages/s
    local mode=$1 n=$2 http mllp
    http=$(free_port); mllp=$(free_port)
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE lb_$n"
    cat > "$WORK/$n.yaml" <<YAML
store:
  postgres: "postgres://postgres@127.0.0.1:$PGPORT/lb_$n?sslmode=disable"
  sqlite: "$WORK/unused.sqlite"
  poolSize: 8
http:
  port: $http
mllp:
  port: $mllp
logLevel: warning
ledgerKey: $WORK/key.ed25519
ledger:
  enabled: $([ "$mode" = on ] && echo true || echo false)
  batchSeconds: $BATCH_SECONDS
  backends:
    - type: local
      checkpointFile: $WORK/checkpoints-$n.jsonl
    - name: tsa
      type: rfc3161
      url: http://127.0.0.1:$TSA_PORT/
      certificate: $WORK/tsa/tsa.crt
YAML
    "$BIN" serve --config "$WORK/$n.yaml" 2>"$WORK/gateway-$n.log" &
    GW=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/health" >/dev/null && break; sleep 0.1; done
    "$BIN" bench mllp-load --port "$mllp" --connections 8 --messages 2000 --run "w$n" >/dev/null
    local out
    out=$("$BIN" bench mllp-load --port "$mllp" --connections "$CONNECTIONS" --messages "$MESSAGES" --run "m$n")
    sleep "$BATCH_SECONDS"; sleep 1
    local heads anchored
    heads=$("${PSQL[@]}" -d "lb_$n" -c "SELECT count(*) FROM tree_heads")
    anchored=$("${PSQL[@]}" -d "lb_$n" -c "SELECT count(*) FROM anchor_outbox WHERE state = 'anchored'")
    kill "$GW"; wait "$GW" 2>/dev/null || true; GW=""
    python3 -c "import json,sys; m=json.loads(sys.argv[1]); print(f\"{m['messages']/m['seconds']:.0f} {m['p50_ms']:.2f} {m['p99_ms']:.2f} $heads $anchored\")" "$out"
}

results=()
n=0
for pair in $(seq "$PAIRS"); do
    for mode in off on; do
        n=$((n + 1))
        echo "run $n: anchoring $mode" >&2
        results+=("$mode $(run "$mode" "$n")")
        echo "  ${results[-1]}" >&2
    done
done
printf '%s\n' "${results[@]}" | tee /dev/stderr | python3 Benchmarks/anchoring/summarize.py
