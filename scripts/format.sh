#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format (.swift-format), generated code excepted.
#   scripts/format.sh           rewrite in place
#   scripts/format.sh --check   fail if formatting changed anything (what CI runs; the files are left formatted)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.swift' | grep -v '/Generated/')
before=$(cat "${files[@]}" | sha256sum)
swift format format -i "${files[@]}"
after=$(cat "${files[@]}" | sha256sum)
if [ "${1:-}" = "--check" ] && [ "$before" != "$after" ]; then
    echo "Swift sources were not formatted (now they are): review the change and commit it." >&2
    exit 1
fi
