#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format (.swift-format), generated code excepted.
#   scripts/format.sh           rewrite in place
#   scripts/format.sh --check   fail if formatting would change anything (what CI runs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files=$(git ls-files '*.swift' | grep -v '/Generated/')
swift format format -i $files
if [ "${1:-}" = "--check" ]; then
    if ! git diff --exit-code --stat -- $files; then
        echo "Swift sources are not formatted: run scripts/format.sh and commit." >&2
        exit 1
    fi
fi
