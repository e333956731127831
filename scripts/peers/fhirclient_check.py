#!/usr/bin/env python3
"""Reads a Patient and searches its Observations through the SMART on FHIR Python client (fhirclient, PyPI),
against a running gateway: the client's own models parse what the gateway serves.

    fhirclient_check.py BASE_URL TOKEN PATIENT_ID

Prints one JSON line: {"patient": {"id", "family", "birthDate"}, "observations": [{"id", "code", "value"}...], "total"}.
"""
import json
import sys

from fhirclient import client
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient


def main():
    base, token, patient_id = sys.argv[1], sys.argv[2], sys.argv[3]
    smart = client.FHIRClient(settings={"app_id": "ledgerbridge-test", "api_base": base})
    smart.server.session.headers["Authorization"] = "Bearer " + token
    patient = Patient.read(patient_id, smart.server)
    search = Observation.where(struct={"patient": patient_id, "_count": "1"})
    bundle = search.perform(smart.server)
    observations = []
    # Follow the next links the gateway gives, as a client pages.
    while True:
        for entry in bundle.entry or []:
            o = entry.resource
            code = o.code.coding[0].code if o.code and o.code.coding else None
            value = o.valueQuantity.value if o.valueQuantity else (o.valueString or None)
            observations.append({"id": o.id, "code": code, "value": value})
        nxt = [l.url for l in (bundle.link or []) if l.relation == "next"]
        if not nxt:
            break
        from fhirclient.models.bundle import Bundle

        bundle = Bundle(smart.server.request_json(nxt[0]))
    print(json.dumps({
        "patient": {"id": patient.id, "family": patient.name[0].family, "birthDate": patient.birthDate.isostring},
        "observations": observations,
        "total": bundle.total,
    }))


if __name__ == "__main__":
    main()
