import Testing

@testable import HL7v2

@Suite("Acknowledgements")
struct ACKTests {
    static let adt = try! Message(parsing: "MSH|^~\\&|EHR|WARD^1.2&x^ISO|LB|GW|20260101||ADT^A01^ADT_A01|CTRL-9|P|2.5.1||||||UNICODE UTF-8\rPID|1\r")

    @Test("AA answers the sender with the original control id")
    func accept() throws {
        let ack = ACKBuilder().acknowledge(Self.adt, code: .accept, controlID: "ACK1", timestamp: "20260102030405+0000")
        #expect(ack["MSH-3"] == "LB" && ack["MSH-4"] == "GW")
        #expect(ack["MSH-5"] == "EHR" && ack["MSH-6.1"] == "WARD" && ack["MSH-6.2.2"] == "x")
        #expect(ack["MSH-7"] == "20260102030405+0000")
        #expect(ack.segment("MSH")!.rawValue(field: 9) == "ACK^A01^ACK")
        #expect(ack.controlID == "ACK1" && ack.processingID == "P" && ack.versionID == "2.5.1")
        #expect(ack["MSH-18"] == "UNICODE UTF-8")
        #expect(ack["MSA-1"] == "AA" && ack["MSA-2"] == "CTRL-9")
        #expect(ack.segments("ERR").isEmpty)
    }

    @Test("AE carries ERR with location, table 0357 code, severity and diagnostic")
    func error() throws {
        let err = HL7AcknowledgmentError(
            code: .requiredFieldMissing, location: HL7ErrorLocation(segmentID: "PID", segmentSequence: 1, field: 3),
            diagnostic: "PID-3 is required | and escaped")
        let ack = ACKBuilder().acknowledge(Self.adt, code: .error, errors: [err], controlID: "A2", timestamp: "20260102")
        #expect(ack["MSA-1"] == "AE" && ack["MSA-3"] == "Required field missing")
        let e = try #require(ack.segment("ERR"))
        #expect(e.rawValue(field: 2) == "PID^1^3")
        #expect(e.rawValue(field: 3) == "101^Required field missing^HL70357")
        #expect(e.value(field: 4) == "E")
        #expect(e.value(field: 7) == "PID-3 is required | and escaped")
        #expect(e.rawValue(field: 1) == "")
    }

    @Test("versions before 2.5 also get ERR-1 (ELD)")
    func legacyERR() throws {
        let old = try Message(parsing: "MSH|^~\\&|EHR|W|LB|GW|2026||ORU^R01|C|P|2.3.1\r")
        let err = HL7AcknowledgmentError(code: .tableValueNotFound, location: HL7ErrorLocation(segmentID: "OBX", segmentSequence: 2, field: 11))
        let ack = ACKBuilder().acknowledge(old, code: .reject, errors: [err], controlID: "A", timestamp: "2026")
        #expect(ack.segment("ERR")!.rawValue(field: 1) == "OBX^2^11^103&Table value not found&HL70357")
        #expect(ack["MSA-1"] == "AR")
    }

    @Test("unparseable input is answered from whatever MSH can be read")
    func reject() throws {
        let input = Array("MSH|^~\\&|EHR|W|LB|GW|2026||ADT^A01|C77|P|2.5\rPIDX|1\r".utf8)
        let parseError: HL7ParseError
        do {
            _ = try ER7Parser().parse(input)
            Issue.record("expected a parse error")
            return
        } catch {
            parseError = error
        }
        let ack = ACKBuilder().reject(input, error: parseError, controlID: "N1", timestamp: "2026")
        #expect(ack["MSA-1"] == "AR" && ack["MSA-2"] == "C77" && ack["MSH-5"] == "EHR")
        #expect(ack["ERR-3"] == "100")
        #expect(parseError.code == .invalidSegmentID)
        let garbage = ACKBuilder().reject(Array("hello".utf8), error: parseError, controlID: "N2", timestamp: "2026")
        #expect(garbage["MSA-1"] == "AR" && garbage["MSA-2"] == "")
        #expect(ER7Serializer().serialize(garbage) == garbage.bytes)
    }
}
