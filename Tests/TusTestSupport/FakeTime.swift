public import Foundation

/// Runs a command under a moved wall clock with Debian's `faketime`
/// (libfaketime, preloaded): the command reads the time `offset` away from
/// the machine's, and everything else on the machine keeps the real time.
/// A client whose clock is two days fast, against a server whose clock is
/// right, is `FakeTime(offset: "+2d")`.
///
/// Only the wall clock moves (`--exclude-monotonic`): timers, timeouts and
/// durations measured on the monotonic clock run as they would on a machine
/// whose date is wrong. The multi-threaded build of the library (`-m`) is
/// used, since the programs the tests run have several threads.
///
/// It works for any program that reads the time through the C library
/// (`clock_gettime`, `gettimeofday`, `time`), which the `tus` tool does:
/// it links the C library dynamically, so the preloaded library comes first.
///
/// ```swift
/// let result = try FakeTime(offset: "+2d").runTus(["upload", path, "--endpoint", url])
/// ```
public struct FakeTime: Sendable {
    /// The offset in faketime's advanced format: `+2d`, `-3h`, `+90s`.
    public var offset: String

    /// A clock `offset` away from the real one (`+2d`, `-3h`, `+90s`).
    public init(offset: String) {
        self.offset = offset
    }

    /// A clock `days` days ahead (behind when negative).
    public static func days(_ days: Int) -> FakeTime {
        FakeTime(offset: days < 0 ? "\(days)d" : "+\(days)d")
    }

    /// The command line that runs `executable` with `arguments` under this
    /// clock: `faketime`'s path first, then its arguments.
    ///
    /// - Throws: ``FixtureError`` if `faketime` is not installed,
    ///   ``TestError/missing(_:)`` if `executable` is not there.
    public func commandLine(_ executable: String, _ arguments: [String]) throws -> (executable: String, arguments: [String]) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestError.missing("\(executable) is missing or not executable; run the README's test command")
        }
        let faketime = try Executables.find("faketime", candidates: ["/usr/bin/faketime"])
        return (faketime, ["-m", "--exclude-monotonic", "-f", offset, executable] + arguments)
    }

    /// Runs `executable` under this clock to its end, as
    /// ``runProcess(_:_:environment:input:timeout:)`` does.
    public func run(
        _ executable: String, _ arguments: [String], environment: [String: String?] = [:], timeout: TimeInterval = 120
    ) throws -> ProcessResult {
        let command = try commandLine(executable, arguments)
        return try runProcess(command.executable, command.arguments, environment: environment, timeout: timeout)
    }

    /// Runs the built `tus` tool under this clock, as ``runTus(_:environment:timeout:)`` does.
    public func runTus(
        _ arguments: [String], environment: [String: String?] = [:], timeout: TimeInterval = 120
    ) throws -> ProcessResult {
        try run(TestPaths.tusBinary, arguments, environment: environment, timeout: timeout)
    }
}
