import Foundation
import Testing

@testable import HL7v2

@Suite("Batches")
struct BatchTests {
    static func msg(_ id: Int) -> String { "MSH|^~\\&|A|B|C|D|2026||ADT^A08|M\(id)|P|2.5\rPID|1||\(id)\r" }

    @Test("FHS/BHS/BTS/FTS with matching counts")
    func fullBatch() throws {
        let text = "FHS|^~\\&|A\rBHS|^~\\&|A\r" + Self.msg(1) + Self.msg(2) + "BTS|2\rBHS|^~\\&|A\r" + Self.msg(3) + "BTS|1\rFTS|2\r"
        let batch = try ER7Parser().parse(text)
        #expect(batch.messages.map(\.controlID) == ["M1", "M2", "M3"])
        #expect(batch.parts.count == 9)
        if case .fileHeader = batch.parts[0] {} else { Issue.record("FHS expected first") }
        if case .fileTrailer = batch.parts.last! {} else { Issue.record("FTS expected last") }
        #expect(ER7Serializer().serialize(batch) == Array(text.utf8))
    }

    @Test("counts that disagree are errors at the trailer")
    func countMismatch() throws {
        let bts = "BHS|^~\\&|A\r" + Self.msg(1) + "BTS|3\r"
        #expect { try ER7Parser().parse(bts) } throws: { error in
            guard let e = error as? HL7ParseError else { return false }
            return e.code == .batchCountMismatch && e.segmentID == "BTS" && e.field == 1 && e.segmentIndex == 3
        }
        let fts = "FHS|^~\\&|A\rBHS|^~\\&|A\r" + Self.msg(1) + "BTS|1\rFTS|2\r"
        #expect { try ER7Parser().parse(fts) } throws: { ($0 as? HL7ParseError)?.code == .batchCountMismatch }
    }

    @Test("trailers without headers, and empty counts")
    func structure() throws {
        #expect { try ER7Parser().parse(Self.msg(1) + "BTS|1\r") } throws: { ($0 as? HL7ParseError)?.code == .unexpectedSegment }
        #expect { try ER7Parser().parse("BHS|^~\\&|A\r" + Self.msg(1) + "FTS|1\r") } throws: { ($0 as? HL7ParseError)?.code == .unexpectedSegment }
        let noCounts = try ER7Parser().parse("BHS|^~\\&|A\r" + Self.msg(1) + "BTS\r")
        #expect(noCounts.messages.count == 1)
        let headersOnly = try ER7Parser().parse("FHS|^~\\&|A\rBHS|^~\\&|A\r" + Self.msg(1) + Self.msg(2))
        #expect(headersOnly.messages.count == 2)
    }

    @Test("plain files of many messages, blank lines between them")
    func plainSequence() throws {
        let text = Self.msg(1) + "\n\n" + Self.msg(2).replacingOccurrences(of: "\r", with: "\r\n") + Self.msg(3)
        let batch = try ER7Parser().parse(text)
        #expect(batch.messages.count == 3)
        #expect(batch.messages[1]["PID-3"] == "2")
        #expect(ER7Serializer().serialize(batch) == Array(text.utf8))
    }

    @Test("each message of a file may declare its own delimiters")
    func perMessageDelimiters() throws {
        let text = Self.msg(1) + "MSH#*!@$#A#B#C#D#2026##ADT*A08#M2#P#2.5\rPID#1##x*y\r"
        let batch = try ER7Parser().parse(text)
        #expect(batch.messages[1]["PID-3.2"] == "y")
        #expect(batch.messages[0]["PID-3"] == "1")
    }

    @Test("recovering parse keeps the good messages and reports the bad ones")
    func recovering() {
        let text = Self.msg(1) + "MSH|^~\\&|A|B|C|D|2026|||M2\rPID|1\r" + Self.msg(3) + "BAD SEGMENT\r" + Self.msg(4)
        let (batch, errors) = ER7Parser().parseRecovering(Array(text.utf8))
        // The bad segment belongs to message 3, so message 3 is rejected whole.
        #expect(batch.messages.map(\.controlID) == ["M1", "M4"])
        #expect(errors.map(\.code) == [.missingMessageType, .invalidSegmentID])
        #expect(errors[0].byteOffset == Self.msg(1).utf8.count + 23)
    }
}
