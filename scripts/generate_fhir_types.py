#!/usr/bin/env python3
"""Generates Sources/FHIR/Generated/R4TypeTable.swift from the FHIR R4 (4.0.1) StructureDefinitions.

    scripts/generate_fhir_types.py [../shared/fhir-r4]

The table is a compact text (one line per type or element, parsed once on first use) rather than a Swift literal,
which keeps compile times short. Lines:

    P <type> <json: boolean|number|string> <regex or ->         a primitive type
    T <type> <kind: resource|abstract|complex|backbone>        a resource, complex datatype or backbone element
    E <name> <min> <max> <flags> <types>                        an element of the type above, in definition order
    B <code>|<code>|…                                           the codes a required binding allows for the element above
    A <alias> <type>                                            a constrained type read as its base (SimpleQuantity)

Flags: `a` XML attribute (Element.id, Extension.url), `x` xhtml (Narrative.div), `c` choice element (`value[x]`),
`-` none. Types are comma-separated type codes; a backbone element's type is its path (`Patient.contact`), a content
reference names the type it reuses (`Questionnaire.item`). Max is a number or `*`.
"""
import json
import os
import sys

FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
NUMBERS = {"integer", "positiveInt", "unsignedInt", "decimal"}


def ext(t, url):
    for e in t.get("extension", []):
        if e["url"] == url:
            return e.get("valueUrl") or e.get("valueString") or e.get("valueUri")
    return None


def type_codes(el):
    codes = []
    for t in el.get("type", []):
        code = t.get("code")
        if code and code.startswith("http://hl7.org/fhirpath/System."):
            code = ext(t, FHIR_TYPE) or "string"
        codes.append(code)
    return codes


class Terminology:
    """Expands the value sets of required bindings from the specification's ValueSets and CodeSystems."""

    def __init__(self, root):
        self.value_sets, self.code_systems = {}, {}
        for name in ("valuesets.json", "v3-codesystems.json", "v2-tables.json"):
            path = os.path.join(root, name)
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for e in json.load(f)["entry"]:
                    r = e["resource"]
                    if r["resourceType"] == "ValueSet":
                        self.value_sets[r["url"]] = r
                    elif r["resourceType"] == "CodeSystem":
                        self.code_systems[r["url"]] = r

    def system_codes(self, url):
        cs = self.code_systems.get(url)
        if not cs or cs.get("content") != "complete":
            return None
        codes = []

        def walk(concepts):
            for c in concepts:
                codes.append(c["code"])
                walk(c.get("concept", []))

        walk(cs.get("concept", []))
        return codes

    def expand(self, url, depth=0):
        """The codes of a value set, or None when it cannot be expanded exactly (filters, unknown systems)."""
        vs = self.value_sets.get(url.split("|")[0])
        if not vs or depth > 5 or "compose" not in vs:
            return None
        codes = []
        for inc in vs["compose"].get("include", []):
            if "filter" in inc:
                return None
            part = None
            if "concept" in inc:
                part = [c["code"] for c in inc["concept"]]
            elif "system" in inc:
                part = self.system_codes(inc["system"])
            for nested in inc.get("valueSet", []):
                more = self.expand(nested, depth + 1)
                if more is None:
                    return None
                part = (part or []) + more
            if part is None:
                return None
            codes += part
        for exc in vs["compose"].get("exclude", []):
            if "concept" not in exc:
                return None
            excluded = {c["code"] for c in exc["concept"]}
            codes = [c for c in codes if c not in excluded]
        return sorted(set(codes)) or None


def main(root):
    terminology = Terminology(root)
    defs = []
    for name in ("profiles-types.json", "profiles-resources.json"):
        with open(os.path.join(root, name)) as f:
            defs += [e["resource"] for e in json.load(f)["entry"] if e["resource"]["resourceType"] == "StructureDefinition"]
    lines = []
    aliases = []
    for sd in defs:
        kind = sd.get("kind")
        name = sd["id"]
        if sd.get("derivation") == "constraint":
            if kind == "complex-type" and sd["type"] != name:
                aliases.append("A %s %s" % (name, sd["type"]))
            continue
        if kind == "logical":
            continue
        elements = sd["snapshot"]["element"]
        if kind == "primitive-type":
            value = next(e for e in elements if e["path"] == name + ".value")
            t = value["type"][0]
            regex = ext(t, REGEX) or "-"
            json_kind = "boolean" if name == "boolean" else ("number" if name in NUMBERS else "string")
            lines.append("P %s %s %s" % (name, json_kind, regex))
            continue
        tkind = {"resource": "abstract" if sd.get("abstract") else "resource", "complex-type": "complex"}[kind]
        by_parent = {}
        for el in elements:
            path = el["path"]
            if "." not in path:
                continue
            parent, _, leaf = path.rpartition(".")
            by_parent.setdefault(parent, []).append((leaf, el))
        pending = [(name, tkind)]
        while pending:
            tname, k = pending.pop(0)
            lines.append("T %s %s" % (tname, k))
            for leaf, el in by_parent.get(tname, []):
                path = tname + "." + leaf
                flags = ""
                rep = el.get("representation", [])
                if "xmlAttr" in rep:
                    flags += "a"
                if "xhtml" in rep or type_codes(el) == ["xhtml"]:
                    flags += "x"
                choice = leaf.endswith("[x]")
                if choice:
                    flags += "c"
                    leaf = leaf[:-3]
                if "contentReference" in el:
                    types = [el["contentReference"].lstrip("#")]
                else:
                    types = type_codes(el)
                    if types in (["BackboneElement"], ["Element"]) and path in by_parent:
                        types = [path]
                        pending.append((path, "backbone"))
                if path == name + ".id" and tkind in ("resource", "abstract"):
                    types = ["id"]
                lines.append("E %s %s %s %s %s" % (leaf, el.get("min", 0), el.get("max", "1"), flags or "-", ",".join(types)))
                binding = el.get("binding", {})
                if binding.get("strength") == "required" and types == ["code"] and binding.get("valueSet"):
                    codes = terminology.expand(binding["valueSet"])
                    if codes and all("|" not in c and "\n" not in c for c in codes):
                        lines.append("B " + "|".join(codes))
    lines += aliases
    body = "\n".join(lines)
    out = os.path.join(os.path.dirname(__file__), "..", "Sources", "FHIR", "Generated", "R4TypeTable.swift")
    with open(out, "w") as f:
        f.write("// Generated by scripts/generate_fhir_types.py from the FHIR R4 4.0.1 StructureDefinitions. Do not edit.\n")
        f.write("// %d lines: P primitive, T type, E element (name min max flags types), A alias.\n\n" % len(lines))
        f.write("extension FHIRTypeTable {\n    static let r4Source = #\"\"\"\n")
        f.write(body)
        f.write("\n\"\"\"#\n}\n")
    print("wrote %s (%d lines)" % (out, len(lines)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fhir-r4"))
