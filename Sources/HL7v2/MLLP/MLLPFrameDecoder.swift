/// Incremental decoder for MLLP framing (`<VT> message <FS><CR>`), as a state machine with no I/O.
///
/// Feed it whatever a socket read gave (partial frames, several frames, garbage between frames) and pull events.
/// A frame larger than the limit is dropped whole and reported; the decoder then resynchronises on the next `<VT>`.
public struct MLLPFrameDecoder: Sendable {
    public static let startByte: UInt8 = 0x0B
    public static let endByte: UInt8 = 0x1C
    public static let carriageReturn: UInt8 = 0x0D

    /// What the decoder found.
    public enum Event: Sendable, Hashable {
        /// One complete frame's payload.
        case frame([UInt8])
        /// Bytes outside any frame were skipped.
        case discarded(byteCount: Int)
        /// A frame went past the maximum size and was dropped (its size so far, or in all once it ended).
        case oversizedFrame(byteCount: Int)
    }

    enum State: Sendable, Hashable {
        /// Looking for `<VT>`.
        case idle
        /// Inside a frame; payload starts at this buffer offset.
        case inFrame(payloadStart: Int)
        /// Saw `<FS>` at the end of the buffer; the frame is complete once we know whether `<CR>` follows.
        case sawEnd(payloadStart: Int, endIndex: Int)
        /// Skipping the rest of an oversized frame.
        case skippingOversized(skipped: Int)
    }

    public let maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var position = 0
    private var state: State = .idle
    private var pendingDiscard = 0

    public init(maxFrameBytes: Int = 1 << 20) {
        precondition(maxFrameBytes > 0)
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes held for a frame not yet complete.
    public var bufferedByteCount: Int { buffer.count - consumedPrefix }
    private var consumedPrefix = 0

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if consumedPrefix > 0, consumedPrefix >= buffer.count / 2 {
            compact()
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next event, or `nil` when more bytes are needed.
    public mutating func next() -> Event? {
        while true {
            switch state {
            case .idle:
                guard position < buffer.count else { return flushDiscard() }
                if let vt = buffer[position...].firstIndex(of: Self.startByte) {
                    pendingDiscard += vt - position
                    position = vt + 1
                    consumedPrefix = vt
                    state = .inFrame(payloadStart: position)
                    if let event = flushDiscard() { return event }
                } else {
                    pendingDiscard += buffer.count - position
                    position = buffer.count
                    consumedPrefix = buffer.count
                    return flushDiscard()
                }
            case .inFrame(let payloadStart):
                var i = position
                var found: Int? = nil
                var restart: Int? = nil
                while i < buffer.count {
                    let b = buffer[i]
                    if b == Self.endByte { found = i; break }
                    if b == Self.startByte { restart = i; break }
                    i += 1
                }
                if let restart {
                    // A new <VT> before <FS>: the sender abandoned the frame; its bytes are garbage.
                    pendingDiscard += restart - payloadStart + 1
                    position = restart + 1
                    consumedPrefix = restart
                    state = .inFrame(payloadStart: position)
                    if let event = flushDiscard() { return event }
                    continue
                }
                guard let end = found else {
                    position = buffer.count
                    if buffer.count - payloadStart > maxFrameBytes {
                        let skipped = buffer.count - payloadStart
                        consumedPrefix = buffer.count
                        state = .skippingOversized(skipped: skipped)
                    }
                    return nil
                }
                if end - payloadStart > maxFrameBytes {
                    state = .idle
                    position = end + 1
                    consumedPrefix = position
                    skipCarriageReturn()
                    return .oversizedFrame(byteCount: end - payloadStart)
                }
                if end + 1 < buffer.count {
                    return complete(payloadStart: payloadStart, end: end)
                }
                position = buffer.count
                state = .sawEnd(payloadStart: payloadStart, endIndex: end)
                return nil
            case .sawEnd(let payloadStart, let end):
                guard end + 1 < buffer.count else { return nil }
                return complete(payloadStart: payloadStart, end: end)
            case .skippingOversized(let skipped):
                guard position < buffer.count else { return nil }
                let end = buffer[position...].firstIndex { $0 == Self.endByte || $0 == Self.startByte }
                if let vt = end, buffer[vt] == Self.startByte {
                    // The sender abandoned the oversized frame and starts anew: as for any abandoned frame, its
                    // bytes (and the start byte that opened it) are discarded.
                    let total = skipped + (vt - position) + 1
                    position = vt + 1
                    consumedPrefix = vt
                    state = .inFrame(payloadStart: position)
                    return .discarded(byteCount: total)
                }
                if let fs = end {
                    let total = skipped + (fs - position)
                    position = fs + 1
                    consumedPrefix = position
                    state = .idle
                    skipCarriageReturn()
                    return .oversizedFrame(byteCount: total)
                }
                state = .skippingOversized(skipped: skipped + buffer.count - position)
                position = buffer.count
                consumedPrefix = buffer.count
                return nil
            }
        }
    }

    /// Events until more bytes are needed.
    public mutating func drain() -> [Event] {
        var events: [Event] = []
        while let e = next() { events.append(e) }
        return events
    }

    private mutating func complete(payloadStart: Int, end: Int) -> Event {
        let payload = Array(buffer[payloadStart..<end])
        position = end + 1
        skipCarriageReturn()
        consumedPrefix = position
        state = .idle
        return .frame(payload)
    }

    private mutating func skipCarriageReturn() {
        // <FS> is followed by <CR>; a sender that omits it loses nothing.
        if position < buffer.count, buffer[position] == Self.carriageReturn {
            position += 1
            consumedPrefix = position
        }
    }

    private mutating func flushDiscard() -> Event? {
        guard pendingDiscard > 0 else { return nil }
        let n = pendingDiscard
        pendingDiscard = 0
        return .discarded(byteCount: n)
    }

    private mutating func compact() {
        let shift = consumedPrefix
        buffer.removeFirst(shift)
        position -= shift
        consumedPrefix = 0
        switch state {
        case .idle, .skippingOversized: break
        case .inFrame(let p): state = .inFrame(payloadStart: p - shift)
        case .sawEnd(let p, let e): state = .sawEnd(payloadStart: p - shift, endIndex: e - shift)
        }
    }
}

/// Wraps payloads in MLLP framing.
public enum MLLPFrameEncoder {
    public static func encode(_ payload: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 3)
        out.append(MLLPFrameDecoder.startByte)
        out.append(contentsOf: payload)
        out.append(MLLPFrameDecoder.endByte)
        out.append(MLLPFrameDecoder.carriageReturn)
        return out
    }
}
