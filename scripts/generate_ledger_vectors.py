#!/usr/bin/env python3
"""Writes RFC 9162 test vectors for Tests/LedgerTests/Vectors from the RFC's own definitions (section 2.1), with
Python's hashlib: an implementation independent of the Swift one.

    scripts/generate_ledger_vectors.py

rfc9162.json: leaves (hex of each leaf's input bytes), the root of every tree size 0..N, inclusion proofs for
every (leaf, size) with size <= 12 and a sample above, consistency proofs for every (m, n) with n <= 12 and a sample.
tampered.json: inclusion and consistency proofs with one change each (a flipped bit, a wrong index or size, a
missing, extra or reordered hash) that a verifier must reject.
"""
import hashlib
import json
import os

N = 40


def h(b):
    return hashlib.sha256(b).digest()


def leaf_hash(d):
    return h(b"\x00" + d)


def node(l, r):
    return h(b"\x01" + l + r)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    if len(d) == 0:
        return h(b"")
    if len(d) == 1:
        return leaf_hash(d[0])
    k = split(len(d))
    return node(mth(d[:k]), mth(d[k:]))


def path(m, d):
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m, d):
    return subproof(m, d, True)


def main():
    leaves = [("leaf %d: " % i).encode() + bytes([i % 256]) * (i % 7) for i in range(N)]
    roots = [mth(leaves[:n]).hex() for n in range(N + 1)]
    inclusion = []
    for n in range(1, N + 1):
        for m in range(n):
            if n <= 12 or (m * 7 + n) % 5 == 0:
                inclusion.append({"leaf": m, "size": n, "path": [x.hex() for x in path(m, leaves[:n])]})
    consistency = []
    for n in range(1, N + 1):
        for m in range(1, n + 1):
            if n <= 12 or (m * 3 + n) % 7 == 0:
                consistency.append({"old": m, "new": n, "path": [x.hex() for x in proof(m, leaves[:n])]})
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "LedgerTests", "Vectors")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "rfc9162.json"), "w") as f:
        json.dump({"leaves": [x.hex() for x in leaves], "roots": roots, "inclusion": inclusion, "consistency": consistency}, f, indent=0)

    def flip(hexhash, bit):
        b = bytearray(bytes.fromhex(hexhash))
        b[bit // 8] ^= 1 << (bit % 8)
        return b.hex()

    tampered = []
    for p in inclusion:
        if p["size"] not in (5, 7, 8, 13, 31) or not p["path"]:
            continue
        base = dict(kind="inclusion", leaf=p["leaf"], size=p["size"], path=list(p["path"]))
        tampered.append(dict(base, why="path[0] bit 4 flipped", path=[flip(p["path"][0], 4)] + p["path"][1:]))
        tampered.append(dict(base, why="last path hash bit 255 flipped", path=p["path"][:-1] + [flip(p["path"][-1], 255)]))
        tampered.append(dict(base, why="leaf index off by one", leaf=(p["leaf"] + 1) % p["size"]))
        tampered.append(dict(base, why="tree size one larger", size=p["size"] + 1))
        tampered.append(dict(base, why="a path hash missing", path=p["path"][:-1]))
        tampered.append(dict(base, why="an extra path hash", path=p["path"] + [p["path"][0]]))
        if len(p["path"]) > 1:
            tampered.append(dict(base, why="path hashes swapped", path=[p["path"][1], p["path"][0]] + p["path"][2:]))
    for p in consistency:
        if p["new"] not in (7, 12, 29) or not p["path"] or p["old"] == p["new"]:
            continue
        base = dict(kind="consistency", old=p["old"], new=p["new"], path=list(p["path"]))
        tampered.append(dict(base, why="path[0] bit 0 flipped", path=[flip(p["path"][0], 0)] + p["path"][1:]))
        tampered.append(dict(base, why="old size one smaller", old=p["old"] - 1) if p["old"] > 1 else dict(base, why="old size one larger", old=p["old"] + 1))
        tampered.append(dict(base, why="new size one larger", new=p["new"] + 1))
        tampered.append(dict(base, why="a path hash missing", path=p["path"][:-1]))
        tampered.append(dict(base, why="an extra path hash", path=p["path"] + [p["path"][-1]]))
    with open(os.path.join(out, "tampered.json"), "w") as f:
        json.dump(tampered, f, indent=0)
    print("wrote %d inclusion, %d consistency, %d tampered" % (len(inclusion), len(consistency), len(tampered)))


if __name__ == "__main__":
    main()
