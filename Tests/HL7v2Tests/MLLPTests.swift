import Testing

@testable import HL7v2

@Suite("MLLP framing")
struct MLLPTests {
    static let vt: UInt8 = 0x0B, fs: UInt8 = 0x1C, cr: UInt8 = 0x0D

    static func frames(_ payloads: [String]) -> [UInt8] {
        payloads.flatMap { MLLPFrameEncoder.encode(Array($0.utf8)) }
    }

    @Test("one frame")
    func single() {
        var d = MLLPFrameDecoder()
        d.append(Self.frames(["MSH|a\rPID|1\r"]))
        #expect(d.drain() == [.frame(Array("MSH|a\rPID|1\r".utf8))])
        #expect(d.bufferedByteCount == 0)
    }

    @Test("several frames in one read, and partial reads across every boundary")
    func partialReads() {
        let bytes = Self.frames(["one", "two", "three"])
        for split in 0...bytes.count {
            var d = MLLPFrameDecoder()
            d.append(bytes[..<split])
            var events = d.drain()
            d.append(bytes[split...])
            events += d.drain()
            #expect(events == [.frame(Array("one".utf8)), .frame(Array("two".utf8)), .frame(Array("three".utf8))], "split at \(split)")
        }
    }

    @Test("byte at a time")
    func byteAtATime() {
        var d = MLLPFrameDecoder()
        var events: [MLLPFrameDecoder.Event] = []
        for b in Self.frames(["a", "bc"]) {
            d.append([b])
            events += d.drain()
        }
        #expect(events == [.frame([0x61]), .frame([0x62, 0x63])])
    }

    @Test("garbage between frames is skipped and reported")
    func garbage() {
        var d = MLLPFrameDecoder()
        d.append(Array("junk".utf8) + Self.frames(["x"]) + [0x0A, 0x0A] + Self.frames(["y"]) + Array("tail".utf8))
        #expect(d.drain() == [.discarded(byteCount: 4), .frame([0x78]), .discarded(byteCount: 2), .frame([0x79]), .discarded(byteCount: 4)])
    }

    @Test("a new start byte before the end abandons the partial frame")
    func restart() {
        var d = MLLPFrameDecoder()
        d.append([Self.vt] + Array("lost".utf8) + Self.frames(["kept"]))
        #expect(d.drain() == [.discarded(byteCount: 5), .frame(Array("kept".utf8))])
    }

    @Test("a missing CR after FS loses nothing")
    func missingCR() {
        var d = MLLPFrameDecoder()
        d.append([Self.vt, 0x61, Self.fs, Self.vt, 0x62, Self.fs, Self.cr])
        #expect(d.drain() == [.frame([0x61]), .frame([0x62])])
    }

    @Test("an oversized frame is dropped whole, reported, and the next frame is read")
    func oversized() {
        var d = MLLPFrameDecoder(maxFrameBytes: 8)
        let big = Self.frames([String(repeating: "x", count: 20)])
        d.append(big[..<10])
        var events = d.drain()
        d.append(big[10...])
        d.append(Self.frames(["ok"]))
        events += d.drain()
        #expect(events == [.oversizedFrame(byteCount: 20), .frame(Array("ok".utf8))])
        var whole = MLLPFrameDecoder(maxFrameBytes: 8)
        whole.append(big + Self.frames(["ok"]))
        #expect(whole.drain() == [.oversizedFrame(byteCount: 20), .frame(Array("ok".utf8))])
    }

    @Test("memory is released as frames are consumed")
    func compaction() {
        var d = MLLPFrameDecoder()
        for i in 0..<1000 {
            d.append(Self.frames(["message \(i)"]))
            #expect(d.drain().count == 1)
        }
        #expect(d.bufferedByteCount == 0)
    }
}

extension MLLPTests {
    /// Found by the MLLP fuzzer: an oversized partial frame abandoned by a new start byte must be reported the same
    /// way whether or not the decoder had already seen it grow past the limit.
    @Test("an oversized frame abandoned by a new start byte is discarded, however the bytes arrive")
    func oversizedAbandoned() {
        let bytes: [UInt8] = [Self.vt] + Array(repeating: 0x78, count: 20) + [Self.vt, 0x79, Self.fs, Self.cr]
        var whole = MLLPFrameDecoder(maxFrameBytes: 8)
        whole.append(bytes)
        var chunked = MLLPFrameDecoder(maxFrameBytes: 8)
        var events: [MLLPFrameDecoder.Event] = []
        for chunk in stride(from: 0, to: bytes.count, by: 3) {
            chunked.append(bytes[chunk..<min(chunk + 3, bytes.count)])
            events += chunked.drain()
        }
        let expected: [MLLPFrameDecoder.Event] = [.discarded(byteCount: 21), .frame([0x79])]
        #expect(whole.drain() == expected)
        #expect(events == expected)
    }
}
