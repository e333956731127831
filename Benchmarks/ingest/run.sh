#!/usr/bin/env bash
# Durable HL7 v2 ingest into PostgreSQL over MLLP and HTTP, beside PostgreSQL COPY of the same rows, in one run.
#
#   Benchmarks/ingest/run.sh            (MESSAGES=40000 CONNECTIONS=32 DURATION=20 COPY_ROUNDS=3 to change the load;
#                                        BIN=… another binary)
#
# Starts a throwaway PostgreSQL (fsync and synchronous_commit on: every ACK is durable) and the release gateway on it,
# sends MESSAGES generated ADT^A01 over MLLP from CONNECTIONS connections (each waits for its ACK before the next
# message, as EHRs do), then drives POST /feeds/hl7v2 with wrk for DURATION seconds. Afterwards it copies the rows the
# gateway wrote (inbound messages, versions with their ledger leaves, current resources, search keys) with COPY into empty
# tables with the same indexes, COPY_ROUNDS times, and reports our rows/s as a share of the median COPY's (with the
# range over the rounds). Gateway peak RSS from /proc; the gateway's and PostgreSQL's CPU per message from /proc.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. Benchmarks/lib.sh
MESSAGES=${MESSAGES:-40000}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-20}
COPY_ROUNDS=${COPY_ROUNDS:-3}

need wrk
# BIN=another-build to measure another binary (an A/B run against a previous commit's build).
if [ -z "${BIN:-}" ]; then swift build -c release --product ledgerbridge >&2; BIN=$PWD/.build/release/ledgerbridge; fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/lb-bench-XXXXXX)
chown postgres "$WORK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGPORT=$(free_port); HTTP=$(free_port); MLLP=$(free_port)
as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start \
    -o "-p $PGPORT -h 127.0.0.1 -k $WORK -c shared_buffers=512MB -c max_wal_size=4GB -c max_connections=200" >/dev/null
GW=""
cleanup() {
    [ -n "$GW" ] && kill "$GW" 2>/dev/null && wait "$GW" 2>/dev/null || true
    as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE lb"
cat > "$WORK/ledgerbridge.yaml" <<YAML
store:
  postgres: "postgres://postgres@127.0.0.1:$PGPORT/lb?sslmode=disable"
  poolSize: 8
  concurrentCommits: ${COMMITS:-2}
http:
  port: $HTTP
mllp:
  port: $MLLP
logLevel: warning
YAML
"$BIN" serve --config "$WORK/ledgerbridge.yaml" 2>"$WORK/gateway.log" &
GW=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/health" >/dev/null && break; sleep 0.1; done

rows() {
    "${PSQL[@]}" -d lb -c "SELECT (SELECT count(*) FROM inbound_messages) + (SELECT count(*) FROM resource_versions)
        + (SELECT count(*) FROM resources) + (SELECT count(*) FROM search_keys)"
}

echo "warm-up" >&2
"$BIN" bench mllp-load --port "$MLLP" --connections 8 --messages 2000 --run warm >/dev/null
# CPU seconds used so far by the gateway and by every PostgreSQL process (utime + stime, in clock ticks).
cpu() { awk '{ s += $14 + $15 } END { printf "%.2f", s / 100 }' "/proc/$1/stat"; }
pg_cpu() { local t=0; for p in $(pgrep -f "postgres.*$WORK|postgres:"); do t=$(python3 -c "print($t + $(cpu "$p" 2>/dev/null || echo 0))"); done; echo "$t"; }
before=$(rows)
gw0=$(cpu "$GW"); pg0=$(pg_cpu)
echo "MLLP: $MESSAGES messages from $CONNECTIONS connections" >&2
mllp_json=$("$BIN" bench mllp-load --port "$MLLP" --connections "$CONNECTIONS" --messages "$MESSAGES" --run "M$RANDOM")
gw1=$(cpu "$GW"); pg1=$(pg_cpu)
mllp_cpu="$(python3 -c "print(round($gw1 - $gw0, 2), round($pg1 - $pg0, 2))")"
echo "MLLP phase CPU seconds (gateway, PostgreSQL): $mllp_cpu" >&2
after=$(rows)
mllp_rows=$((after - before))

echo "HTTP: wrk, $CONNECTIONS connections, ${DURATION}s" >&2
before=$(rows)
wrk_out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s Benchmarks/ingest/wrk-hl7.lua "http://127.0.0.1:$HTTP" -- "H$RANDOM")
after=$(rows)
http_rows=$((after - before))
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$GW/status")

echo "COPY of the same rows, $COPY_ROUNDS rounds" >&2
tables="inbound_messages resource_versions resources search_keys"
total=0
for t in $tables; do
    "${PSQL[@]}" -d lb -c "COPY $t TO '$WORK/$t.copy' (FORMAT binary)"
    total=$((total + $("${PSQL[@]}" -d lb -c "SELECT count(*) FROM $t")))
done
# Each round copies every row again into new, empty tables with the same indexes, in one transaction. One COPY lasts
# a few seconds, and this machine's speed drifts by a factor of two within minutes: the median of the rounds is the
# reference, and their range is reported beside it.
copy_seconds=""
for round in $(seq "$COPY_ROUNDS"); do
    "${PSQL[@]}" -d lb -c "SET client_min_messages = warning; $(for t in $tables; do echo "DROP TABLE IF EXISTS copy_$t; CREATE TABLE copy_$t (LIKE $t INCLUDING ALL);"; done)"
    "${PSQL[@]}" -d lb -c "CHECKPOINT"
    start=$(date +%s.%N)
    "${PSQL[@]}" -d lb <<SQL
BEGIN;
$(for t in $tables; do echo "COPY copy_$t FROM '$WORK/$t.copy' (FORMAT binary);"; done)
COMMIT;
SQL
    end=$(date +%s.%N)
    copy_seconds+="$(python3 -c "print($end - $start)") "
done

python3 - "$mllp_json" "$mllp_rows" "$wrk_out" "$http_rows" "$DURATION" "$total" "$copy_seconds" "$rss_kb" "$mllp_cpu" <<'PY'
import json, re, statistics, sys
mllp = json.loads(sys.argv[1]); mllp_rows = int(sys.argv[2]); wrk = sys.argv[3]; http_rows = int(sys.argv[4])
duration = float(sys.argv[5]); total = int(sys.argv[6]); rss = int(sys.argv[8])
copy_rates = sorted(total / float(x) for x in sys.argv[7].split())
copy_rate = statistics.median(copy_rates)
gw_cpu, pg_cpu = (float(x) for x in sys.argv[9].split())
req = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
def lat(p):
    m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, wrk)
    v = float(m.group(1)); return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
mllp_rate = mllp["messages"] / mllp["seconds"]
mllp_rows_s = mllp_rows / mllp["seconds"]
http_rows_s = http_rows / duration
print(f"| path | messages/s | rows/s | × COPY rows/s | ACK p50 | ACK p99 |")
print(f"|---|---:|---:|---:|---:|---:|")
print(f"| MLLP ({mllp['messages']} messages) | {mllp_rate:,.0f} | {mllp_rows_s:,.0f} | {mllp_rows_s / copy_rate:.0%} | {mllp['p50_ms']:.2f} ms | {mllp['p99_ms']:.2f} ms |")
print(f"| HTTP (wrk, {duration:.0f} s) | {req:,.0f} | {http_rows_s:,.0f} | {http_rows_s / copy_rate:.0%} | {lat(50):.2f} ms | {lat(99):.2f} ms |")
print(f"| PostgreSQL COPY of the same {total:,} rows (same indexes, one transaction; median of {len(copy_rates)}) | | {copy_rate:,.0f} | 100% | | |")
spread = " to ".join(f"{mllp_rows_s / r:.0%}" for r in (copy_rates[-1], copy_rates[0]))
print(f"\nCOPY rounds: {', '.join(f'{r:,.0f}' for r in copy_rates)} rows/s (MLLP's share against each: {spread})")
n = mllp["messages"]
print(f"rows per message: {mllp_rows / n:.1f}; gateway peak RSS: {rss / 1024:.0f} MiB")
print(f"CPU per message over the MLLP phase: gateway {gw_cpu * 1e6 / n:,.0f} us, PostgreSQL {pg_cpu * 1e6 / n:,.0f} us")
PY
