import Foundation
import Testing
import TusTestSupport

/// A `python3 -c <script>` process: another real process using the same
/// database file through Python's own sqlite3 module.
///
/// Every script is bounded by `signal.alarm`, and ``wait(timeout:)``
/// terminates a process that outlives its time, so no test can hang on one.
final class PythonProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let exited: ExitSignal

    /// Starts `script` with `arguments` as `sys.argv[1:]`.
    init(_ script: String, _ arguments: [String]) throws {
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
    func readLine() -> String? {
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
            if byte == Data("\n".utf8) { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// Closes the script's standard input.
    func closeInput() throws {
        try input.fileHandleForWriting.close()
    }

    /// Waits for the script to end, terminating it after `timeout`, and
    /// returns its exit status and what it wrote to standard error.
    func wait(timeout: Duration = .seconds(60)) async throws -> (status: Int32, errors: String) {
        let (seconds, attoseconds) = timeout.components
        let exited = self.exited
        let ended = await Task.detached { exited.wait(timeout: Double(seconds) + Double(attoseconds) / 1e18) }.value
        if !ended {
            process.terminate()
        }
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    /// Runs `script` to its end and requires it to succeed.
    static func run(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await PythonProcess(script, arguments).wait()
        #expect(result.status == 0, "python3 failed: \(result.errors)", sourceLocation: sourceLocation)
    }
}

/// The bytes of the file at `path`.
func contents(of path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}

/// The permission bits of the file at `path`.
func mode(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try #require(attributes[.posixPermissions] as? Int)
}
