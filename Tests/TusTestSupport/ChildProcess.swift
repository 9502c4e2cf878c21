public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A server program a test or fixture starts with `posix_spawn` (nginx,
/// tinyproxy, redis-server), its output going to a file, and a thread of its
/// own that waits for its end.
///
/// Not Foundation's `Process` (nor ``BackgroundProcess``, built on it): a
/// child inherits the signal mask of the thread that spawns it, and in a
/// test process that mask blocks `SIGTERM` and `SIGINT` (and `SIGPIPE` is
/// ignored), which Foundation passes on as is. nginx and tinyproxy started
/// that way ignore `SIGTERM` and only go with `SIGKILL`, seconds later.
/// Here the child starts with nothing blocked and the usual signals at their
/// defaults, and with no descriptor of the test process but its three.
///
/// Its end is an event, not something to poll for: a thread blocks in
/// `waitid` until the child has ended, reaps it, and wakes whoever waits
/// (``wait(timeout:)``, ``stop(timeout:)``).
public final class ChildProcess: Sendable {
    /// The child's process ID.
    public let pid: pid_t
    /// The file its standard output and standard error go to.
    public let outputPath: String
    /// The wait status once the child has been reaped, set by the thread
    /// that waits for it; -1 if it could not be waited for.
    private let ended = Watched<Int32?>(nil, name: "the child's wait status")
    /// Held while a signal is sent and while the child is reaped, so that a
    /// signal never goes to a process ID the system has given to another
    /// process; signalled once the child is reaped.
    private let reaping = Reaping()

    /// Starts `executable` with `arguments`, its standard input `/dev/null`,
    /// its standard output and error appended to `outputPath`.
    public init(_ executable: String, _ arguments: [String], outputPath: String) throws {
        self.outputPath = outputPath

        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        var attributes: posix_spawnattr_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #endif
        try Self.check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init")
        defer { posix_spawn_file_actions_destroy(&actions) }
        try Self.check(posix_spawnattr_init(&attributes), "posix_spawnattr_init")
        defer { posix_spawnattr_destroy(&attributes) }

        try Self.check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "open /dev/null")
        try Self.check(
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644),
            "open \(outputPath)")
        try Self.check(posix_spawn_file_actions_adddup2(&actions, 1, 2), "dup2")

        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        #if canImport(Darwin)
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #else
        // Sockets and files the test holds stay out of the child. (glibc's
        // addclosefrom_np is not visible to Swift; this is what Foundation
        // does too. A descriptor closed meanwhile is no error to glibc.)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            try Self.check(posix_spawn_file_actions_addclose(&actions, fd), "close \(fd)")
        }
        #endif
        var nothing = sigset_t()
        sigemptyset(&nothing)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        try Self.check(posix_spawnattr_setsigmask(&attributes, &nothing), "setsigmask")
        try Self.check(posix_spawnattr_setsigdefault(&attributes, &defaults), "setsigdefault")
        try Self.check(posix_spawnattr_setflags(&attributes, Int16(flags)), "setflags")

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        let spawned = argv.withUnsafeBufferPointer { argv in
            posix_spawn(&pid, executable, &actions, &attributes, argv.baseAddress!, environ)
        }
        try Self.check(spawned, "posix_spawn \(executable)")
        self.pid = pid

        let thread = Thread { [pid, ended, reaping] in
            // Waits for the end without reaping: until it is reaped below,
            // under the lock, the process ID stays the child's.
            var info = siginfo_t()
            var waited: Int32
            repeat {
                waited = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT)
            } while waited == -1 && errno == EINTR
            reaping.condition.lock()
            var status: Int32 = -1
            if waited == 0 {
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            }
            ended.update { $0 = status }
            reaping.condition.broadcast()
            reaping.condition.unlock()
        }
        thread.start()
    }

    /// Whether the child is still running (or has ended and is being
    /// reaped this moment).
    public var isRunning: Bool { ended.value == nil }

    /// The child's wait status once it has ended; `nil` while it runs.
    public var status: Int32? { ended.value }

    /// Its exit status, or 128 + the signal that ended it; `nil` while it
    /// runs, -1 if it could not be waited for.
    public var exitStatus: Int32? {
        guard let status else { return nil }
        guard status != -1 else { return -1 }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// What it has written so far.
    public var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// Sends `signal` to the child, unless it has ended.
    public func send(_ signal: Int32) {
        reaping.condition.lock()
        defer { reaping.condition.unlock() }
        if ended.value == nil { kill(pid, signal) }
    }

    /// Waits, blocking the calling thread, until the child has ended, for
    /// at most `timeout`; returns its exit status, or `nil` if it still runs.
    @discardableResult
    public func wait(timeout: Duration) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout / .seconds(1))
        reaping.condition.lock()
        while ended.value == nil && reaping.condition.wait(until: deadline) {}
        reaping.condition.unlock()
        return exitStatus
    }

    /// Sends `SIGTERM`, waits up to `timeout` for the child to end, then
    /// kills it; returns its exit status.
    @discardableResult
    public func stop(timeout: Duration = .seconds(5)) async -> Int32 {
        send(SIGTERM)
        // A cancelled test stops waiting politely and kills at once.
        _ = try? await ended.waitUntil(timeout: timeout) { $0 != nil }
        return killAndReap()
    }

    /// Kills the child if it still runs, and waits for it.
    @discardableResult
    private func killAndReap() -> Int32 {
        send(SIGKILL)
        reaping.condition.lock()
        while ended.value == nil { reaping.condition.wait() }
        reaping.condition.unlock()
        return exitStatus ?? -1
    }

    deinit {
        killAndReap()
    }

    private static func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw FixtureError("\(what): \(String(cString: strerror(result)))") }
    }
}

/// The lock and condition a ``ChildProcess`` shares with the thread that
/// waits for it.
private final class Reaping: @unchecked Sendable {
    let condition = NSCondition()
}
