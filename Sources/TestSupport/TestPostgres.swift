import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL server for tests: its own cluster in a temporary folder, listening on 127.0.0.1 on a free
/// port, trust authentication, removed when the test process exits. Tests that need a database call
/// `TestPostgres.shared()` and then `createDatabase()`, so suites never see each other's rows; a test that stops and
/// restarts the server (outage tests) starts its own with `TestPostgres.start()`.
///
/// The server binaries come from `LEDGERBRIDGE_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin` (Debian's
/// `postgresql` package, which scripts/test.sh installs). PostgreSQL refuses to run as root, so as root the cluster is
/// owned by and run as the `postgres` user.
public final class TestPostgres: @unchecked Sendable {
    public let port: Int
    public let host = "127.0.0.1"
    public let username = "postgres"
    let directory: String
    let binDirectory: String
    private let lock = NSLock()
    private var running = false
    /// Bumped by each start: the wrapper of a stopped server leaves the folder to the one that restarted it.
    private var generation = 0

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedInstance: TestPostgres?

    /// The server this test process shares, started on first use.
    public static func shared() async throws -> TestPostgres {
        try await offPool { try sharedBlocking() }
    }

    private static func sharedBlocking() throws -> TestPostgres {
        sharedLock.lock()
        defer { sharedLock.unlock() }
        if let s = sharedInstance { return s }
        let s = try startBlocking()
        sharedInstance = s
        return s
    }

    /// A new server of the caller's own.
    public static func start() async throws -> TestPostgres {
        try await offPool { try startBlocking() }
    }

    private static func startBlocking() throws -> TestPostgres {
        let bin = try findBinaries()
        let directory = try makeTemporaryDirectory()
        let server = TestPostgres(port: try freePort(), directory: directory, binDirectory: bin)
        try server.initialize()
        try server.startServer()
        return server
    }

    init(port: Int, directory: String, binDirectory: String) {
        self.port = port
        self.directory = directory
        self.binDirectory = binDirectory
    }

    private static var asRoot: Bool { geteuid() == 0 }

    /// Runs a server binary, as the `postgres` user when we are root.
    private func command(_ name: String, _ arguments: [String]) -> (String, [String]) {
        let path = binDirectory + "/" + name
        return Self.asRoot ? ("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments) : (path, arguments)
    }

    private func run(_ name: String, _ arguments: [String]) throws {
        let (exe, args) = command(name, arguments)
        let result = try Subprocess.run(exe, args)
        guard result.status == 0 else {
            throw TestEnvironment.PeerError(description: "\(name) failed (\(result.status)): \(result.error)\(result.output)")
        }
    }

    private func initialize() throws {
        if Self.asRoot { _ = try Subprocess.run("/bin/chown", ["-R", "postgres", directory]) }
        try run("initdb", ["-D", directory + "/data", "-U", username, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
    }

    /// Starts (or restarts) the server on its port and waits until it accepts connections.
    ///
    /// The server runs under a small shell wrapper that watches this process: when it ends in any way (crashes and
    /// SIGKILL included) the wrapper stops the server with a fast shutdown and removes its folder; a `.stop` file in
    /// the folder (`stopServer()`) stops it and keeps the data for a restart. A stopped server's wrapper watches on
    /// until a restart takes over (a new `.generation` in the folder), else removes the folder when this process
    /// ends: a test that ends with the server stopped leaves nothing behind either. So no test run leaves a server or
    /// its data behind, and nothing waits on child processes while the test process exits.
    public func startServer() throws {
        lock.lock()
        defer { lock.unlock() }
        guard !running else { return }
        generation += 1
        try String(generation).write(toFile: directory + "/.generation", atomically: true, encoding: .utf8)
        let (exe, args) = command(
            "postgres",
            [
                "-D", directory + "/data", "-p", String(port), "-h", host, "-k", directory, "-c", "max_connections=200",
                "-c", "shared_buffers=128MB", "-c", "log_min_messages=fatal",
            ])
        let script = """
            owner=\(getpid()); dir="\(directory)"; gen=\(generation)
            rm -f "$dir/.stop"
            "$@" </dev/null >/dev/null 2>&1 & pid=$!
            while kill -0 "$owner" 2>/dev/null && [ ! -e "$dir/.stop" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
            pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null); [ -n "$pm" ] && kill -INT "$pm" 2>/dev/null; wait "$pid"
            rm -f "$dir/.stop"
            while kill -0 "$owner" 2>/dev/null && [ "$(cat "$dir/.generation" 2>/dev/null)" = "$gen" ]; do sleep 0.5; done
            [ "$(cat "$dir/.generation" 2>/dev/null)" = "$gen" ] && rm -rf "$dir"
            exit 0
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, "sh", exe] + args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        running = true
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let r = try? Subprocess.run(binDirectory + "/pg_isready", ["-q", "-h", host, "-p", String(port)]), r.status == 0 {
                return
            }
            guard p.isRunning else { break }
            usleep(100_000)
        }
        throw TestEnvironment.PeerError(description: "PostgreSQL did not start on \(host):\(port) (data in \(directory))")
    }

    /// Stops the server (fast shutdown: clients are disconnected, committed data kept) and waits until it is down.
    /// `startServer()` brings it back.
    public func stopServer() {
        lock.lock()
        defer { lock.unlock() }
        guard running else { return }
        running = false
        FileManager.default.createFile(atPath: directory + "/.stop", contents: nil)
        // The postmaster removes its pid file when it has shut down; the wrapper then removes .stop.
        let deadline = Date().addingTimeInterval(30)
        while FileManager.default.fileExists(atPath: directory + "/.stop")
            || FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid"),
            Date() < deadline
        {
            usleep(50_000)
        }
    }

    /// A new, empty database; returns its name.
    public func createDatabase(_ prefix: String = "t") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try sql("CREATE DATABASE \(name)", database: "postgres")
        return name
    }

    /// Runs SQL with psql; returns what it printed (unaligned, tuples only).
    @discardableResult
    public func sql(_ statement: String, database: String) throws -> String {
        let result = try Subprocess.run(
            binDirectory + "/psql",
            ["-h", host, "-p", String(port), "-U", username, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", statement])
        guard result.status == 0 else {
            throw TestEnvironment.PeerError(description: "psql failed: \(result.error)")
        }
        return result.output
    }

    /// The psql command line for a database on this server.
    public func psqlCommand(database: String) -> String {
        "\(binDirectory)/psql -h \(host) -p \(port) -U \(username) -d \(database)"
    }

    /// `postgres://` URL for a database on this server.
    public func url(database: String) -> String { "postgres://\(username)@\(host):\(port)/\(database)?sslmode=disable" }

    private static func findBinaries() throws -> String {
        if let bin = ProcessInfo.processInfo.environment["LEDGERBRIDGE_PG_BIN"] { return bin }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last else {
            throw TestEnvironment.PeerError(
                description: "no PostgreSQL server found under \(root): scripts/test.sh installs it (apt-get install postgresql)")
        }
        return "\(root)/\(newest)/bin"
    }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "ledgerbridge-pg-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw TestEnvironment.PeerError(description: "mkdtemp failed") }
        return String(cString: p)
    }

    /// A port nothing listens on now, for a server a test starts (or stops and starts again) on a fixed port.
    ///
    /// Ports come from below the kernel's ephemeral range (32768–60999 on Linux), so the kernel never hands one to
    /// an outgoing connection or a port-0 listener while the test's server is restarting; and no port is handed out
    /// twice by one test process.
    public static func freePort() throws -> Int {
        for _ in 0..<200 {
            let candidate = Int.random(in: 20000..<32768)
            guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
            if canBind(candidate) { return candidate }
        }
        throw TestEnvironment.PeerError(description: "no free port found in 20000-32767")
    }

    private static let handedOut = Mutex<Set<Int>>([])

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withLoopbackAddress(port: port) { bind(fd, $0, $1) } == 0
    }
}

/// `body` with the socket address of 127.0.0.1:`port` and its length (for bind and connect).
func withLoopbackAddress<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
