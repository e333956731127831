#!/usr/bin/env bash
# FHIR reads of one Patient from the release gateway, beside nginx serving the same bytes as a static file, in one run.
#
#   Benchmarks/fhir-read/run.sh            (DURATION=10 CONNECTIONS=32 RATE=1000 ROUNDS=3 to change the load; BIN=… another binary)
#
# The gateway (SQLite, the embedded default) stores the fixture admission; the Patient's JSON, as the gateway serves
# it, is written to a file nginx serves. wrk (2 threads, CONNECTIONS keep-alive connections, DURATION s) drives each in
# turn, ROUNDS times (gateway, floor, nginx, gateway, …: this machine's speed drifts within minutes): the medians of
# requests/s and of each round's ratio. Before that, an open-loop generator (rate_load.py) sends RATE requests/s to the gateway,
# then to nginx, for DURATION s each and reports latency percentiles measured from each request's scheduled time. Everything shares the
# machine's 2 cores, load generators included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. Benchmarks/lib.sh
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
RATE=${RATE:-1000}
ROUNDS=${ROUNDS:-3}
need wrk nginx
# BIN=another-build to measure another binary (an A/B run against a previous commit's build).
if [ -z "${BIN:-}" ]; then swift build -c release --product ledgerbridge >&2; BIN=$PWD/.build/release/ledgerbridge; fi
python="$(scripts/python-env.sh)"
WORK=$(mktemp -d /tmp/lb-read-XXXXXX)
HTTP=$(free_port); NGINX=$(free_port); FLOOR=$(free_port)
GW=""; NG=""; FL=""
cleanup() {
    [ -n "$GW" ] && kill "$GW" 2>/dev/null && wait "$GW" 2>/dev/null || true
    [ -n "$FL" ] && kill "$FL" 2>/dev/null && wait "$FL" 2>/dev/null || true
    [ -n "$NG" ] && nginx -c "$WORK/nginx.conf" -p "$WORK" -s quit 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cat > "$WORK/ledgerbridge.yaml" <<YAML
store:
  sqlite: $WORK/data/store.sqlite
http:
  port: $HTTP
  adminKey: bench-admin-key
mllp:
  enabled: false
logLevel: warning
YAML
"$BIN" serve --config "$WORK/ledgerbridge.yaml" 2>"$WORK/gateway.log" &
GW=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/health" >/dev/null && break; sleep 0.1; done
curl -sf -X POST -H 'Content-Type: x-application/hl7-v2+er7' --data-binary @Mappings/fixtures/adt-a01.hl7 "http://127.0.0.1:$HTTP/feeds/hl7v2" >/dev/null
TOKEN=$("$BIN" token --config "$WORK/ledgerbridge.yaml" --scope 'system/*.read')
AUTH="Authorization: Bearer $TOKEN"
ID=$(curl -sf -H "$AUTH" "http://127.0.0.1:$HTTP/fhir/Patient?identifier=E100234" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
URL="http://127.0.0.1:$HTTP/fhir/Patient/$ID"
mkdir -p "$WORK/www" "$WORK/logs"
curl -sf -H "$AUTH" "$URL" > "$WORK/www/patient.json"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    types { application/fhir+json json; }
    server { listen 127.0.0.1:$NGINX; root $WORK/www; }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK"; NG=1
# The floor of the HTTP stack itself: a bare Hummingbird application serving the same bytes from memory.
"$BIN" bench http-floor --port "$FLOOR" --file "$WORK/www/patient.json" 2>>"$WORK/gateway.log" &
FL=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$FLOOR/patient.json" >/dev/null && break; sleep 0.1; done
sleep 0.5
wrk_rps() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
wrk -t2 -c"$CONNECTIONS" -d2s -H "$AUTH" "$URL" >/dev/null   # warm-up
sleep 2   # let the warm-up's audit events be written and sealed before the latency run
rate=$("$python" Benchmarks/fhir-read/rate_load.py "$URL" "$RATE" "$DURATION" "$AUTH")
# The same open loop against nginx: the generator's own share of the latency (it is Python, on the same cores).
rate_nginx=$("$python" Benchmarks/fhir-read/rate_load.py "http://127.0.0.1:$NGINX/patient.json" "$RATE" "$DURATION")
# Throughput last: a saturating run leaves seconds of audit events to write and seal, which the latency run would feel.
ours=""; theirs=""; floor=""
for _ in $(seq "$ROUNDS"); do
    ours+="$(wrk_rps -H "$AUTH" "$URL") "
    sleep 1   # the round's last audit events written before the next server is measured
    floor+="$(wrk_rps "http://127.0.0.1:$FLOOR/patient.json") "
    theirs+="$(wrk_rps "http://127.0.0.1:$NGINX/patient.json") "
done
bytes=$(stat -c %s "$WORK/www/patient.json")
"$python" - "$ours" "$theirs" "$rate" "$bytes" "$CONNECTIONS" "$DURATION" "$rate_nginx" "$floor" <<'PY'
import json, statistics, sys
ours, theirs = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()]
rate, size, c, d = json.loads(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
peer = json.loads(sys.argv[7])
floor = [float(x) for x in sys.argv[8].split()]
med = statistics.median
def ratio(xs): return med([x / t for x, t in zip(xs, theirs)])
def runs(xs): return ", ".join(f"{x:,.0f}" for x in xs)
print(f"GET one Patient ({size} bytes), wrk 2 threads, {c} connections, {d} s each, {len(ours)} rounds in turn, same run (medians; each round's figures in brackets):")
print(f"| server | requests/s | x nginx |\n|---|---:|---:|")
print(f"| ledgerbridge (token check, read, integrity status, audit event) | {med(ours):,.0f} ({runs(ours)}) | {ratio(ours):.2f} |")
print(f"| bare Hummingbird (the same bytes from memory: the HTTP stack's floor) | {med(floor):,.0f} ({runs(floor)}) | {ratio(floor):.2f} |")
print(f"| nginx 1.22 (the same bytes, a static file) | {med(theirs):,.0f} ({runs(theirs)}) | 1.00 |")
print(f"open loop at {rate['rate']:.0f} requests/s for {d} s: {rate['ok']}/{rate['sent']} ok, p50 {rate['p50_ms']} ms, p99 {rate['p99_ms']} ms, max {rate['max_ms']} ms")
print(f"  the same against nginx (the generator's floor): p50 {peer['p50_ms']} ms, p99 {peer['p99_ms']} ms, max {peer['max_ms']} ms")
PY
