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
/// It keeps nothing on disk (`--save "" --appendonly no`).
final class RedisServerProcess {
    let port: Int
    let password: String?
    private let pid: pid_t
    private var isStopped = false

    /// `redis://127.0.0.1:port`, with the password when there is one.
    var url: String {
        if let password { return "redis://:\(password)@127.0.0.1:\(port)" }
        return "redis://127.0.0.1:\(port)"
    }

    /// Starts a server on `port` (a free one when `nil`), listening on
    /// 127.0.0.1 and, when `alsoIPv6`, on ::1, and waits, at most 10 s, until
    /// it answers.
    ///
    /// The server is spawned and reaped with `posix_spawn` and `waitpid`
    /// directly, so that stopping it waits exactly as long as it takes to
    /// exit.
    init(port: Int? = nil, password: String? = nil, alsoIPv6: Bool = false) throws {
        let port = try port ?? Self.freePort()
        self.port = port
        self.password = password
        let executable = try Self.executable()
        var arguments = [
            executable, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", NSTemporaryDirectory(), "--logfile", "",
        ]
        if alsoIPv6 { arguments.insert("::1", at: arguments.firstIndex(of: "127.0.0.1")! + 1) }
        if let password { arguments += ["--requirepass", password] }
        pid = try Self.spawn(executable, arguments)

        let deadline = Date().addingTimeInterval(10)
        while true {
            if let client = try? RawRedisClient(port: port), (try? client.command(["PING"])) != nil { return }
            if hasExited() || Date() > deadline {
                stop()
                throw ServerError(description: "redis-server on port \(port) did not start answering within 10 s")
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
    func pause() { _ = kill(pid, SIGSTOP) }

    /// Lets a paused server run again.
    func resume() { _ = kill(pid, SIGCONT) }

    private func end(with signal: Int32) {
        guard !isStopped else { return }
        isStopped = true
        if hasExited() { return }
        _ = kill(pid, SIGCONT)
        _ = kill(pid, signal)
        if waitForExit(seconds: 5) { return }
        _ = kill(pid, SIGKILL)
        _ = waitForExit(seconds: 5)
    }

    private var reaped = false

    /// Whether the server has exited; reaps it when it has.
    private func hasExited() -> Bool {
        if reaped { return true }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid || (result == -1 && errno == ECHILD) { reaped = true }
        return reaped
    }

    private func waitForExit(seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !hasExited() {
            if Date() > deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// Spawns `executable` with `arguments` (the first is its name), its
    /// standard streams on /dev/null.
    private static func spawn(_ executable: String, _ arguments: [String]) throws -> pid_t {
        #if canImport(Glibc)
        var actions = posix_spawn_file_actions_t()
        #else
        var actions: posix_spawn_file_actions_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor in [Int32(0), 1, 2] {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        // The test runner's threads may block or ignore signals, and a child
        // inherits both: give the server an empty mask and default handlers,
        // so that SIGTERM stops it.
        #if canImport(Glibc)
        var attributes = posix_spawnattr_t()
        #else
        var attributes: posix_spawnattr_t?
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw ServerError(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
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
