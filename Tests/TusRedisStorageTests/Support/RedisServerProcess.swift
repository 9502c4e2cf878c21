import Foundation
import TusTestSupport
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
final class RedisServerProcess {
    let port: Int
    let password: String?
    /// The server, spawned with the signals it needs (a ``ChildProcess``),
    /// so that stopping it waits, without polling, exactly as long as it
    /// takes to exit.
    private let process: ChildProcess
    private let folder: TemporaryFolder

    /// `redis://127.0.0.1:port`, with the password when there is one.
    var url: String {
        if let password { return "redis://:\(password)@127.0.0.1:\(port)" }
        return "redis://127.0.0.1:\(port)"
    }

    /// Starts a server on `port` (a free one when `nil`), listening on
    /// 127.0.0.1 and, when `alsoIPv6`, on ::1, and waits, at most 10 s, until
    /// it answers.
    init(port: Int? = nil, password: String? = nil, alsoIPv6: Bool = false) throws {
        let port = try port ?? Self.freePort()
        self.port = port
        self.password = password
        let executable = try Self.executable()
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", NSTemporaryDirectory(), "--logfile", "",
        ]
        if alsoIPv6 { arguments.insert("::1", at: arguments.firstIndex(of: "127.0.0.1")! + 1) }
        if let password { arguments += ["--requirepass", password] }
        folder = try TemporaryFolder()
        process = try ChildProcess(executable, arguments, outputPath: folder.newPath("redis-server.log"))

        // Whether a server answers can only be seen by asking it.
        let deadline = Date().addingTimeInterval(10)
        while true {
            if let client = try? RawRedisClient(port: port), (try? client.command(["PING"])) != nil { return }
            if !process.isRunning || Date() > deadline {
                stop()
                throw ServerError(
                    description: "redis-server on port \(port) did not start answering within 10 s: \(process.output)")
            }
            usleep(20_000)
        }
    }

    deinit { stop() }

    /// Stops the server: SIGTERM, then SIGKILL after 5 s. Waits, bounded,
    /// until it has exited.
    func stop() {
        end(with: SIGTERM)
    }

    /// Kills the server at once, as a crash would.
    func crash() {
        end(with: SIGKILL)
    }

    /// Freezes the server: it keeps its port and connections but answers
    /// nothing until ``resume()``.
    func pause() { process.send(SIGSTOP) }

    /// Lets a paused server run again.
    func resume() { process.send(SIGCONT) }

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

    /// `redis-server` from `PATH`, or `/usr/bin/redis-server`.
    static func executable() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"] {
            let candidate = "\(folder)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ServerError(description: "redis-server is not on PATH nor in /usr/bin; install redis-server")
    }

    /// A loopback TCP port nothing listens on now: the kernel picks it for a
    /// socket bound to port 0, which is then closed.
    static func freePort() throws -> Int {
        try freeLoopbackPort()
    }

    /// Whether this machine has the IPv6 loopback address ::1.
    static var hasIPv6Loopback: Bool {
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

    struct ServerError: Error, CustomStringConvertible {
        var description: String
    }
}

#if canImport(Glibc)
let streamSocketType = Int32(SOCK_STREAM.rawValue)
#else
let streamSocketType = SOCK_STREAM
#endif
