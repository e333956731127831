"""Reads 'mode rate p50 p99 heads anchored' lines (Benchmarks/anchoring/run.sh) and prints the table and medians."""
import statistics
import sys

rows = [line.split() for line in sys.stdin if line.strip()]
print("| run | anchoring | messages/s | ACK p50 | ACK p99 | tree heads sealed | outbox rows anchored |")
print("|---:|---|---:|---:|---:|---:|---:|")
for i, (mode, rate, p50, p99, heads, anchored) in enumerate(rows, 1):
    print(f"| {i} | {mode} | {float(rate):,.0f} | {p50} ms | {p99} ms | {heads} | {anchored} |")
med = {m: statistics.median(float(r[1]) for r in rows if r[0] == m) for m in ("off", "on")}
ratio = med["on"] / med["off"]
print(f"\nmedian messages/s: off {med['off']:,.0f}, on {med['on']:,.0f}; on / off = {ratio:.3f} "
      f"(anchoring costs {max(0.0, 1 - ratio):.1%} of ingest throughput)")
