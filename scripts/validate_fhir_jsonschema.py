#!/usr/bin/env python3
"""Validates FHIR JSON files against the official FHIR R4 JSON Schema (fhir.schema.json) with the Python jsonschema
package: an independent judge of the JSON Ledgerbridge writes.

    validate_fhir_jsonschema.py SCHEMA FILE...

Prints one JSON line per file: {"file", "valid", "errors": [first few messages with their paths]}.
"""
import json
import sys

import jsonschema


def main():
    schema = json.load(open(sys.argv[1]))
    cls = jsonschema.validators.validator_for(schema)
    validators = {}
    for path in sys.argv[2:]:
        doc = json.load(open(path))
        # Validate against the document's own resource definition (the schema's root is a oneOf over all of them,
        # which is slow and reports only "not valid under any of the given schemas").
        kind = doc.get("resourceType") if isinstance(doc, dict) else None
        if kind not in schema["definitions"]:
            print(json.dumps({"file": path, "valid": False, "errors": ["unknown resourceType %r" % kind]}))
            continue
        if kind not in validators:
            validators[kind] = cls({"$schema": schema.get("$schema"), "$ref": "#/definitions/" + kind, "definitions": schema["definitions"]})
        errors = sorted(validators[kind].iter_errors(doc), key=lambda e: list(e.absolute_path))
        print(json.dumps({
            "file": path,
            "valid": not errors,
            "errors": ["/".join(str(p) for p in e.absolute_path) + ": " + e.message[:200] for e in errors[:5]],
        }))


if __name__ == "__main__":
    main()
