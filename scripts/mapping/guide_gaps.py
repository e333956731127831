#!/usr/bin/env python3
"""The HL7 v2-to-FHIR guide's segment and datatype rows that a shipped map never names.

For each guide segment map (`SEG[Resource]`, a CSV under GUIDE/segments) with a file of ours of the same name
(`Mappings/segments/SEG-Resource.yaml`), lists the fields the guide maps to a FHIR element (`SEG-N -> element`) that
our file does not mention at all; the same for datatype maps (`CX[Identifier]`, components `CX.N` named `.N`). A field listed may still be mapped elsewhere (another resource's map, a message map's
`refs:` or `into:` rules) or left out on purpose (say so in the map's comments); what is not listed is named somewhere
in our file, not necessarily mapped the guide's way.

Then the guide maps with no file of ours: those a map's comments name (`Guide: PD1[Observation-LivingWill]`, mapped
inside a message map or a group) and those nothing names (not mapped).

Last, rules that read a field or component as another type than the guide gives it: a datatype map applied to a
field of another type (a CX map over IN1-2, a CWE), and a plain read of a coded or composite field into an element
without a vocabulary (its first part only: OBR-13's code where a note wants its words). Found in one-line rules
and block rules (`- from: OBR-13` with `to:` and `map:` below it); OBX-5 (varies) and vocabularies, which read codes, are not listed.

    guide_gaps.py [--guide ../shared/v2-to-fhir/mappings] [--mappings Mappings]
"""
import argparse
import csv
import glob
import os
import re


def gaps(guide, mappings, kind="segments"):
    """(guide map, our file, {field: [elements]}) for `kind` "segments" (fields SEG-N, named as SEG-N in our file)
    or "datatypes" (components DT.N, named as .N: a relative path)."""
    out = []
    for path in sorted(glob.glob(os.path.join(guide, kind, "*.csv"))):
        m = re.search(r"FHIR R4_ (\w+)\[([\w-]+)\]", path)
        if not m:
            continue
        name, target = m.group(1), m.group(2)
        ours = os.path.join(mappings, kind, f"{name}-{target}.yaml")
        if not os.path.exists(ours):
            continue
        with open(ours, encoding="utf-8") as f:
            text = f.read()
        with open(path, encoding="utf-8", errors="replace") as f:
            rows = list(csv.reader(f))
        separator = "-" if kind == "segments" else "."
        missing = {}
        for row in rows[2:]:
            if len(row) < 10:
                continue
            field, element = row[1].strip(), row[9].strip()
            found = re.fullmatch(rf"{name}{re.escape(separator)}(\d+)", field)
            if not found or not element:
                continue
            named = re.escape(field) if kind == "segments" else r"(?<![\w.])\." + found.group(1)
            if not re.search(named + r"(?!\d)", text):
                missing.setdefault(field, []).append(element.splitlines()[0][:60])
        if missing:
            out.append((f"{name}[{target}]", ours, missing))
    return out


def without_file(guide, mappings, kind="segments"):
    """Guide maps of `kind` with no file of ours: (guide map, [our files whose text names it])."""
    texts = {}
    # Our maps, and the engine's own code for what it builds itself (the bundle's Provenance, MSH[Provenance-Source]).
    engine = os.path.join(os.path.dirname(os.path.abspath(mappings)), "Sources", "Mapping")
    for path in glob.glob(os.path.join(mappings, "**", "*.yaml"), recursive=True) + glob.glob(
        os.path.join(engine, "**", "*.swift"), recursive=True
    ):
        with open(path, encoding="utf-8") as f:
            texts[path] = f.read()
    out = []
    for path in sorted(glob.glob(os.path.join(guide, kind, "*.csv"))):
        m = re.search(r"FHIR R4_ (\w+)\[([\w-]+)\]", path)
        if not m or os.path.exists(os.path.join(mappings, kind, f"{m.group(1)}-{m.group(2)}.yaml")):
            continue
        name = f"{m.group(1)}[{m.group(2)}]"
        out.append((name, sorted(os.path.relpath(p) for p, t in texts.items() if name in t)))
    return out


def field_types(guide):
    """The guide's v2 type of each segment field (`IN1-2`: CWE) and datatype component (`XAD.9`: CWE)."""
    types = {}
    for path in glob.glob(os.path.join(guide, "*", "*.csv")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for row in csv.reader(f):
                if len(row) > 3 and re.fullmatch(r"[A-Z][A-Z0-9]{1,2}[-.]\d+", row[1] or ""):
                    types.setdefault(row[1], row[3])
    return types


# Types whose whole value is its first part: a plain read takes all of it.
SIMPLE_TYPES = {"ST", "NM", "ID", "IS", "DT", "DTM", "TS", "SI", "TX", "FT", "TM", "SNM", "varies", ""}
RULE = re.compile(r"^\s*- \{(.*)\}\s*(#.*)?$")
BLOCK_RULE = re.compile(r"^(\s*)- (from: .*)$")


def rules_of(text):
    """(line number, the rule's keys as one line) for each rule: `- {from: …}` on one line, or `- from: …` with its
    keys on the lines below it, indented deeper."""
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        if m := RULE.match(line):
            yield n, m.group(1)
        elif m := BLOCK_RULE.match(line):
            keys, depth = [m.group(2)], len(m.group(1))
            for more in lines[n:]:
                if not more.strip() or len(more) - len(more.lstrip()) <= depth + 1:
                    break
                keys.append(more.strip())
            yield n, ", ".join(keys)


def mistyped(guide, mappings):
    """(file, line number, message) for each one-line rule reading its source as another type than the guide's."""
    types = field_types(guide)
    datatype_of = {}
    files = sorted(glob.glob(os.path.join(mappings, "**", "*.yaml"), recursive=True))
    texts = {p: open(p, encoding="utf-8").read() for p in files}
    for text in texts.values():
        name, datatype = re.search(r"^name: (\S+)", text, re.M), re.search(r"^datatype: (\S+)", text, re.M)
        if name and datatype:
            datatype_of[name.group(1)] = datatype.group(1)
    out = []
    for path, text in texts.items():
        owner = re.search(r"^datatype: (\S+)", text, re.M)
        for n, body in rules_of(text):
            source = re.search(r"(?:^|, )from: ([A-Z][A-Z0-9]{2}-\d+|\.\d+)(?=[,}]|$)", body)
            if not source:
                continue
            place = source.group(1)
            if place.startswith("."):
                if not owner:
                    continue
                place = owner.group(1) + place
            kind = types.get(place)
            if not kind or kind == "varies":
                continue
            maps = re.search(r"map: (\[[^]]*\]|[\w-]+)", body)
            if maps:
                for name in re.findall(r"[\w-]+", maps.group(1)):
                    expected = datatype_of.get(name)
                    same = expected == kind or (kind in ("CE", "CNE", "CWE") and expected == "CWE") or kind in ("TS", "DTM")
                    if expected and not same:
                        out.append((path, n, f"{place} is a {kind}; {name} maps a {expected}"))
            elif "vocabulary:" not in body and "rules:" not in body and kind not in SIMPLE_TYPES:
                out.append((path, n, f"{place} is a {kind}, read whole as its first part"))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--guide", default=os.path.join(root, "..", "shared", "v2-to-fhir", "mappings"))
    p.add_argument("--mappings", default=os.path.join(root, "Mappings"))
    args = p.parse_args()
    for kind, what in (("segments", "segment maps"), ("datatypes", "datatype maps")):
        found = gaps(args.guide, args.mappings, kind)
        for name, ours, missing in found:
            print(f"{name} ({os.path.relpath(ours)}):")
            for field in sorted(missing, key=lambda f: int(re.split(r"[-.]", f)[1])):
                print(f"  {field:8} -> {'; '.join(dict.fromkeys(missing[field]))}")
        print(f"{sum(len(m) for _, _, m in found)} guide fields not named in {len(found)} {what}")
    # Datatype maps the guide writes for primitives (TS[dateTime], ID[code]) are value conversions of the engine: only
    # segment maps are listed.
    for kind, what in (("segments", "segment maps"),):
        rest = without_file(args.guide, args.mappings, kind)
        named = [(n, files) for n, files in rest if files]
        print(f"guide {what} with no file of ours, named in a map ({len(named)}):")
        for n, files in named:
            print(f"  {n:40} {', '.join(files)}")
        print(f"guide {what} no map names (not mapped, {len(rest) - len(named)}): {', '.join(n for n, f in rest if not f)}")
    found = mistyped(args.guide, args.mappings)
    print(f"rules reading a field as another type than the guide's ({len(found)}):")
    for path, n, message in found:
        print(f"  {os.path.relpath(path)}:{n}: {message}")


if __name__ == "__main__":
    main()
