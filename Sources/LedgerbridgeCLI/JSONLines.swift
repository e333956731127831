import FHIR
import HL7v2

/// Writes one message as one JSON line: `{"file", "index", "segments": [{"id", "fields"}]}`.
enum JSONLines {
    static func write(_ message: Message, file: String, index: Int, to sink: inout some ByteSink) {
        var out: [UInt8] = []
        out.reserveCapacity(message.bytes.count * 2 + 64)
        out += Array("{\"file\":".utf8)
        JSONWriter.appendString(file, to: &out)
        out += Array(",\"index\":\(index),\"segments\":[".utf8)
        var writer = Writer(message: message, out: out)
        message.walk(&writer)
        out = writer.out
        out += Array("]}\n".utf8)
        sink.write(out)
    }

    struct Writer: ER7Visitor {
        let message: Message
        var out: [UInt8]
        var firstSegment = true

        mutating func beginSegment(position: Int, id: Range<Int>) {
            if !firstSegment { out.append(UInt8(ascii: ",")) }
            firstSegment = false
            let text = message.rawText(in: id)
            out += Array("{\"id\":".utf8)
            JSONWriter.appendString(text, to: &out)
            out += Array(",\"fields\":[[[[".utf8)
            JSONWriter.appendString(text, to: &out)
            out += Array("]]]".utf8)
        }

        mutating func endSegment() {
            out += Array("]}".utf8)
        }

        mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool) {
            if newRepetition {
                // A new field or repetition; `beginField` opened the field.
                if pendingField {
                    out += Array(",[[[".utf8)
                    pendingField = false
                } else {
                    out += Array("]],[[".utf8)
                }
            } else if newComponent {
                out += Array("],[".utf8)
            } else {
                out.append(UInt8(ascii: ","))
            }
            JSONWriter.appendString(message.text(in: range), to: &out)
        }

        var pendingField = false
        mutating func beginField(number: Int) { pendingField = true }
        mutating func endField() { out += Array("]]]".utf8) }
    }
}
