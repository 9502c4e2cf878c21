public import Foundation

/// A `python3 -c <script>` process that the test talks to through its
/// standard input and output: another real process holding a lock, or
/// writing the same database file through Python's own sqlite3 module. The
/// one launcher for such processes; `runProcess` runs a command to its end,
/// `BackgroundProcess` runs one with its output in files, and
/// `ChildProcess` runs a server.
///
/// Every script is bounded by `signal.alarm`, and ``wait(timeout:)``
/// terminates a process that outlives its time, so no test can hang on one.
public final class PythonProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let exited: ExitSignal

    /// Starts `script` with `arguments` as `sys.argv[1:]`.
    public init(_ script: String, _ arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import signal; signal.alarm(60)\n" + script] + arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        exited = ExitSignal(process)
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// The next line the script prints, or nil once it closed its output.
    /// The pipe is read on a Dispatch thread, never on one of the threads
    /// that run the test's tasks.
    public func readLine() async -> String? {
        let handle = output.fileHandleForReading
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var line = Data()
                while true {
                    let byte = handle.readData(ofLength: 1)
                    if byte.isEmpty {
                        continuation.resume(returning: line.isEmpty ? nil : String(decoding: line, as: UTF8.self))
                        return
                    }
                    if byte == Data("\n".utf8) {
                        continuation.resume(returning: String(decoding: line, as: UTF8.self))
                        return
                    }
                    line.append(byte)
                }
            }
        }
    }

    /// Closes the script's standard input.
    public func closeInput() throws {
        try input.fileHandleForWriting.close()
    }

    /// Waits for the script to end, terminating it after `timeout`, and
    /// returns its exit status and what it wrote to standard error.
    public func wait(timeout: Duration = .seconds(60)) async throws -> (status: Int32, errors: String) {
        let (seconds, attoseconds) = timeout.components
        let exited = self.exited
        // Waited for on a Dispatch thread, not on one of the tasks' threads.
        let ended = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: exited.wait(timeout: Double(seconds) + Double(attoseconds) / 1e18))
            }
        }
        if !ended {
            process.terminate()
        }
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    /// Runs `script` to its end; throws when it fails, with what it wrote
    /// to standard error.
    public static func run(_ script: String, _ arguments: [String] = []) async throws {
        let result = try await PythonProcess(script, arguments).wait()
        if result.status != 0 { throw TestError.missing("python3 failed (exit \(result.status)): \(result.errors)") }
    }
}
