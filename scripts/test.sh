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

echo "==> build"
swift build --build-tests

echo "==> test"
# The suites use Swift Testing; `swift test` also prints XCTest's empty summary ("Executed 0 tests"), so the
# script ends with one plain line counting Swift Testing's results.
log="$(mktemp)"
set +e
swift test --skip-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
total=$(grep -Eo 'Test run with [0-9]+ tests?' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Ec '^✘ Test "[^"]*" (with [0-9]+ test cases )?failed' "$log" || true)
rm -f "$log"
echo "$((total - failed)) passed, ${failed} failed"
exit "$status"
