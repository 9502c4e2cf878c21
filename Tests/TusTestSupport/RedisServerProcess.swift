public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private `redis-server` on a loopback port, started for a test and
/// stopped by ``stop()`` or when the value is released.
///
/// It keeps nothing on disk (`--save "" --appendonly no`); its log goes to a
/// temporary file, quoted when it does not start.
public final class RedisServerProcess {
    public let port: Int
    public let password: String?
    /// The server, spawned with the signals it needs (a ``ChildProcess``),
    /// so that stopping it waits, without polling, exactly as long as it
    /// takes to exit.
    private let process: ChildProcess
    private let folder: TemporaryFolder

    /// `redis://127.0.0.1:port`, with the password when there is one.
    public var url: String {
        if let password { return "redis://:\(password)@127.0.0.1:\(port)" }
        return "redis://127.0.0.1:\(port)"
    }

    /// Starts a server on `port` (a free one when `nil`), listening on
    /// 127.0.0.1 and, when `alsoIPv6`, on ::1, with `arguments` added (such
    /// as `["--replicaof", "127.0.0.1", "6380"]`), and waits, at most 10 s,
    /// until it answers.
    public convenience init(port: Int? = nil, password: String? = nil, alsoIPv6: Bool = false, arguments extra: [String] = []) throws {
        let port = try port ?? Self.freePort()
        let folder = try TemporaryFolder()
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", folder.path, "--logfile", "",
        ]
        if alsoIPv6 { arguments.insert("::1", at: arguments.firstIndex(of: "127.0.0.1")! + 1) }
        if let password { arguments += ["--requirepass", password] }
        try self.init(
            executable: try Self.executable(), name: "redis-server", port: port, password: password,
            arguments: arguments + extra, folder: folder
        )
    }

    /// Starts a `redis-sentinel` on a free port of 127.0.0.1 that monitors
    /// the master on `127.0.0.1:port` under `masterName`, with a quorum of
    /// two; it calls the master down after 1.5 s without an answer (less
    /// gets a busy machine's answers taken for a dead master) and gives a
    /// failover 3 s. Waits, at most 10 s, until it answers.
    public convenience init(sentinelMonitoring masterName: String, port masterPort: Int) throws {
        let port = try Self.freePort()
        let folder = try TemporaryFolder()
        // A sentinel rewrites its configuration file as it learns the set.
        let configuration = folder.newPath("sentinel.conf")
        try Data("""
            port \(port)
            bind 127.0.0.1
            daemonize no
            logfile ""
            dir \(folder.path)
            sentinel monitor \(masterName) 127.0.0.1 \(masterPort) 2
            sentinel down-after-milliseconds \(masterName) 1500
            sentinel failover-timeout \(masterName) 3000
            sentinel parallel-syncs \(masterName) 1

            """.utf8).write(to: URL(fileURLWithPath: configuration))
        try self.init(
            executable: try Self.executable("redis-sentinel", package: "redis-sentinel"), name: "redis-sentinel",
            port: port, password: nil, arguments: [configuration], folder: folder
        )
    }

    /// Starts `executable` with `arguments`, its output in a file of
    /// `folder`, and waits, at most 10 s, until it answers `PING` on `port`.
    private init(executable: String, name: String, port: Int, password: String?, arguments: [String], folder: TemporaryFolder) throws {
        self.port = port
        self.password = password
        self.folder = folder
        process = try ChildProcess(executable, arguments, outputPath: folder.newPath("\(name).log"))

        // Whether a server answers can only be seen by asking it.
        let deadline = Date().addingTimeInterval(10)
        while true {
            if let client = try? RawRedisClient(port: port), (try? client.command(["PING"])) != nil { return }
            if !process.isRunning || Date() > deadline {
                stop()
                throw ServerError(
                    description: "\(name) on port \(port) did not start answering within 10 s: \(process.output)")
            }
            usleep(20_000)
        }
    }

    deinit { stop() }

    /// What the server has logged so far.
    public var output: String { process.output }

    /// Stops the server: SIGTERM, then SIGKILL after 5 s. Waits, bounded,
    /// until it has exited.
    public func stop() {
        end(with: SIGTERM)
    }

    /// Kills the server at once, as a crash would.
    public func crash() {
        end(with: SIGKILL)
    }

    /// Freezes the server: it keeps its port and connections but answers
    /// nothing until ``resume()``.
    public func pause() { process.send(SIGSTOP) }

    /// Lets a paused server run again.
    public func resume() { process.send(SIGCONT) }

    /// Sends `signal` (to a paused server too) and waits for the end: 5 s,
    /// then `SIGKILL` and 5 s more. Nothing happens once it has ended.
    private func end(with signal: Int32) {
        guard process.isRunning else { return }
        process.send(SIGCONT)
        process.send(signal)
        if process.wait(timeout: .seconds(5)) != nil { return }
        process.send(SIGKILL)
        process.wait(timeout: .seconds(5))
    }

    /// `name` (by default `redis-server`) from `PATH`, or from
    /// `/usr/bin`; when missing, an error saying to install `package`.
    public static func executable(_ name: String = "redis-server", package: String = "redis-server") throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"] {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ServerError(description: "\(name) is not on PATH nor in /usr/bin; install \(package) (scripts/setup --test does)")
    }

    /// A loopback TCP port nothing listens on now: the kernel picks it for a
    /// socket bound to port 0, which is then closed.
    public static func freePort() throws -> Int {
        try freeLoopbackPort()
    }

    /// Whether this machine has the IPv6 loopback address ::1.
    public static var hasIPv6Loopback: Bool {
        let fd = socket(AF_INET6, streamSocketType, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
            }
        }
    }

    public struct ServerError: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }
}

#if canImport(Glibc)
let streamSocketType = Int32(SOCK_STREAM.rawValue)
#else
let streamSocketType = SOCK_STREAM
#endif
