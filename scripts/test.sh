#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs the peers the tests run beside Ledgerbridge
# (python-hl7 and friends into .venv), builds, and runs every test. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> format"
scripts/format.sh --check

echo "==> system libraries"
if ! pkg-config --exists libxml-2.0; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq libxml2-dev pkg-config
    else
        echo "libxml2-dev is missing: install it (apt-get install libxml2-dev pkg-config)" >&2
        exit 1
    fi
fi

echo "==> PostgreSQL server (the tests start their own throwaway clusters on 127.0.0.1)"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${LEDGERBRIDGE_PG_BIN:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
    else
        echo "the PostgreSQL server is missing: install it (apt-get install postgresql) or set LEDGERBRIDGE_PG_BIN" >&2
        exit 1
    fi
fi

echo "==> test peers (Python packages in .venv)"
LEDGERBRIDGE_PYTHON="$(scripts/python-env.sh)"
export LEDGERBRIDGE_PYTHON

# Every temporary file and folder of the run (the build's, the gateways' stores, PostgreSQL clusters, the peers'
# files) goes under one scratch folder, removed when the run ends however it ends; the tests also remove their own as
# they finish.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/ledgerbridge-tests-XXXXXX")"
chmod 755 "$scratch"   # as root, the PostgreSQL clusters in it run as the postgres user
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch/"

echo "==> build"
swift build --build-tests

echo "==> test"
# The suites use Swift Testing; `swift test` also prints XCTest's empty summary ("Executed 0 tests"), so the
# script ends with one plain line counting Swift Testing's results.
#
# Two phases on the same build: first every suite but the ledger-peer ones, in parallel; then those (an Ethereum
# node and a TSA started per test, the real gateway). Together with the crash test they overloaded two cores, and
# PostgreSQL-backed tests then missed the store's 5 s deadline.
peers='LedgerAnchorsTests|AnchorCommandTests'
total=0
failed=0
status=0
for phase in rest peers; do
    log="$(mktemp)"
    set +e
    if [ "$phase" = rest ]; then
        swift test --skip-build --skip "$peers" 2>&1 | tee "$log"
    else
        swift test --skip-build --filter "$peers" 2>&1 | tee "$log"
    fi
    code=${PIPESTATUS[0]}
    set -e
    [ "$code" != 0 ] && status=$code
    n=$(grep -Eo 'Test run with [0-9]+ tests?' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
    f=$(grep -Ec '^✘ Test "[^"]*" (with [0-9]+ test cases )?failed' "$log" || true)
    total=$((total + n))
    failed=$((failed + f))
    rm -f "$log"
done
echo "$((total - failed)) passed, ${failed} failed"
exit "$status"
