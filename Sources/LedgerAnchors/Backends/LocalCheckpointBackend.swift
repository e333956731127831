import Foundation
import Ledger
import Store

/// The embedded default: tree heads are kept in the store (every sealed head is) and appended, one JSON line each,
/// to a checkpoint file that is only ever appended to, and synced before the head counts as anchored. Ship the file
/// to write-once storage to make it worth more than the store itself.
public struct LocalCheckpointBackend: AnchorBackend {
    public let name: String
    public let type = "local"
    public let path: String

    public init(name: String = "local", path: String) {
        self.name = name
        self.path = path
    }

    /// `{"keyID":…,"root":…,"signature":…,"timestamp":…,"treeSize":…}`: keys sorted, no spaces.
    public static func line(_ head: SignedTreeHead) -> String {
        #"{"keyID":"\#(head.keyID.hex)","root":"\#(head.root.hex)","signature":"\#(Hex.encode(head.signature))","timestamp":\#(head.timestamp),"treeSize":\#(head.treeSize)}"#
            + "\n"
    }

    public func advance(
        head: SignedTreeHead, state: AnchorState, previous: AnchorReceipt?
    ) async throws(AnchorBackendError)
        -> AnchorProgress
    {
        let line = Self.line(head)
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw AnchorBackendError("\(path): cannot open the checkpoint file (errno \(errno))") }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        // A crash between the append and the outbox update leaves the line written: find it rather than append twice.
        if let offset = Self.find(line, fd: fd, end: end) { return .anchored(receipt(offset: offset)) }
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw AnchorBackendError("\(path): cannot append to the checkpoint file (errno \(errno))")
        }
        return .anchored(receipt(offset: UInt64(end)))
    }

    private func receipt(offset: UInt64) -> AnchorReceipt {
        var r = AnchorReceipt(backend: name, type: type, status: AnchorState.anchored.rawValue)
        r.checkpointFile = path
        r.checkpointOffset = offset
        return r
    }

    /// The offset of `line` among the file's last lines, if there.
    private static func find(_ line: String, fd: Int32, end: off_t) -> UInt64? {
        let window = off_t(min(Int(end), 64 * 1024))
        guard window > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: Int(window))
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(window), end - window) }
        guard n == Int(window) else { return nil }
        let needle = Array(line.utf8)
        var start = 0
        for i in 0..<buffer.count where buffer[i] == 0x0A {
            if buffer[start...i].elementsEqual(needle), start > 0 || end == window { return UInt64(end - window) + UInt64(start) }
            start = i + 1
        }
        return nil
    }
}
