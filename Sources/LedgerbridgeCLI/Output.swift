#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where commands write bytes: a file descriptor, or memory in tests.
protocol ByteSink {
    mutating func write(_ bytes: [UInt8])
    mutating func write(_ text: String)
}

extension ByteSink {
    mutating func write(_ text: String) { write(Array(text.utf8)) }
}

/// Buffered writes to a file descriptor (stdout, stderr).
struct BufferedOutput: ByteSink {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    mutating func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        var offset = 0
        buffer.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    break
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Collects output in memory.
struct MemoryOutput: ByteSink {
    var bytes: [UInt8] = []
    mutating func write(_ more: [UInt8]) { bytes.append(contentsOf: more) }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Reads whole files with POSIX calls.
enum FileBytes {
    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ReadError(description: String(cString: strerror(errno))) }
        defer { close(fd) }
        // The size by seeking (no `struct stat`: which C module supplies it varies with what else is linked, and
        // MemberImportVisibility then refuses it); a directory fails at the first read with EISDIR.
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0, lseek(fd, 0, SEEK_SET) == 0 else { throw ReadError(description: String(cString: strerror(errno))) }
        // Read straight into the result: one allocation for a file that does not grow, no zeroing.
        var result: [UInt8] = []
        var capacity = min(max(Int(size), 0), 1 << 30) + 1
        var failure: Int32 = 0
        var endOfFile = false
        while !endOfFile {
            let previous = result
            result = Array(unsafeUninitializedCapacity: capacity) { buffer, count in
                count = buffer.initialize(fromContentsOf: previous)
                while count < capacity {
                    let n = Glibc.read(fd, buffer.baseAddress! + count, capacity - count)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        return
                    }
                    if n == 0 {
                        endOfFile = true
                        return
                    }
                    count += n
                }
            }
            if failure == EISDIR { throw ReadError(description: "is a directory") }
            if failure != 0 { throw ReadError(description: String(cString: strerror(failure))) }
            capacity *= 2
        }
        return result
    }
}
