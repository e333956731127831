# What the benchmark scripts share; each sources it after `cd` to the package root.

# A TCP port free on 127.0.0.1 now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Installs the Debian package of each command that is missing (wrk, nginx): a clean machine has neither.
need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"; }
    done
}

# The generated HL7 v2 corpus of N messages (Benchmarks/hl7/generate_corpus.py, fixed seed), made once: prints its path.
hl7_corpus() {
    local corpus=".bench/hl7/corpus-$1.hl7"
    mkdir -p .bench/hl7
    [ -f "$corpus" ] || "$(scripts/python-env.sh)" Benchmarks/hl7/generate_corpus.py "$corpus" --messages "$1" >&2
    echo "$corpus"
}
