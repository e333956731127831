#!/usr/bin/env python3
"""Open-loop HTTP load at a fixed rate: RATE requests/s for SECONDS over keep-alive connections, each request sent
at its scheduled time (late requests are not skipped, so a slow server shows in the latency), latency measured from
the scheduled time. Prints one JSON line: {"rate", "sent", "ok", "p50_ms", "p99_ms", "max_ms"}.

    rate_load.py URL RATE SECONDS [HEADER: VALUE]...
"""
import asyncio
import json
import sys
import time
import urllib.parse


async def worker(host, port, path, headers, schedule, latencies, status):
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n"
    data = request.encode()
    for due in schedule:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.write(data)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        code = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        if length:
            await reader.readexactly(length)
        latencies.append((time.perf_counter() - due) * 1000)
        status.append(code)
    writer.close()


async def main():
    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    headers = sys.argv[4:]
    u = urllib.parse.urlsplit(url)
    path = u.path + (("?" + u.query) if u.query else "")
    connections = 16
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    schedules = [[] for _ in range(connections)]
    for i in range(total):
        schedules[i % connections].append(start + i / rate)
    latencies, status = [], []
    await asyncio.gather(*(worker(u.hostname, u.port, path, headers, s, latencies, status) for s in schedules))
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(json.dumps({
        "rate": rate, "sent": total, "ok": sum(1 for s in status if s == 200),
        "p50_ms": round(pick(0.50), 3), "p99_ms": round(pick(0.99), 3), "max_ms": round(latencies[-1], 3),
    }))


asyncio.run(main())
