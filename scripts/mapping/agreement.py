#!/usr/bin/env python3
"""Element agreement between our FHIR bundles and a peer converter's expected bundles (issue #4's check).

For each expected resource, the best-matching produced resource of the same type (one-to-one, greedy by score) is
found; agreement is the share of the expected resource's leaf paths (array indices dropped) whose values we produce
too, as a multiset. Ignored: ids, references, meta, narrative text, Bundle request/fullUrl, and extensions under the
converter's own URLs and values (http://example.com/..., its placeholder identifier systems). Reported overall and per message type; by resource type with --by-type.

Beside the raw figure: the agreement without the leaves where the peer departs from R4 and the v2-to-FHIR guide,
each kind with its reason (PEER_DEPARTURES). Needs R4's v2 tables (--r4-tables, default CORPUS/../fhir-r4/v2-tables.json);
without them only the raw figure is given.

    agreement.py --binary .build/release/ledgerbridge --corpus ../shared/corpus [--mappings Mappings] [--json out.json]
    agreement.py --binary … --messages DIR --expected DIR      (the two folders given apart)
    agreement.py --binary … --messages Tests/MappingTests/Fixtures/ccda --expected Tests/FHIRTests/Fixtures/ccda-expected --suffix .ccda
"""
import argparse
import collections
import datetime
import re
import glob
import json
import os
import subprocess
import sys

IGNORED_KEYS = {"id", "meta", "text", "reference", "fullUrl", "request"}
# Values of the peer converter's own making (its placeholder systems and extension URLs), not of the message.
OWN_PREFIX = "http://example.com/"


TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")


def same_instant(text):
    """A dateTime with an offset, as the instant it names (UTC): the peer writes times in its own machine's zone
    (+05:30), we keep the sender's offset; 11:26+02:15 and 14:41+05:30 are the same value."""
    if not TIME.match(text):
        return text
    try:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaves(value, path="", departed=None):
    """The leaves (path, value) of a resource. With `departed` ({kind: Counter}), the leaves that are peer
    departures (PEER_DEPARTURES) are also counted there by kind, in the same walk."""
    out = []
    if isinstance(value, dict):
        if "url" in value and str(value.get("url", "")).startswith("http://example.com/"):
            return out
        for k, v in value.items():
            if k in IGNORED_KEYS or (path == "" and k == "resourceType"):
                continue
            got = leaves(v, f"{path}.{k}" if path else k, departed)
            if departed is not None:
                kind = departure(value, path, k)
                if kind:
                    departed[kind].update(got)
            out += got
    elif isinstance(value, list):
        for v in value:
            out += leaves(v, path, departed)
    elif isinstance(value, str) and value.startswith(OWN_PREFIX):
        pass
    else:
        out.append((path, json.dumps(value) if not isinstance(value, str) else same_instant(value)))
    return out


# Where the peer's bundles depart from R4 and the guide: leaves of these kinds are left out of the second figure
# (never out of the raw one). Each says why we do otherwise.
PEER_DEPARTURES = {
    "display not R4's": "a v2 code's display that is not R4 4.0.1's for that code: the peer writes newer texts (v2-0301 "
    "ISO as 'An International Standards Organization Object Identifier (OID), in accordance with ISO/IEC 8824...', "
    "where R4 and the guide say 'ISO Object Identifier'); we write R4's",
    "Location.description": "the peer joins every component of a PL with '--' as Location.description; the guide's "
    "PL[Location] maps no description",
}
# Whole resources the peer makes where the guide makes none: every leaf of such an expected resource is left out of
# the second figure. Each says what the guide maps instead (and we do).
PEER_RESOURCE_DEPARTURES = {
    "Observation from an MDM OBX": "the peer makes an Observation of each OBX of an MDM message; the guide's MDM_T02 "
    "maps an MDM's OBX into the DocumentReference (OBX[DocumentReference]), as we do",
    "DiagnosticReport from an ED/RP OBX": "the peer makes a DiagnosticReport (presentedForm) of each OBX with an ED or "
    "RP value; the guide's OBX[Observation] keeps it on the Observation (extension-Observation.value[x] valueAttachment), "
    "and its DiagnosticReports come from OBR",
}
PEER_DEPARTURES.update(PEER_RESOURCE_DEPARTURES)
R4_DISPLAYS = {}  # code system URL → code → display, from R4's v2 tables


class Source:
    """What resource departures need of the input message: its type (MSH-9.1) and its ED/RP OBX's codes (OBX-3.1)."""

    def __init__(self, text):
        self.type = ""
        self.attachment_codes = set()
        start = text.find("MSH")
        if start < 0 or len(text) < start + 5:
            return
        field, component = text[start + 3], text[start + 4]
        for segment in re.split(r"[\r\n]+", text[start:]):
            fields = segment.split(field)
            if fields[0] == "MSH" and len(fields) > 8:
                self.type = fields[8].split(component)[0]
            elif fields[0] == "OBX" and len(fields) > 3 and fields[2] in ("ED", "RP"):
                self.attachment_codes.add(fields[3].split(component)[0])


def resource_departure(resource, source):
    """The kind of whole-resource peer departure an expected resource is, or None."""
    if source is None:
        return None
    t = resource.get("resourceType")
    if t == "Observation" and source.type == "MDM":
        return "Observation from an MDM OBX"
    if t == "DiagnosticReport" and "presentedForm" in resource and "result" not in resource:
        codes = {c.get("code") for c in resource.get("code", {}).get("coding", [])}
        if codes & source.attachment_codes:
            return "DiagnosticReport from an ED/RP OBX"
    return None


def load_r4_displays(path):
    found = {}

    def walk(o):
        if isinstance(o, dict):
            if "concept" in o and str(o.get("url", "")).startswith("http://terminology.hl7.org/CodeSystem/v2-"):
                found[o["url"]] = {c["code"]: c.get("display") for c in o["concept"] if "code" in c}
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(json.load(open(path)))
    return found


def departure(owner, path, key):
    """The kind of peer departure member `key` of object `owner` (at `path`) is, or None."""
    if key == "description" and path == "" and owner.get("resourceType") == "Location":
        return "Location.description"
    if key == "display" and isinstance(owner["display"], str):
        system, code = owner.get("system"), owner.get("code")
        r4 = R4_DISPLAYS.get(system, {}).get(code) if isinstance(system, str) and isinstance(code, str) else None
        if r4 is not None and r4 != owner["display"]:
            return "display not R4's"
    return None


def score(expected, produced):
    e = collections.Counter(expected)
    p = collections.Counter(produced)
    return sum((e & p).values())


MISSED = collections.Counter()
DEPARTED = collections.Counter()  # expected leaves left out of the second figure, by kind of departure
KEPT = [0, 0]
WATCH = None
# With --examples PATH: (message, value we miss, what we have at that path) for the watched type's leaf PATH.
EXAMPLE_PATH = None
EXAMPLES = []
CURRENT = ""


def compare(expected_bundle, produced_bundle, source=None):
    """Returns {resourceType: [matched, total]} for one message (`source`: its ``Source``, for whole-resource
    departures)."""
    exp = [e["resource"] for e in expected_bundle.get("entry", [])]
    got = [e["resource"] for e in produced_bundle.get("entry", [])] if produced_bundle else []
    by_type = collections.defaultdict(lambda: [0, 0])
    kept = [0, 0]  # matched and total leaves that are not peer departures
    got_leaves = [(r["resourceType"], leaves(r)) for r in got]
    pairs = []
    exp_leaves = []
    kept_leaves = []
    for i, r in enumerate(exp):
        departed = collections.defaultdict(collections.Counter) if R4_DISPLAYS else None
        el = leaves(r, departed=departed)
        exp_leaves.append((r["resourceType"], el))
        by_type[r["resourceType"]][1] += len(el)
        if R4_DISPLAYS:
            gone = collections.Counter()
            whole = resource_departure(r, source)
            if whole:
                departed = {whole: collections.Counter(el)}
            for kind, c in departed.items():
                DEPARTED[kind] += sum(c.values())
                gone += c
            kept_leaves.append(collections.Counter(el) - gone)
            kept[1] += sum(kept_leaves[-1].values())
        for j, (t, gl) in enumerate(got_leaves):
            if t == r["resourceType"]:
                s = score(el, gl)
                if s:
                    pairs.append((s, i, j))
    pairs.sort(reverse=True)
    used_e, used_g = set(), set()
    for s, i, j in pairs:
        if i in used_e or j in used_g:
            continue
        used_e.add(i)
        used_g.add(j)
        by_type[exp_leaves[i][0]][0] += s
        if R4_DISPLAYS:
            kept[0] += sum((kept_leaves[i] & collections.Counter(got_leaves[j][1])).values())
        if WATCH == exp_leaves[i][0]:
            missing = collections.Counter(exp_leaves[i][1]) - collections.Counter(got_leaves[j][1])
            for (path, value), n in missing.items():
                MISSED[path] += n
                if path == EXAMPLE_PATH:
                    ours = sorted({v for q, v in got_leaves[j][1] if q == path})
                    EXAMPLES.append((CURRENT, value, ours))
    if WATCH:
        for i, (t, el) in enumerate(exp_leaves):
            if t == WATCH and i not in used_e:
                MISSED["(no matching resource)"] += len(el)
                if EXAMPLE_PATH == "(no matching resource)":
                    EXAMPLES.append((CURRENT, "; ".join(f"{q}={v}" for q, v in el[:8]), []))
    KEPT[0] += kept[0]
    KEPT[1] += kept[1]
    return by_type


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--corpus", help="a folder holding hl7v2/ and hl7v2-expected/")
    p.add_argument("--messages", help="the HL7 v2 messages (default CORPUS/hl7v2)")
    p.add_argument("--expected", help="the peer's bundles (default CORPUS/hl7v2-expected)")
    p.add_argument("--suffix", default=".hl7", help="the inputs' file suffix (.ccda for the C-CDA documents)")
    p.add_argument("--mappings", default=None)
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("--by-type", action="store_true")
    p.add_argument("--missed", default=None, help="list the expected leaf paths of this resource type we miss most")
    p.add_argument("--r4-tables", default=None, help="R4's v2 tables (default CORPUS/../fhir-r4/v2-tables.json)")
    p.add_argument("--examples", default=None, help="with --missed: examples of one missed leaf path (or '(no matching resource)')")
    args = p.parse_args()
    global WATCH, EXAMPLE_PATH, CURRENT
    WATCH = args.missed
    EXAMPLE_PATH = args.examples
    tables = args.r4_tables or (os.path.join(args.corpus, "..", "fhir-r4", "v2-tables.json") if args.corpus else None)
    if tables and os.path.exists(tables):
        R4_DISPLAYS.update(load_r4_displays(tables))
    expected_dir = args.expected or os.path.join(args.corpus, "hl7v2-expected")
    messages_dir = args.messages or os.path.join(args.corpus, "hl7v2")
    per_message = collections.defaultdict(lambda: [0, 0])
    per_type = collections.defaultdict(lambda: [0, 0])
    failures = []
    for path in sorted(glob.glob(os.path.join(expected_dir, "*.json"))):
        name = os.path.basename(path)[: -len(".json")]
        source = os.path.join(messages_dir, name + args.suffix)
        if not os.path.exists(source):
            continue
        cmd = [args.binary, "map", "--format", "json", source]
        if args.mappings:
            cmd[2:2] = ["--mappings", args.mappings]
        run = subprocess.run(cmd, capture_output=True, text=True)
        produced = None
        if run.returncode == 0:
            produced = json.loads(run.stdout)
        else:
            failures.append(f"{name}: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}")
        expected = json.load(open(path))
        CURRENT = name
        message_type = name.rsplit("-", 1)[0] if name[-1].isdigit() and "-" in name else name
        with open(source, encoding="utf-8", errors="replace") as f:
            message = Source(f.read()) if args.suffix == ".hl7" else None
        for t, (m, n) in compare(expected, produced, message).items():
            per_message[message_type][0] += m
            per_message[message_type][1] += n
            per_type[t][0] += m
            per_type[t][1] += n
    matched = sum(m for m, _ in per_message.values())
    total = sum(n for _, n in per_message.values())
    print(f"{'message type':<28} {'agreement':>9}  leaves")
    for k in sorted(per_message):
        m, n = per_message[k]
        print(f"{k:<28} {100 * m / max(n, 1):8.1f}%  {m}/{n}")
    if args.by_type:
        print()
        print(f"{'resource type':<28} {'agreement':>9}  leaves")
        for k, (m, n) in sorted(per_type.items(), key=lambda kv: -kv[1][1]):
            print(f"{k:<28} {100 * m / max(n, 1):8.1f}%  {m}/{n}")
    for f in failures:
        print("not mapped:", f)
    if WATCH:
        print(f"most missed leaves of {WATCH}:")
        for path, n in MISSED.most_common(40):
            print(f"  {n:6} {path}")
        for name, value, ours in EXAMPLES[:40]:
            print(f"  {name}: expected {value}; ours {ours}")
    if R4_DISPLAYS:
        print(f"without the peer's departures from R4 and the guide ({sum(DEPARTED.values())} leaves): "
              f"{100 * KEPT[0] / max(KEPT[1], 1):.1f}% ({KEPT[0]}/{KEPT[1]} leaves)")
        for kind, n in DEPARTED.most_common():
            print(f"  {n:6} {kind}: {PEER_DEPARTURES[kind]}")
    print(f"overall agreement: {100 * matched / max(total, 1):.1f}% ({matched}/{total} leaves)")
    if args.json:
        json.dump(
            {
                "overall": matched / max(total, 1),
                "perMessageType": {k: m / max(n, 1) for k, (m, n) in per_message.items()},
                "perResourceType": {k: m / max(n, 1) for k, (m, n) in per_type.items()},
                "notMapped": failures,
                "withoutPeerDepartures": KEPT[0] / max(KEPT[1], 1) if R4_DISPLAYS else None,
                "peerDepartures": dict(DEPARTED),
            },
            open(args.json, "w"),
            indent=1,
        )


if __name__ == "__main__":
    main()
