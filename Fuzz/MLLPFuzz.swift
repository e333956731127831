// libFuzzer entry point for the MLLP frame decoder. Built by scripts/fuzz.sh.
// The first byte picks chunk sizes; the frames found must not depend on how the bytes were split.

@_cdecl("LLVMFuzzerTestOneInput")
public func mllpFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let seed = Int(data[0])
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    var whole = MLLPFrameDecoder(maxFrameBytes: 48)
    whole.append(bytes)
    let expected = whole.drain()

    var chunked = MLLPFrameDecoder(maxFrameBytes: 48)
    var events: [MLLPFrameDecoder.Event] = []
    var i = 0, step = 0
    while i < bytes.count {
        let n = min(bytes.count - i, 1 + (seed &* 7 &+ step &* 13) % 17)
        chunked.append(bytes[i..<(i + n)])
        events += chunked.drain()
        i += n
        step += 1
    }
    func frames(_ e: [MLLPFrameDecoder.Event]) -> [[UInt8]] { e.compactMap { if case .frame(let f) = $0 { f } else { nil } } }
    func oversized(_ e: [MLLPFrameDecoder.Event]) -> [Int] { e.compactMap { if case .oversizedFrame(let n) = $0 { n } else { nil } } }
    guard frames(events) == frames(expected) else { fatalError("frames depend on read boundaries") }
    guard oversized(events) == oversized(expected) else { fatalError("oversize reports depend on read boundaries") }
    for f in frames(events) where f.count > 48 || f.contains(MLLPFrameDecoder.startByte) || f.contains(MLLPFrameDecoder.endByte) {
        fatalError("a frame holds framing bytes or exceeds the limit")
    }
    return 0
}
