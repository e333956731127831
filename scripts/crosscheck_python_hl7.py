#!/usr/bin/env python3
"""Parses HL7 v2 files with python-hl7 (an independent parser) and prints what it found, for the cross-check test.

One JSON line per message: {"file", "index", "segments": [[field, ...], ...]} where every field is expanded to
repetitions -> components -> subcomponents, each leaf {"raw": str, "decoded": str, "comparable": bool}.
"decoded" is python-hl7's unescape() told to use Ledgerbridge's mapping for the formatting escapes (.br .sp .ce -> LF,
H N .fi .nf .in .ti -> nothing, .sk -> space); "comparable" is false where the two libraries decode differently by
design (hex data, which python-hl7 reads as Latin-1 code points; unknown escapes, which python-hl7 deletes and
Ledgerbridge keeps verbatim).

python-hl7 splits segments on CR only and reads one message at a time, so files are split into messages here
(segment terminators normalised, FHS/BHS/BTS/FTS left out) and each message is handed to hl7.parse.
"""
import json
import re
import sys

import hl7

FORMAT_MAP = {"H": "", "N": "", ".br": "\n", ".sp": "\n", ".ce": "\n", ".fi": "", ".nf": "", ".in": "", ".ti": "", ".sk": " "}
KNOWN = re.compile(r"^(F|S|T|R|E|H|N|\.br|\.fi|\.nf|\.ce)$")


def messages(data: bytes):
    first = data.split(b"\r", 1)[0].split(b"\n", 1)[0]
    fields = first.split(first[3:4]) if len(first) > 3 else []
    latin = len(fields) > 17 and fields[17].strip().upper() in (b"8859/1", b"8859/15")
    text = data.decode("latin-1" if latin else "utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    segments = [s for s in re.split(r"\r\n|\r|\n", text) if s]
    current = []
    for seg in segments:
        if seg[:3] in ("FHS", "BHS", "BTS", "FTS"):
            if current:
                yield current
            current = []
            continue
        if seg.startswith("MSH") and current:
            yield current
            current = []
        current.append(seg)
    if current:
        yield current


def leaf(msg, raw, esc):
    decoded = msg.unescape(raw, app_map=FORMAT_MAP) if esc else raw
    comparable = True
    if esc and esc in raw:
        parts = raw.split(esc)
        # Sequences sit at odd positions of the split; a dangling escape leaves an even count of parts.
        if len(parts) % 2 == 0:
            comparable = False
        for body in parts[1::2]:
            if not KNOWN.match(body):
                comparable = False
    return {"raw": raw, "decoded": decoded, "comparable": comparable}


def expand(msg, value, depth, esc):
    """Expands python-hl7's containers (which stop splitting when no separator is present) to full depth."""
    if depth == 0:
        return leaf(msg, str(value), esc)
    if isinstance(value, str):
        return [expand(msg, value, depth - 1, esc)]
    return [expand(msg, v, depth - 1, esc) for v in value]


def main(paths):
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        for index, segs in enumerate(messages(data)):
            # hl7.parse strip()s the message text, which would eat trailing spaces of the last segment: a sentinel
            # segment after it keeps the real content intact, and is dropped again below.
            msg = hl7.parse("\r".join(segs + ["ZZZ|sentinel"]))
            esc = msg.esc
            out = []
            for seg in list(msg)[:-1]:
                fields = []
                for number, field in enumerate(seg):
                    if number == 0 or (str(seg[0]) == "MSH" and number in (1, 2)):
                        fields.append([[[leaf(msg, str(field), None)]]])
                    else:
                        fields.append(expand(msg, field, 3, esc))
                out.append(fields)
            print(json.dumps({"file": path, "index": index, "segments": out}, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
