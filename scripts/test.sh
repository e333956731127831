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

echo "==> test peers (Python packages in .venv)"
LEDGERBRIDGE_PYTHON="$(scripts/python-env.sh)"
export LEDGERBRIDGE_PYTHON

echo "==> build"
swift build --build-tests

echo "==> test"
swift test --skip-build
