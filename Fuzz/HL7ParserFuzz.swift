// libFuzzer entry point for the ER7 parser, serializer, paths and ACK builder. Built by scripts/fuzz.sh.
// Any crash, and any broken invariant below, is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func hl7ParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    // The block-wise scanner must agree with the byte-wise reference, whatever the input.
    if let (blockwise, reference) = ER7Scanner.compareScans(UnsafeBufferPointer(start: data, count: size), from: 0) {
        guard blockwise.segments == reference.segments, blockwise.tokens == reference.tokens, blockwise.fieldTokens == reference.fieldTokens,
            blockwise.end == reference.end, blockwise.error == reference.error
        else { fatalError("block-wise and reference scans disagree") }
        guard !reference.nonASCII || blockwise.nonASCII else { fatalError("block-wise scan missed non-ASCII bytes") }
    }
    let parser = ER7Parser()
    let (batch, errors) = parser.parseRecovering(input)
    for message in batch.messages {
        // Every subcomponent decodes; the index rebuilds the bytes exactly.
        var visitor = FuzzVisitor(message: message)
        message.walk(&visitor)
        guard ER7Serializer().serialize(message) == message.bytes else { fatalError("message does not round-trip") }
        for segment in message.segments {
            let fields = segment.value.fields
            for f in 1..<max(1, fields.count) {
                guard segment.repetitionCount(field: f) == fields[f].count else { fatalError("repetition count") }
                for (r, repetition) in fields[f].enumerated() {
                    guard segment.componentCount(field: f, repetition: r + 1) == repetition.count else { fatalError("component count") }
                    for (c, component) in repetition.enumerated()
                    where segment.subcomponentCount(field: f, repetition: r + 1, component: c + 1) != component.count {
                        fatalError("subcomponent count")
                    }
                }
            }
        }
        _ = message["PID-3[2].4.2"]
        _ = message["MSH-9.2"]
        _ = ACKBuilder().acknowledge(message, code: .accept, controlID: "F", timestamp: "2026")
        var copy = message
        if (try? copy.set("PID-5.1.2", to: "x|y^z")) != nil {
            guard copy["PID-5.1.2"] == "x|y^z" else { fatalError("set value does not read back") }
        }
    }
    if errors.isEmpty {
        guard ER7Serializer().serialize(batch) == input else { fatalError("input does not round-trip") }
        guard let strict = try? parser.parse(input), strict.messages.count == batch.messages.count else {
            fatalError("strict and recovering parses disagree")
        }
    } else {
        guard (try? parser.parse(input)) == nil else { fatalError("strict parse accepted what recovering parse rejected") }
        _ = ACKBuilder().reject(input, error: errors[0], controlID: "F", timestamp: "2026")
    }
    return 0
}

struct FuzzVisitor: ER7Visitor {
    let message: Message
    mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool) {
        _ = message.text(in: range)
    }
}
