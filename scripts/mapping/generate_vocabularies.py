#!/usr/bin/env python3
"""Generates Mappings/vocabularies/*.yaml from the HL7 v2-to-FHIR guide's code system maps (run once; the files are
then edited by hand and this is never run over them again — see docs/mapping-design.md).

    generate_vocabularies.py ../shared/v2-to-fhir/mappings/codesystems Mappings/vocabularies
"""
import csv
import glob
import os
import re
import sys


def v2_system(table):
    m = re.fullmatch(r"HL7(\d{4})", table or "")
    return f"http://terminology.hl7.org/CodeSystem/v2-{m.group(1)}" if m else None


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(source, target):
    os.makedirs(target, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(source, "*.csv"))):
        name = os.path.basename(path).replace("HL7 Concept Map_ ", "").rsplit(" - ", 1)[0].strip()
        all_rows = list(csv.reader(open(path, encoding="utf-8")))
        if len(all_rows) < 2:
            continue
        # Columns by the header row: v2's code and table first, then the FHIR code (the second "Code"), display and
        # code system (the last of each). Most maps have an empty column before Display; four do not (OrderStatus,
        # PractitionerIDNumberType, ProcessingID, ProcessingMode), which a fixed layout had read as display = system.
        header = [h.strip() for h in all_rows[1]]
        codes_at = [i for i, h in enumerate(header) if h == "Code"]
        if len(codes_at) < 2 or "Display" not in header or header.count("Code System") < 2:
            continue
        fhir_at = codes_at[1]
        display_at = max(i for i, h in enumerate(header) if h == "Display")
        system_at = max(i for i, h in enumerate(header) if h == "Code System")
        rows = all_rows[2:]
        codes = []
        systems = {}
        tables = {}
        for r in rows:
            r = r + [""] * 12
            code, text, table, cond = r[0], r[1], r[2], r[3]
            fhir_code, display, system = r[fhir_at], r[display_at].strip(), r[system_at]
            if not display and fhir_at + 1 < display_at:
                display = r[fhir_at + 1].strip()  # some maps write the display in the unnamed column after the code
            if not code.strip() or not fhir_code.strip() or cond.strip():
                continue
            codes.append((code.strip(), fhir_code.strip(), display, system.strip()))
            systems[system.strip()] = systems.get(system.strip(), 0) + 1
            tables[table.strip()] = tables.get(table.strip(), 0) + 1
        if not codes:
            continue
        main_system = max(systems, key=systems.get)
        table = max(tables, key=tables.get)
        file = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") + ".yaml"
        lines = [
            f"# Generated from the HL7 v2-to-FHIR guide's '{name}' map ({table}); edit freely.",
            f"vocabulary: {quote(name)}",
        ]
        if main_system:
            lines.append(f"system: {main_system}")
        lines.append("codes:")
        seen = set()
        for code, fhir_code, display, system in codes:
            if code in seen:
                continue
            seen.add(code)
            entry = [f"code: {quote(fhir_code)}"]
            if display:
                entry.append(f"display: {quote(display)}")
            if system and system != main_system:
                entry.append(f"system: {system}")
            lines.append(f"  {quote(code)}: {{{', '.join(entry)}}}")
        keep = v2_system(table)
        lines.append(f"unmapped: {{keep: {keep}}}" if keep else "unmapped: keep")
        open(os.path.join(target, file), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
