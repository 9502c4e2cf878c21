import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A server program the fixtures start with `posix_spawn`, its output going
/// to files.
///
/// Not Foundation's `Process` (nor ``BackgroundProcess``, built on it): a
/// child inherits the signal mask of the thread that spawns it, and in a
/// test process that mask blocks `SIGTERM` and `SIGINT` (and `SIGPIPE` is
/// ignored), which Foundation passes on as is. nginx and tinyproxy started
/// that way ignore `SIGTERM` and only go with `SIGKILL`, seconds later.
/// Here the child starts with nothing blocked and the usual signals at their
/// defaults, and with no descriptor of the test process but its three.
final class ChildProcess: Sendable {
    /// The child's process ID.
    let pid: pid_t
    /// The file its standard output and standard error go to.
    let outputPath: String
    /// The wait status once it has been reaped.
    private let reaped = Locked<Int32?>(nil)

    /// Starts `executable` with `arguments`, its standard input `/dev/null`,
    /// its standard output and error appended to `outputPath`.
    init(_ executable: String, _ arguments: [String], outputPath: String) throws {
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
    }

    /// Whether the child is still running (reaping it if it has ended).
    var isRunning: Bool { status == nil }

    /// The child's wait status once it has ended; `nil` while it runs.
    var status: Int32? {
        reaped.withLock { reaped in
            if reaped != nil { return reaped }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped = status }
            return reaped
        }
    }

    /// Its exit status, or 128 + the signal that ended it; `nil` while it runs.
    var exitStatus: Int32? {
        guard let status else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// What it has written so far.
    var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Sends `SIGTERM`, waits up to `timeout` for the child to end, then
    /// kills it; returns its exit status.
    @discardableResult
    func stop(timeout: Duration = .seconds(5)) async -> Int32 {
        send(SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isRunning && clock.now < deadline {
            // A cancelled test stops waiting politely and kills at once.
            do { try await Task.sleep(for: .milliseconds(5)) } catch { break }
        }
        return killAndReap()
    }

    /// Kills the child if it still runs, and waits for it.
    @discardableResult
    private func killAndReap() -> Int32 {
        reaped.withLock { reaped in
            if reaped == nil {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                reaped = status
            }
        }
        return exitStatus ?? -1
    }

    deinit {
        killAndReap()
    }

    private static func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw FixtureError("\(what): \(String(cString: strerror(result)))") }
    }
}
