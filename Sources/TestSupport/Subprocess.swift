import Foundation

/// Runs a program to completion and collects what it printed, for tests that drive real peers and the real binary.
public enum Subprocess {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var error: String
    }

    public static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let errorData = DataBox()
        let reading = DispatchGroup()
        reading.enter()
        DispatchQueue.global().async {
            errorData.data = err.fileHandleForReading.readDataToEndOfFile()
            reading.leave()
        }
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        reading.wait()
        return Result(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            error: String(decoding: errorData.data, as: UTF8.self))
    }
}

extension Subprocess {
    /// `run` on a Dispatch thread: a long-running program must not block one of the few threads of Swift's
    /// cooperative pool (one per core), which would stall every other test's async work meanwhile.
    public static func runDetached(_ executable: String, _ arguments: [String]) async throws -> Result {
        try await offPool { try run(executable, arguments) }
    }
}

/// Runs blocking work (a child process, a server's start, a poll with sleeps) on a Dispatch thread. Swift's
/// cooperative pool has one thread per core: two tests blocking it stall every other test's async work, and timeouts
/// elsewhere then fire for nothing.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Swift.Result { try body() })
        }
    }
}

/// Written by one reader task, read after `DispatchGroup.wait()`, which orders the two.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// Where the package and its test peers are.
public enum TestEnvironment {
    /// The package root, from this file's place in it.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The Python with the peers installed: LEDGERBRIDGE_PYTHON, else the .venv that scripts/test.sh creates.
    public static var python: String {
        ProcessInfo.processInfo.environment["LEDGERBRIDGE_PYTHON"] ?? packageRoot + "/.venv/bin/python3"
    }

    /// Runs one of the package's Python scripts with the peers' interpreter; a failure says how to install them.
    public static func runPython(script: String, _ arguments: [String]) async throws -> Subprocess.Result {
        let result = try await Subprocess.runDetached(python, [packageRoot + "/" + script] + arguments)
        guard result.status == 0 else {
            throw PeerError(description: "\(script) failed (scripts/test.sh installs the Python peers): \(result.error)")
        }
        return result
    }

    /// The built `ledgerbridge` executable, beside the test bundle (or in .build/debug).
    public static func ledgerbridgeBinary() throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("ledgerbridge").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        let fallback = packageRoot + "/.build/debug/ledgerbridge"
        guard FileManager.default.isExecutableFile(atPath: fallback) else {
            throw PeerError(description: "build the ledgerbridge executable first (swift build)")
        }
        return fallback
    }

    public struct PeerError: Error, CustomStringConvertible {
        public var description: String
    }
}
