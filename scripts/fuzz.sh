#!/usr/bin/env bash
# Builds and runs a libFuzzer target (with AddressSanitizer) over the HL7v2 sources.
#   scripts/fuzz.sh parser [SECONDS]   the ER7 parser, serializer, paths, ACKs (seeded with the corpus)
#   scripts/fuzz.sh mllp [SECONDS]     the MLLP frame decoder
#   scripts/fuzz.sh fhir [SECONDS]     the FHIR XML and JSON readers and writers (seeded with the specification examples)
# Findings land in .fuzz/<target>/ as crash-* files; the corpus grows in .fuzz/<target>/corpus.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${1:?usage: scripts/fuzz.sh parser|mllp [SECONDS]}"
seconds="${2:-600}"
case "$target" in
    parser) entry=Fuzz/HL7ParserFuzz.swift ;;
    mllp) entry=Fuzz/MLLPFuzz.swift ;;
    fhir) entry=Fuzz/FHIRFuzz.swift ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
esac
work=".fuzz/$target"
mkdir -p "$work/corpus"
binary="$work/fuzz-$target"
echo "==> building $binary"
if [ "$target" = fhir ]; then
    # The canonical hash needs swift-crypto, which plain swiftc cannot see; the harness does not hash.
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FHIR -I Sources/CLibXML2 -Xcc -I/usr/include/libxml2 -lxml2 \
        $(find Sources/FHIR -name '*.swift' ! -path '*/Canonical/*') "$entry" -o "$binary"
else
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name HL7v2 \
        $(find Sources/HL7v2 -name '*.swift') "$entry" -o "$binary"
fi
if [ "$target" = parser ] && [ -z "$(ls -A "$work/corpus")" ]; then
    cp Tests/HL7v2Tests/Fixtures/hl7v2/* Tests/HL7v2Tests/Fixtures/hl7v2-batch/* Tests/HL7v2Tests/Fixtures/hl7v2-malformed/* "$work/corpus/"
fi
if [ "$target" = fhir ] && [ -z "$(ls -A "$work/corpus")" ]; then
    cp Tests/FHIRTests/Fixtures/fhir-xml/*.xml Tests/FHIRTests/Fixtures/fhir-json/*.json "$work/corpus/"
fi
if [ "$target" = mllp ] && [ -z "$(ls -A "$work/corpus")" ]; then
    printf '\x03\x0bMSH|^~\\&|A\r\x1c\r\x0bx\x1c' > "$work/corpus/seed1"
fi
echo "==> fuzzing $target for ${seconds}s"
cd "$work"
"./fuzz-$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 corpus
