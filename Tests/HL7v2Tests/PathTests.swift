import Testing

@testable import HL7v2

@Suite("Terser paths")
struct PathTests {
    static let oru =
        "MSH|^~\\&|LAB|H|EHR|H|20260101||ORU^R01|C1|P|2.5.1\r"
        + "PID|1||MRN1^^^H^MR||ROE^ANN\r"
        + "OBR|1||F1|CBC\r"
        + "OBX|1|NM|WBC^White cells^LN||7.2|10*9/L\r"
        + "OBX|2|NM|RBC^Red cells^LN||4.5|10*12/L\r"
        + "OBX|3|ST|NOTE||see\\.br\\below\r"

    @Test(
        "path syntax",
        arguments: [
            ("PID-3[2].1", TerserPath(segmentID: "PID", field: 3, repetition: 2, component: 1)),
            ("OBX[3]-5.1", TerserPath(segmentID: "OBX", segmentOccurrence: 3, field: 5, component: 1)),
            ("PID-5.1.1", TerserPath(segmentID: "PID", field: 5, component: 1, subcomponent: 1)),
            ("MSH-9.2", TerserPath(segmentID: "MSH", field: 9, component: 2)),
            ("OBX(2)-5-1", TerserPath(segmentID: "OBX", segmentOccurrence: 2, field: 5, component: 1)),
            ("ZX1-4(3)", TerserPath(segmentID: "ZX1", field: 4, repetition: 3)),
        ])
    func syntax(_ text: String, _ path: TerserPath) throws {
        #expect(try TerserPath(text) == path)
    }

    @Test(
        "invalid paths say where",
        arguments: [
            ("PID", "column 4"), ("pid-3", "column 1"), ("PID-0", "column 5"), ("PID-3[2", "column 8"), ("PID-3.1.2.3", "column 10"),
            ("PID-x", "column 5"), ("", "column 1"),
        ])
    func invalid(_ text: String, _ column: String) {
        #expect { try TerserPath(text) } throws: { error in
            guard let e = error as? HL7ValueError else { return false }
            return e.code == .invalidPath && e.location.hasPrefix(column)
        }
    }

    @Test("descriptions round-trip")
    func description() throws {
        for text in ["PID-3[2].1", "OBX[3]-5.1", "PID-5.1.1", "MSH-9.2", "PID-3"] {
            #expect(try TerserPath(text).description == text)
        }
    }

    @Test("reading repeating segments")
    func repeatingSegments() throws {
        let m = try Message(parsing: Self.oru)
        #expect(m["OBX-5"] == "7.2")
        #expect(m["OBX[2]-3.2"] == "Red cells")
        #expect(m["OBX[3]-5"] == "see\nbelow")
        #expect(m["OBX[4]-5"] == nil)
        #expect(m.segments("OBX").count == 3)
    }

    @Test("setting values pads the structure and escapes the text")
    func setting() throws {
        var m = try Message(parsing: Self.oru)
        try m.set("PID-5.3", to: "B")
        #expect(m.segment("PID")!.rawValue(field: 5) == "ROE^ANN^B")
        try m.set("PID-3[2].4.2", to: "1.2&3")
        #expect(m.segment("PID")!.rawValue(field: 3) == "MRN1^^^H^MR~^^^&1.2\\T\\3")
        #expect(m["PID-3[2].4.2"] == "1.2&3")
        try m.set("PID-8", to: "F")
        #expect(m.segment("PID")!.rawValue(field: 8) == "F")
        #expect(m.segment("PID")!.fieldCount == 8)
        try m.set("OBX[2]-5", to: "4.6|x")
        #expect(m["OBX[2]-5"] == "4.6|x")
        #expect(m["OBX-5"] == "7.2")
        try m.set("MSH-10", to: "C2")
        #expect(m.controlID == "C2")
        // Other bytes are untouched.
        #expect(m.segment("OBX", occurrence: 3)!.rawText == "OBX|3|ST|NOTE||see\\.br\\below")
        #expect(ER7Serializer().serialize(m) == m.bytes)
    }

    @Test("setting a value in a new segment appends it")
    func appendSegment() throws {
        var m = try Message(parsing: Self.oru)
        try m.set("NTE-3", to: "note")
        #expect(m.segments.last!.rawText == "NTE|||note")
        try m.set("OBX[4]-1", to: "4")
        #expect(m.segments("OBX").count == 4)
        #expect { try m.set("OBX[9]-1", to: "x") } throws: { ($0 as? HL7ValueError)?.code == .segmentNotFound }
    }

    @Test("MSH-1 and MSH-2 are read-only; unrepresentable text is refused")
    func refusals() throws {
        var m = try Message(parsing: Self.oru)
        #expect { try m.set("MSH-2", to: "x") } throws: { ($0 as? HL7ValueError)?.code == .readOnly }
        var ascii = try Message(parsing: "MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||ASCII\r")
        #expect { try ascii.set("MSH-3", to: "Zoë") } throws: { ($0 as? HL7ValueError)?.code == .unrepresentable }
    }

    @Test("building a message from values escapes every value")
    func building() throws {
        var msh = SegmentValue(id: "MSH")
        msh.set(field: 9, component: 1, to: "ADT")
        msh.set(field: 9, component: 2, to: "A08")
        msh.set(field: 10, to: "X|1")
        var pid = SegmentValue(id: "PID")
        pid.set(field: 5, component: 1, to: "O'Brien^Smith")
        pid.set(field: 5, component: 2, to: "Line1\nLine2")
        let m = try Message(segments: [msh, pid])
        #expect(m.controlID == "X|1")
        #expect(m["PID-5.1"] == "O'Brien^Smith")
        #expect(m["PID-5.2"] == "Line1\nLine2")
        #expect(m.segment("PID")!.rawValue(field: 5) == "O'Brien\\S\\Smith^Line1\\.br\\Line2")
    }
}

extension PathTests {
    @Test("counting components and subcomponents")
    func counting() throws {
        let m = try Message(parsing: "MSH|^~\\&|A||||||ADT^A01|1\rPID|1||123^^^HOSP&1.2.3&ISO^MR~456||DOE\r")
        let pid = try #require(m.segment("PID"))
        #expect(pid.componentCount(field: 3) == 5)
        #expect(pid.componentCount(field: 3, repetition: 2) == 1)
        #expect(pid.componentCount(field: 3, repetition: 3) == 0)
        #expect(pid.subcomponentCount(field: 3, component: 4) == 3)
        #expect(pid.subcomponentCount(field: 3, component: 1) == 1)
        #expect(pid.subcomponentCount(field: 3, component: 6) == 0)
        #expect(pid.subcomponentCount(field: 3, repetition: 2, component: 1) == 1)
        #expect(pid.componentCount(field: 2) == 1)
        #expect(pid.componentCount(field: 9) == 0)
        #expect(m.segment("MSH")!.componentCount(field: 9) == 2)
        #expect(m.segment("MSH")!.componentCount(field: 2) == 1)
    }
}

extension PathTests {
    @Test("emptiness without reading: absent, empty between delimiters, or valued, at each level")
    func emptiness() throws {
        let m = try Message(parsing: "MSH|^~\\&|A||||||ADT^A01|1\rPID|1||123^^^HOSP&&ISO^MR~||DOE|^^\r")
        let pid = try #require(m.segment("PID"))
        #expect(!pid.isEmpty(field: 3))
        #expect(pid.isEmpty(field: 2))
        #expect(pid.isEmpty(field: 30))
        #expect(!pid.isEmpty(field: 3, repetition: 1))
        #expect(pid.isEmpty(field: 3, repetition: 2))
        #expect(pid.isEmpty(field: 3, repetition: 3))
        #expect(pid.isEmpty(field: 3, repetition: 1, component: 2))
        #expect(!pid.isEmpty(field: 3, repetition: 1, component: 4))
        #expect(!pid.isEmpty(field: 3, repetition: 1, component: 4, subcomponent: 1))
        #expect(pid.isEmpty(field: 3, repetition: 1, component: 4, subcomponent: 2))
        #expect(!pid.isEmpty(field: 3, repetition: 1, component: 4, subcomponent: 3))
        #expect(pid.isEmpty(field: 3, repetition: 1, component: 9))
        // Delimiters without text: the field is there, but every component of it is empty.
        #expect(!pid.isEmpty(field: 6))
        #expect(pid.isEmpty(field: 6, repetition: 1, component: 1))
        // Each answer agrees with reading the raw text.
        for f in 1...7 {
            for r in 1...3 {
                for c in 1...5 {
                    #expect(pid.isEmpty(field: f, repetition: r, component: c) == (pid.rawValue(field: f, repetition: r, component: c) ?? "").isEmpty)
                }
            }
        }
    }
}
