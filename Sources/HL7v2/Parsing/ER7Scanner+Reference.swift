extension ER7Scanner {
    /// What one scan of a unit produced, for comparing the block-wise scan with the byte-wise reference.
    struct ScanOutcome: Equatable {
        var segments: [ER7Index.SegmentRecord] = []
        var tokens: [UInt32] = []
        var fieldTokens: [UInt32] = []
        var end = 0
        var nonASCII = false
        var error: HL7ParseError?
    }

    /// Scans the unit at `start` with both implementations (used by tests and the fuzzer).
    static func compareScans(_ buf: UnsafeBufferPointer<UInt8>, from start: Int) -> (blockwise: ScanOutcome, reference: ScanOutcome)? {
        guard let id = try? segmentID(buf, at: start, fieldSeparator: nil, segmentIndex: 0), id.isHeader,
            let encoding = try? encodingCharacters(buf, at: start, id: id, segmentIndex: 0)
        else { return nil }
        var table = ClassTable(encoding)
        func run(blockwise: Bool) -> ScanOutcome {
            let scratch = Scratch(capacity: 64)
            var outcome = ScanOutcome()
            do throws(HL7ParseError) {
                let (end, nonASCII) = try withUnsafePointer(to: &table.classes) { tuple throws(HL7ParseError) in
                    try tuple.withMemoryRebound(to: UInt8.self, capacity: 256) { classes throws(HL7ParseError) in
                        blockwise
                            ? try scanSegmentsBlockwise(
                                buf, from: start, classes: classes, separator: encoding.field, firstID: id, maxBytes: 1 << 20, segmentBase: 0,
                                scratch: scratch, segments: &outcome.segments)
                            : try scanSegments(
                                buf, from: start, classes: classes, separator: encoding.field, firstID: id, maxBytes: 1 << 20, segmentBase: 0,
                                scratch: scratch, segments: &outcome.segments)
                    }
                }
                outcome.end = end
                outcome.nonASCII = nonASCII
            } catch {
                outcome.error = error
                outcome.segments = []
            }
            if outcome.error == nil {
                outcome.tokens = Array(UnsafeBufferPointer(start: scratch.tokens, count: scratch.tokenCount))
                outcome.fieldTokens = Array(UnsafeBufferPointer(start: scratch.fieldTokens, count: scratch.fieldCount))
            }
            return outcome
        }
        return (run(blockwise: true), run(blockwise: false))
    }
}
