#!/usr/bin/env python3
"""Generates a realistic HL7 v2 corpus with a fixed seed, for the parse benchmark.

Half ADT^A01 (MSH EVN PID PD1 NK1×1–3 PV1 PV2 AL1×0–4 DG1×1–5), half ORU^R01 (MSH PID PV1 ORC OBR OBX×10–30 with
NTE), with repeating identifiers, names and phone numbers, subcomponents (assigning authorities), and escape
sequences (\\T\\ \\S\\ \\F\\ \\.br\\ \\X0D\\) in free text. Segments end in CR; messages follow each other in one file.

    generate_corpus.py OUT.hl7 [--messages N] [--seed S]
"""
import argparse
import random

FAMILY = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ", "MARTINEZ",
          "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR", "MOORE", "JACKSON", "MARTIN",
          "O'BRIEN", "VAN DER BERG", "MÜLLER", "NGUYEN"]
GIVEN = ["JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA", "DAVID", "ELIZABETH",
         "WILLIAM", "BARBARA", "RICHARD", "SUSAN", "JOSEPH", "JESSICA", "ZOË", "JOSÉ"]
STREETS = ["MAIN ST", "OAK AVE", "PINE RD", "MAPLE DR", "CEDAR LN", "ELM ST", "WASHINGTON BLVD", "LAKE VIEW TER"]
CITIES = [("SPRINGFIELD", "IL", "62701"), ("ANN ARBOR", "MI", "48104"), ("MADISON", "WI", "53703"),
          ("PORTLAND", "OR", "97201"), ("AUSTIN", "TX", "78701"), ("BOSTON", "MA", "02110")]
ALLERGENS = [("PCN", "PENICILLIN"), ("SULFA", "SULFONAMIDES"), ("LATEX", "LATEX"), ("PNT", "PEANUTS"),
             ("ASA", "ASPIRIN"), ("CODEINE", "CODEINE")]
REACTIONS = ["HIVES", "RASH", "ANAPHYLAXIS", "NAUSEA", "SWELLING", "WHEEZING"]
DIAGNOSES = [("I10", "Essential (primary) hypertension"), ("E11.9", "Type 2 diabetes mellitus without complications"),
             ("J45.909", "Unspecified asthma, uncomplicated"), ("N39.0", "Urinary tract infection, site not specified"),
             ("R07.9", "Chest pain, unspecified"), ("K21.9", "Gastro-esophageal reflux disease without esophagitis")]
LABS = [("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.0, 11.0),
        ("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", 4.2, 5.9),
        ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5),
        ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", 36.0, 52.0),
        ("787-2", "MCV [Entitic volume] by Automated count", "fL", 80.0, 100.0),
        ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150.0, 400.0),
        ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70.0, 99.0),
        ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3),
        ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 7.0, 20.0),
        ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135.0, 145.0),
        ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1),
        ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", 98.0, 107.0),
        ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.6, 10.3),
        ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 7.0, 56.0)]
COMMENTS = ["Specimen slightly hemolyzed\\.br\\Interpret potassium with caution",
            "Result verified by repeat analysis",
            "Critical value called to RN J. DOE \\T\\ read back",
            "Reference range updated 2024\\.br\\See lab manual section 4\\S\\2",
            "Fasting status unknown \\F\\ non-fasting ranges apply",
            "Line one\\X0D\\line two"]


def ts(r):
    return "20%02d%02d%02d%02d%02d%02d" % (r.randint(20, 26), r.randint(1, 12), r.randint(1, 28), r.randint(0, 23),
                                          r.randint(0, 59), r.randint(0, 59))


def name(r):
    return "%s^%s^%s^^%s" % (r.choice(FAMILY), r.choice(GIVEN), r.choice("ABCDEFGHJK"), r.choice(["", "MR", "MRS", "DR"]))


def address(r):
    city, state, zip_ = r.choice(CITIES)
    return "%d %s^APT %d^%s^%s^%s^USA^H" % (r.randint(1, 9999), r.choice(STREETS), r.randint(1, 99), city, state, zip_)


def phone(r):
    return "^PRN^PH^^1^%03d^%07d" % (r.randint(200, 999), r.randint(0, 9999999))


def msh(r, kind, n):
    return ("MSH|^~\\&|EPIC|GENHOSP^2.16.840.1.113883.19.1^ISO|LEDGERBRIDGE|GATEWAY|%s+0000||%s|MSG%08d|P|2.5.1|||AL|NE||UNICODE UTF-8"
            % (ts(r), kind, n))


def pid(r):
    mrn = r.randint(100000, 9999999)
    ids = "%d^^^GENHOSP&2.16.840.1.113883.19.1&ISO^MR~%09d^^^USSSA&2.16.840.1.113883.4.1&ISO^SS" % (mrn, r.randint(0, 999999999))
    phones = "~".join(phone(r) for _ in range(r.randint(1, 2)))
    return ("PID|1||%s||%s|%s|19%02d%02d%02d|%s||2106-3^White^CDCREC|%s||%s|||%s|%s|ACCT%d^^^GENHOSP^AN"
            % (ids, name(r), r.choice(FAMILY), r.randint(30, 99), r.randint(1, 12), r.randint(1, 28), r.choice("MFU"),
               address(r), phones, r.choice(["M^Married^HL70002", "S^Single^HL70002"]), r.choice(["CHR", "CAT", "NON"]),
               r.randint(1, 99999999)))


def pv1(r):
    doc = "%d^%s^%s^^^DR^^^GENHOSP&2.16.840.1.113883.19.1&ISO^L^^^NPI" % (r.randint(1000, 9999), r.choice(FAMILY), r.choice(GIVEN))
    return ("PV1|1|%s|%s^%d^%d^GENHOSP^^^^^%s||||%s|%s||MED||||ADM|||%s|IN|V%d^^^GENHOSP^VN|||||||||||||||||||||||||%s"
            % (r.choice("IEO"), r.choice(["4EAST", "ICU", "ER", "5WEST"]), r.randint(100, 599), r.randint(1, 4),
               r.choice(["North Wing", "South Wing"]), doc, doc, doc, r.randint(1, 99999999), ts(r)))


def adt(r, n):
    segs = [msh(r, "ADT^A01^ADT_A01", n), "EVN|A01|%s|||%d^%s^%s" % (ts(r), r.randint(1, 999), r.choice(FAMILY), r.choice(GIVEN)), pid(r),
            "PD1|||GENERAL HOSPITAL^^1234|%d^%s^%s" % (r.randint(1000, 9999), r.choice(FAMILY), r.choice(GIVEN))]
    for i in range(r.randint(1, 3)):
        segs.append("NK1|%d|%s|%s|%s|%s" % (i + 1, name(r), r.choice(["SPO^Spouse^HL70063", "PAR^Parent^HL70063", "CHD^Child^HL70063"]),
                                            address(r), phone(r)))
    segs.append(pv1(r))
    segs.append("PV2|||%s^%s^I10" % r.choice(DIAGNOSES))
    for i in range(r.randint(0, 4)):
        code, text = r.choice(ALLERGENS)
        segs.append("AL1|%d|DA^Drug allergy^HL70127|%s^%s^L|%s|%s~%s|%s" % (i + 1, code, text, r.choice(["SV", "MO", "MI"]),
                                                                          r.choice(REACTIONS), r.choice(REACTIONS), ts(r)[:8]))
    for i in range(r.randint(1, 5)):
        code, text = r.choice(DIAGNOSES)
        segs.append("DG1|%d||%s^%s^I10||%s|%s" % (i + 1, code, text, ts(r), r.choice(["A", "W", "F"])))
    return segs


def oru(r, n):
    segs = [msh(r, "ORU^R01^ORU_R01", n), pid(r), pv1(r)]
    order = r.randint(1, 99999999)
    segs.append("ORC|RE|ORD%d^EPIC|FIL%d^LAB||CM||||%s" % (order, order, ts(r)))
    segs.append("OBR|1|ORD%d^EPIC|FIL%d^LAB|58410-2^CBC panel - Blood by Automated count^LN|||%s|||||||%s|BLD&Blood&HL70070|%d^%s^%s||||||%s|||F"
                % (order, order, ts(r), ts(r), r.randint(1000, 9999), r.choice(FAMILY), r.choice(GIVEN), ts(r)))
    for i in range(r.randint(10, 30)):
        code, text, unit, lo, hi = r.choice(LABS)
        value = round(r.uniform(lo * 0.7, hi * 1.3), 1)
        flag = "H" if value > hi else ("L" if value < lo else "N")
        segs.append("OBX|%d|NM|%s^%s^LN||%s|%s^%s^UCUM|%s-%s|%s^%s^HL70078|||F|||%s|||||%s||||GENERAL HOSPITAL LAB^^^^^CLIA&2.16.840.1.113883.4.7&ISO^XX^^^05D0000000"
                    % (i + 1, code, text, value, unit, unit, lo, hi, flag, {"H": "High", "L": "Low", "N": "Normal"}[flag], ts(r), ts(r)))
        if r.random() < 0.15:
            segs.append("NTE|1|L|%s" % r.choice(COMMENTS))
    return segs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=20261124)
    a = ap.parse_args()
    r = random.Random(a.seed)
    with open(a.out, "wb") as f:
        for n in range(a.messages):
            segs = adt(r, n) if n % 2 == 0 else oru(r, n)
            f.write(("\r".join(segs) + "\r").encode("utf-8"))


if __name__ == "__main__":
    main()
