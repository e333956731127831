import PropertyBased
import Testing

@testable import HL7v2

/// parse ∘ serialize is the identity over random messages with random delimiters, escapes and repetitions.
@Suite("Properties")
struct PropertyTests {
    /// Delimiter candidates: printable punctuation.
    static let punctuation: [UInt8] = Array("|^~\\&#!@$%*+/:;<=>?`{}".utf8)

    static let encodingGen = Gen.int(in: 0...Int.max).map { seed -> EncodingCharacters in
        var rng = SplitMix(seed: UInt64(seed))
        var pool = punctuation
        pool.shuffle(using: &rng)
        let truncation: UInt8? = Bool.random(using: &rng) ? pool[5] : nil
        return EncodingCharacters(
            field: pool[0], component: pool[1], repetition: pool[2], escape: pool[3], subcomponent: pool[4], truncation: truncation)
    }

    /// Text built to stress escaping: delimiters of every kind, newlines, CR, quotes, non-ASCII, lookalike escapes.
    static let atoms: [String] = [
        "a", "Z9", " ", "|", "^", "~", "\\", "&", "#", "!", "@", "$", "%", "*", "\n", "\r", "\"\"", "é", "漢", "\\F\\", ".br", "X0D",
    ]

    static let textGen = Gen.int(in: 0...(atoms.count - 1)).array(of: 0...6).map { $0.map { atoms[$0] }.joined() }

    static let segmentGen = zip(
        Gen.int(in: 0...(segmentIDs.count - 1)),
        textGen.array(of: 1...3).array(of: 1...3).array(of: 1...3).array(of: 0...6)
    ).map { idIndex, fields -> SegmentValue in
        SegmentValue(fields: [[[[segmentIDs[idIndex]]]]] + fields)
    }
    static let segmentIDs = ["PID", "PV1", "OBX", "NTE", "ZXY", "AL1", "DG1", "NK1"]

    static let messageGen = zip(encodingGen, segmentGen.array(of: 0...8), textGen, Gen.int(in: 0...2)).map {
        enc, segments, control, terminator -> (EncodingCharacters, [SegmentValue], ER7Serializer.Terminator) in
        var msh = SegmentValue(id: "MSH")
        msh.set(field: 1, to: String(decoding: [enc.field], as: UTF8.self))
        msh.set(field: 2, to: String(decoding: enc.encodingFieldBytes, as: UTF8.self))
        msh.set(field: 9, component: 1, to: "ORU")
        msh.set(field: 9, component: 2, to: "R01")
        msh.set(field: 10, to: "C" + control)
        let t: [ER7Serializer.Terminator] = [.carriageReturn, .lineFeed, .carriageReturnLineFeed]
        return (enc, [msh] + segments, t[terminator])
    }

    @Test("parse(serialize(values)) gives the values back")
    func roundTrip() async {
        await propertyCheck(count: 400, input: Self.messageGen) { input in
            let (enc, segments, terminator) = input
            do {
                let bytes = try ER7Serializer.serialize(segments, encoding: enc, characterSet: .utf8, terminator: terminator)
                let message = try Message(parsing: bytes)
                #expect(message.encoding == enc)
                #expect(message.segments.map(\.value) == segments)
                // And the bytes come back unchanged.
                #expect(ER7Serializer().serialize(message) == bytes)
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test("decode(escape(text)) == text")
    func escapeRoundTrip() async {
        await propertyCheck(count: 1000, input: Self.encodingGen, Self.textGen) { enc, text in
            let raw = EscapeCodec.escape(text, encoding: enc, characterSet: .utf8)!
            let delimiters = [enc.field, enc.component, enc.repetition, enc.subcomponent]
            #expect(!raw.contains { delimiters.contains($0) || $0 == 0x0D || $0 == 0x0A })
            #expect(raw.withUnsafeBufferPointer { EscapeCodec.unescape($0, encoding: enc, characterSet: .utf8) } == text)
        }
    }

    @Test("MLLP: any split of any frame sequence decodes to the same frames")
    func mllpSplits() async {
        let payloads = Gen.int(in: 0...255).filter { $0 != 0x0B && $0 != 0x1C }.array(of: 0...40).array(of: 1...5)
        await propertyCheck(count: 300, input: payloads, Gen.int(in: 0...Int.max)) { frames, seed in
            let bytes = frames.flatMap { MLLPFrameEncoder.encode($0.map(UInt8.init)) }
            var rng = SplitMix(seed: UInt64(seed))
            var d = MLLPFrameDecoder()
            var got: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = Int.random(in: 1...max(1, bytes.count - i), using: &rng)
                d.append(bytes[i..<(i + n)])
                for case .frame(let f) in d.drain() { got.append(f) }
                i += n
            }
            #expect(got == frames.map { $0.map(UInt8.init) })
        }
    }
}

/// A small deterministic generator so one seed gives one message.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension PropertyTests {
    @Test("the fast UTF-8 check finds the same first invalid byte as the byte-wise one")
    func utf8Validation() async {
        let pieces = ["a", "é", "漢", "😀", "\u{7F}"].map { Array($0.utf8) } + [[0xC3], [0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90], [0xFF]]
        let gen = Gen.int(in: 0...(pieces.count - 1)).array(of: 0...40).map { $0.flatMap { pieces[$0] } }
        await propertyCheck(count: 2000, input: gen) { bytes in
            bytes.withUnsafeBufferPointer { buf in
                #expect(UTF8Validation.firstInvalidOffsetFast(buf) == UTF8Validation.firstInvalidOffset(buf))
            }
        }
    }
}

extension PropertyTests {
    /// Random messages with long values (so segments straddle 64-byte blocks), then random bytes overwritten,
    /// inserted or removed: the block-wise scan must produce exactly what the byte-wise reference produces.
    @Test("the block-wise scanner agrees with the byte-wise reference")
    func blockwiseScanner() async {
        let noise = Gen.int(in: 0...Int.max).array(of: 0...6)
        await propertyCheck(count: 600, input: Self.messageGen, noise) { input, edits in
            let (enc, segments, terminator) = input
            var long = segments
            for s in 1..<long.count where !long[s].fields.isEmpty {
                long[s].set(field: 2, to: String(repeating: "x", count: (s * 37) % 150))
            }
            guard var bytes = try? ER7Serializer.serialize(long, encoding: enc, characterSet: .utf8, terminator: terminator) else {
                Issue.record("serialisation failed")
                return
            }
            let interesting: [UInt8] = [enc.field, enc.component, enc.repetition, enc.subcomponent, 0x0D, 0x0A, 0x41, 0xC3, 0x80]
            for edit in edits where !bytes.isEmpty {
                let at = 8 + edit % max(1, bytes.count - 8)
                guard at < bytes.count else { continue }
                let byte = interesting[(edit >> 20) % interesting.count]
                switch (edit >> 8) % 3 {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: bytes.remove(at: at)
                }
            }
            guard let (a, b) = bytes.withUnsafeBufferPointer({ ER7Scanner.compareScans($0, from: 0) }) else { return }
            #expect(a.segments == b.segments)
            #expect(a.tokens == b.tokens)
            #expect(a.fieldTokens == b.fieldTokens)
            #expect(a.end == b.end)
            #expect(a.error == b.error)
            #expect(a.nonASCII == b.nonASCII || !b.nonASCII)
        }
    }
}

extension PropertyTests {
    @Test("repetition, component and subcomponent counts agree with the decoded segments")
    func counts() async {
        await propertyCheck(count: 200, input: Self.messageGen) { input in
            let (enc, segments, terminator) = input
            guard let bytes = try? ER7Serializer.serialize(segments, encoding: enc, characterSet: .utf8, terminator: terminator),
                let message = try? Message(parsing: bytes)
            else {
                Issue.record("could not build the message")
                return
            }
            for segment in message.segments.dropFirst() {
                let fields = segment.value.fields
                for f in 1..<max(1, fields.count) {
                    #expect(segment.repetitionCount(field: f) == fields[f].count)
                    for (r, repetition) in fields[f].enumerated() {
                        #expect(segment.componentCount(field: f, repetition: r + 1) == repetition.count)
                        for (c, component) in repetition.enumerated() {
                            #expect(segment.subcomponentCount(field: f, repetition: r + 1, component: c + 1) == component.count)
                        }
                    }
                }
            }
        }
    }
}
