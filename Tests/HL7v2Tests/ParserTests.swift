import Foundation
import Testing

@testable import HL7v2

@Suite("ER7 parser")
struct ParserTests {
    static let adt =
        "MSH|^~\\&|SEND|FAC|RECV|FAC2|20260101120000+0100||ADT^A01^ADT_A01|CTRL1|P|2.5.1\r"
        + "EVN|A01|20260101120000\r"
        + "PID|1||123^^^HOSP&1.2.3&ISO^MR~456^^^SSA^SS||DOE^JOHN^Q||19800101|M|||1 Main St^^Town^ST^12345\r"
        + "ZPI|custom|\"\"|\r"

    @Test("fields, repetitions, components and subcomponents in MSH numbering")
    func structure() throws {
        let m = try Message(parsing: Self.adt)
        #expect(m.segmentCount == 4)
        #expect(m["MSH-1"] == "|")
        #expect(m["MSH-2"] == "^~\\&")
        #expect(m["MSH-3"] == "SEND")
        #expect(m["MSH-9.2"] == "A01")
        #expect(m.messageCode == "ADT" && m.triggerEvent == "A01" && m.messageStructure == "ADT_A01")
        #expect(m.controlID == "CTRL1" && m.versionID == "2.5.1" && m.processingID == "P")
        #expect(m["PID-3"] == "123")
        #expect(m["PID-3[2].1"] == "456")
        #expect(m["PID-3[2].4"] == "SSA")
        #expect(m["PID-3.4.2"] == "1.2.3")
        #expect(m["PID-3.4.3"] == "ISO")
        #expect(m["PID-3.4.4"] == nil)
        #expect(m["PID-3[3]"] == nil)
        #expect(m["PID-5.2"] == "JOHN")
        #expect(m["PID-5-3"] == "Q")
        #expect(m["PID-2"] == "")
        #expect(m["PID-40"] == nil)
        #expect(m.segment("PID")!.repetitionCount(field: 3) == 2)
        #expect(m.segment("PID")!.rawValue(field: 3) == "123^^^HOSP&1.2.3&ISO^MR~456^^^SSA^SS")
        #expect(m.segment("PID")!.rawValue(field: 3, repetition: 1, component: 4) == "HOSP&1.2.3&ISO")
        #expect(m.segment("PID")!.fieldCount == 11)
        #expect(m.segment("MSH")!.fieldCount == 12)
    }

    @Test("empty versus explicit null, and Z-segments")
    func nullsAndZSegments() throws {
        let m = try Message(parsing: Self.adt)
        let z = try #require(m.segment("ZPI"))
        #expect(z.value(field: 1) == "custom")
        #expect(z.value(field: 2) == "\"\"")
        #expect(z.isExplicitNull(field: 2))
        #expect(!z.isExplicitNull(field: 3))
        #expect(z.value(field: 3) == "")
        #expect(z.fieldCount == 3)
    }

    @Test("segment terminators CR, LF and CRLF give the same values", arguments: ["\r", "\n", "\r\n"])
    func terminators(_ terminator: String) throws {
        let text = Self.adt.replacingOccurrences(of: "\r", with: terminator)
        let m = try Message(parsing: text)
        let reference = try Message(parsing: Self.adt)
        #expect(m.segments.map(\.value) == reference.segments.map(\.value))
        #expect(ER7Serializer().serialize(m) == Array(text.utf8))
    }

    @Test("a last segment without a terminator, and trailing blank lines")
    func unterminated() throws {
        let m = try Message(parsing: "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5")
        #expect(m["MSH-10"] == "1")
        let n = try Message(parsing: "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\r\n\r\n\n")
        #expect(n.segmentCount == 1)
        #expect(ER7Serializer().serialize(n).count == n.bytes.count)
    }

    @Test("any encoding characters, including the v2.7 truncation character")
    func customDelimiters() throws {
        let text = "MSH*!@%$#*SEND*FAC*R*F*2026**ORU!R01*X1*P*2.7\rOBX*1*ST*A$b!c@d!e*1#2*%F%%S%\r"
        let m = try Message(parsing: text)
        #expect(m.encoding == EncodingCharacters(field: 0x2A, component: 0x21, repetition: 0x40, escape: 0x25, subcomponent: 0x24, truncation: 0x23))
        #expect(m["MSH-2"] == "!@%$#")
        #expect(m["MSH-9.2"] == "R01")
        #expect(m["OBX-3.1.1"] == "A")
        #expect(m["OBX-3.1.2"] == "b")
        #expect(m["OBX-3.2"] == "c")
        #expect(m["OBX-3[2].1"] == "d")
        #expect(m["OBX-3[2].2"] == "e")
        #expect(m["OBX-4"] == "1#2")
        #expect(m["OBX-5"] == "*!")
        #expect(ER7Serializer().serialize(m) == Array(text.utf8))
    }

    @Test("an escape character that doubles the subcomponent separator acts as the separator")
    func doubledEscape() throws {
        let m = try Message(parsing: "MSH|^~\\\\&|A|B|C|D|2026||ADT^A01|1|P|2.6\rOBX|1|TX|x\\r|\r")
        #expect(m.encoding.escape == nil)
        #expect(m.encoding.subcomponent == UInt8(ascii: "\\"))
        #expect(m.encoding.truncation == UInt8(ascii: "&"))
        #expect(m["OBX-3.1.1"] == "x")
        #expect(m["OBX-3.1.2"] == "r")
    }

    @Test(
        "errors name the code, segment, field and byte offset",
        arguments: [
            ("", HL7ParseError.Code.emptyInput, 0, nil as Int?),
            ("\r\n", .emptyInput, 2, nil),
            ("PID|1\r", .missingHeader, 0, nil),
            ("MSH|^~\\&|A\rpid|1\r", .invalidSegmentID, 11, nil),
            ("MSH|^~\\&|A||||||ADT^A01|1\rPIDX|1\r", .invalidSegmentID, 29, nil),
            ("MSH|^~\\&|A||||||ADT^A01|1\rPI\r", .invalidSegmentID, 26, nil),
            ("MSH|^^\\&|A||||||ADT^A01\r", .badEncodingCharacters, 4, 2),
            ("MSH|^~\\&X|A||||||ADT^A01\r", .badEncodingCharacters, 4, 2),
            ("MSH|^~|A\r", .badEncodingCharacters, 4, 2),
            ("MSH\rPID|1\r", .badEncodingCharacters, 3, 1),
            ("MSH|^~\\&|A|||||||1\r", .missingMessageType, 16, 9),
            ("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||EBCDIC\r", .unsupportedCharacterSet, 37, 18),
        ])
    func errors(_ input: String, _ code: HL7ParseError.Code, _ offset: Int, _ field: Int?) {
        #expect {
            _ = try ER7Parser().parse(input)
        } throws: { error in
            guard let e = error as? HL7ParseError else { return false }
            return e.code == code && e.byteOffset == offset && e.field == field
        }
    }

    @Test("an error's description names places, never values")
    func errorDescriptionHasNoData() {
        do {
            _ = try ER7Parser().parse("MSH|^~\\&|SECRET-NAME|||||||1\r")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "byte 26 (segment 0 MSH-9): MSH-9 (message type) is empty")
            #expect(!error.description.contains("SECRET"))
        }
    }

    @Test("character sets: declared ASCII, 8859/1 and UTF-8; invalid bytes are errors")
    func characterSets() throws {
        let header = "MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||"
        // "ü" as the Latin-1 byte 0xFC.
        var latinBytes = Array((header + "8859/1\rPID|1||||M").utf8)
        latinBytes.append(0xFC)
        latinBytes += Array("LLER\r".utf8)
        let m = try Message(parsing: latinBytes)
        #expect(m.characterSet == .latin1)
        #expect(m["PID-5"] == "MÜLLER".replacingOccurrences(of: "Ü", with: "ü"))

        let utf8 = try Message(parsing: header + "UNICODE UTF-8\rPID|1||||Müller\r")
        #expect(utf8.characterSet == .utf8 && utf8["PID-5"] == "Müller")
        let undeclared = try Message(parsing: "MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1||||Müller\r")
        #expect(undeclared["PID-5"] == "Müller")

        #expect(throws: HL7ParseError.self) { try Message(parsing: header + "ASCII\rPID|1||||Müller\r") }
        var bad = Array((header + "UNICODE UTF-8\rPID|1||||M").utf8)
        bad += [0xC3, 0x28]
        do {
            _ = try Message(parsing: bad)
            Issue.record("invalid UTF-8 accepted")
        } catch {
            #expect(error.code == .invalidCharacters)
            #expect(error.byteOffset == bad.count - 2)
            #expect(error.segmentID == "PID")
        }
        let multi = try Message(parsing: header + "UTF-8~UNICODE\rPID|1\r")
        #expect(multi.characterSet == .utf8)
    }

    @Test("a byte-order mark before MSH is kept")
    func byteOrderMark() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("MSH|^~\\&|A||||||ADT^A01|1\r".utf8)
        let batch = try ER7Parser().parse(bytes)
        #expect(batch.prefix == [0xEF, 0xBB, 0xBF])
        #expect(ER7Serializer().serialize(batch) == bytes)
        #expect(batch.messages[0]["MSH-3"] == "A")
    }

    @Test("the maximum message size is enforced")
    func maximumSize() {
        var options = ER7ParseOptions()
        options.maxMessageBytes = 64
        let big = "MSH|^~\\&|A||||||ADT^A01|1\r" + "NTE|1||" + String(repeating: "x", count: 100) + "\r"
        #expect { try ER7Parser(options: options).parse(big) } throws: { ($0 as? HL7ParseError)?.code == .messageTooLarge }
    }

    @Test("Message(parsing:) takes exactly one message")
    func exactlyOne() {
        #expect(throws: HL7ParseError.self) {
            try Message(parsing: "MSH|^~\\&|A||||||ADT^A01|1\rMSH|^~\\&|A||||||ADT^A01|2\r")
        }
    }
}
