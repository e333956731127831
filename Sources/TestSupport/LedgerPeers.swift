import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Python peer process started for a test: it prints `READY <ports…>` when serving, and ends when stopped, when
/// its lifetime runs out, or when the test process ends (it watches its parent).
public final class PythonPeer: @unchecked Sendable {
    public let ports: [Int]
    let process: Process
    let script: String
    let arguments: [String]

    /// Starts `script` (a path under the package) with `arguments`, and waits up to `timeout` seconds for READY.
    public init(script: String, _ arguments: [String], timeout: Double = 60) throws {
        self.script = script
        self.arguments = arguments
        let (process, ports) = try Self.launch(script: script, arguments, timeout: timeout)
        self.process = process
        self.ports = ports
    }

    static func launch(script: String, _ arguments: [String], timeout: Double) throws -> (Process, [Int]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.python)
        process.arguments = [TestEnvironment.packageRoot + "/" + script] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let ready = DispatchSemaphore(value: 0)
        let box = LineBox()
        DispatchQueue.global().async {
            let data = out.fileHandleForReading.availableData
            box.line = String(decoding: data, as: UTF8.self)
            ready.signal()
        }
        guard ready.wait(timeout: .now() + timeout) == .success, let line = box.line, line.hasPrefix("READY") else {
            process.terminate()
            let stderr = String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
            throw TestEnvironment.PeerError(
                description: "\(script) did not start (scripts/test.sh installs the Python peers): \(box.line ?? "") \(stderr.suffix(2000))")
        }
        let ports = line.split(whereSeparator: \.isWhitespace).dropFirst().compactMap { Int($0) }
        return (process, ports)
    }

    public var isRunning: Bool { process.isRunning }

    /// Stops the peer.
    public func stop() { Self.stop(process) }

    /// SIGTERM, then SIGKILL if the process is still there after 5 s. (Polls rather than `waitUntilExit`, which spins
    /// a run loop and can hang off the main thread.)
    static func stop(_ process: Process) {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        for i in 0..<200 {
            if !process.isRunning { return }
            if i == 100 { kill(pid, SIGKILL) }
            usleep(50_000)
        }
    }

    deinit { stop() }
}

private final class LineBox: @unchecked Sendable {
    var line: String?
}

/// The Ethereum test node: eth-tester's py-evm behind JSON-RPC (scripts/peers/eth_rpc_peer.py).
public final class EthereumPeer: @unchecked Sendable {
    let peer: PythonPeer
    public var rpcURL: String { "http://127.0.0.1:\(peer.ports[0])" }
    var controlURL: String { "http://127.0.0.1:\(peer.ports[1])" }

    public init() throws {
        peer = try PythonPeer(script: "scripts/peers/eth_rpc_peer.py", ["--lifetime", "1800"])
    }

    /// Takes the RPC port down (connections refused) or up again; the chain lives on.
    public func setRPC(up: Bool) async throws { _ = try await control("POST", up ? "/rpc/start" : "/rpc/stop") }

    /// A JSON-RPC call through the control port (works while the RPC port is down).
    @discardableResult public func call(_ method: String, _ params: [Any] = []) async throws -> Any? {
        let body = try JSONSerialization.data(withJSONObject: ["method": method, "params": params])
        return try await control("POST", "/call", body: body)
    }

    /// The next answer to `method` comes `seconds` late; the call itself takes effect at once.
    public func delayNextAnswer(to method: String, seconds: Double) async throws {
        _ = try await control("POST", "/delay", body: try JSONSerialization.data(withJSONObject: ["method": method, "seconds": seconds]))
    }

    /// Every transaction on the canonical chain.
    public func transactions() async throws -> [[String: Any]] {
        (try await control("GET", "/transactions") as? [[String: Any]]) ?? []
    }

    private func control(_ method: String, _ path: String, body: Data? = nil) async throws -> Any? {
        var request = URLRequest(url: URL(string: controlURL + path)!)
        request.httpMethod = method
        request.httpBody = body
        let (data, _) = try await TestHTTP.data(for: request)
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    public func stop() { peer.stop() }
}

/// The RFC 3161 test TSA: `openssl ts -reply` behind HTTP (scripts/peers/tsa_peer.py). Stopping and starting it
/// again in the same folder keeps its key, certificate and port.
public final class TSAPeer: @unchecked Sendable {
    public let directory: String
    public let keyType: String
    public private(set) var port: Int
    private var peer: PythonPeer?

    public init(directory: String, keyType: String = "ec") throws {
        self.directory = directory
        self.keyType = keyType
        let p = try PythonPeer(script: "scripts/peers/tsa_peer.py", ["--dir", directory, "--key-type", keyType])
        port = p.ports[0]
        peer = p
    }

    public var url: String { "http://127.0.0.1:\(port)/" }
    public var certificatePath: String { directory + "/tsa.crt" }

    public func stop() {
        peer?.stop()
        peer = nil
    }

    public func start() throws {
        guard peer == nil else { return }
        peer = try PythonPeer(script: "scripts/peers/tsa_peer.py", ["--dir", directory, "--key-type", keyType, "--port", String(port)])
    }

    /// The imprints it stamped, in order (hex).
    public func stampedImprints() -> [String] {
        ((try? String(contentsOfFile: directory + "/imprints.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// URLSession on Linux without the async conveniences.
public enum TestHTTP {
    public static func data(for request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let http = response as? HTTPURLResponse {
                    continuation.resume(returning: (data ?? Data(), http))
                } else {
                    continuation.resume(throwing: URLError(.badServerResponse))
                }
            }.resume()
        }
    }
}

/// The real `ledgerbridge serve` in a child process, for tests through real sockets.
public final class GatewayProcess: @unchecked Sendable {
    let process: Process
    public let httpURL: String
    public let logPath: String

    /// Starts `serve --config config` and waits until `/health` answers on `httpPort`.
    public init(config: String, httpPort: Int, timeout: Double = 60) async throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: try TestEnvironment.ledgerbridgeBinary())
        process.arguments = ["serve", "--config", config]
        logPath = config + ".log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        httpURL = "http://127.0.0.1:\(httpPort)"
        // Polls /health on a thread of its own with plain blocking sockets: at the start of the full suite, its
        // CPU-bound tests hold the concurrency pool and dispatch's threads for a minute, and a poll through either
        // (Task.sleep, URLSession) could miss a gateway that was listening all along.
        if await Self.healthy(port: httpPort, process: process, timeout: timeout) { return }
        stop()
        throw TestEnvironment.PeerError(
            description: "ledgerbridge serve did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
    }

    /// Whether `GET /health` on 127.0.0.1:`port` answers 200 before `timeout` seconds pass or `process` ends, polled
    /// every 200 ms from a dedicated thread.
    static func healthy(port: Int, process: Process, timeout: Double) async -> Bool {
        nonisolated(unsafe) let process = process
        return await withCheckedContinuation { continuation in
            Thread {
                let deadline = Date().addingTimeInterval(timeout)
                while true {
                    if healthStatus(port: port) == 200 { return continuation.resume(returning: true) }
                    if !process.isRunning || Date() >= deadline { return continuation.resume(returning: false) }
                    usleep(200_000)
                }
            }.start()
        }
    }

    /// The status of one `GET /health` over a new connection (5 s to answer), nil when there is none.
    static func healthStatus(port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var wait = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        guard withLoopbackAddress(port: port, { connect(fd, $0, $1) }) == 0 else { return nil }
        let request = Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var head = [UInt8](repeating: 0, count: 32)
        let n = recv(fd, &head, head.count, 0)
        guard n >= 12 else { return nil }
        // "HTTP/1.1 200 OK": the three digits after the first space.
        return Int(String(decoding: head[9..<12], as: UTF8.self))
    }

    /// GET or POST on the gateway; returns the status and body.
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) async throws -> (Int, Data) {
        var r = URLRequest(url: URL(string: httpURL + path)!)
        r.httpMethod = method
        r.httpBody = body.map { Data($0) }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await TestHTTP.data(for: r)
        return (response.statusCode, data)
    }

    /// A response with its headers.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
        public func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    public func response(_ method: String, _ path: String, headers: [String: String] = [:]) async throws -> Answer {
        var r = URLRequest(url: URL(string: httpURL + path)!)
        r.httpMethod = method
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await TestHTTP.data(for: r)
        var fields: [String: String] = [:]
        for (k, v) in response.allHeaderFields { fields["\(k)"] = "\(v)" }
        return Answer(status: response.statusCode, headers: fields, body: data)
    }

    /// A folder the gateway's files live in, removed once it has stopped (`embedded`'s).
    var ownedDirectory: String? = nil

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The gateway's process id (to signal it: SIGHUP reloads the mappings).
    public var pid: Int32 { process.processIdentifier }

    public func stop() { PythonPeer.stop(process) }

    deinit {
        stop()
        if let ownedDirectory { try? FileManager.default.removeItem(atPath: ownedDirectory) }
    }
}

extension GatewayProcess {
    /// A gateway on its own SQLite store in a new temporary folder, HTTP on a free port, no MLLP, the admin key
    /// given (none: admin endpoints answer the loopback interface only); `extra` is more configuration (YAML, at the
    /// top level). Returns the gateway and its configuration file; the folder goes with the gateway.
    public static func embedded(adminKey: String?, extra: String = "", prefix: String = "lb-gateway") async throws -> (GatewayProcess, String) {
        let directory = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try TestPostgres.freePort()
        let config = directory + "/ledgerbridge.yaml"
        try """
        store:
          sqlite: \(directory)/data/store.sqlite
        http:
          port: \(port)\(adminKey.map { "\n  adminKey: \($0)" } ?? "")
        mllp:
          enabled: false
        \(extra)
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let gateway = try await GatewayProcess(config: config, httpPort: port)
        gateway.ownedDirectory = directory
        return (gateway, config)
    }
}
