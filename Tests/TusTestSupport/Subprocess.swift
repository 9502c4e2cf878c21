public import Foundation

/// What a finished process left behind.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Standard output without its final newline.
    public var output: String { stdout.hasSuffix("\n") ? String(stdout.dropLast()) : stdout }
}

/// Where the things the tests run live.
public enum TestPaths {
    /// The package's root folder.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `tus` tool: `$TUS_BIN`, else beside the test bundle.
    public static var tusBinary: String {
        if let path = ProcessInfo.processInfo.environment["TUS_BIN"], !path.isEmpty { return path }
        return builtProduct("tus")
    }

    /// The executable target `name` of this package, built beside the test
    /// bundle (`swift build --build-tests` builds them all).
    public static func builtProduct(_ name: String) -> String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Apple platforms the runner sits inside the .xctest bundle.
        while folder.pathExtension == "xctest" || folder.lastPathComponent == "MacOS" || folder.lastPathComponent == "Contents" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent(name).path
    }

    /// The Python with tuspy 1.1.0: `$TUS_TEST_PYTHON`, else the package's
    /// `.venv`, which the test command creates.
    public static var python: String {
        if let path = ProcessInfo.processInfo.environment["TUS_TEST_PYTHON"], !path.isEmpty { return path }
        return packageRoot.appendingPathComponent(".venv/bin/python").path
    }
}

public enum TestError: Error, CustomStringConvertible {
    case missing(String)
    case timedOut(String)
    public var description: String {
        switch self {
        case .missing(let what): what
        case .timedOut(let what): "timed out: \(what)"
        }
    }
}

/// Runs `executable` to its end and returns its status and output.
///
/// - Parameters:
///   - environment: variables to set (or, with nil values, remove) on top of this process's environment.
///   - timeout: the process is killed after this many seconds.
public func runProcess(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String?] = [:],
    input: Data? = nil,
    timeout: TimeInterval = 120
) throws -> ProcessResult {
    guard FileManager.default.isExecutableFile(atPath: executable) else {
        throw TestError.missing("\(executable) is missing or not executable; run the README's test command")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (name, value) in environment { env[name] = value }
    process.environment = env
    let folder = try TemporaryFolder()
    let outPath = folder.newPath("stdout"), errPath = folder.newPath("stderr")
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardOutput = out
    process.standardError = err
    if let input {
        let inPath = folder.newPath("stdin")
        _ = FileManager.default.createFile(atPath: inPath, contents: input)
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    let exited = ExitSignal(process)
    try process.run()
    if !exited.wait(timeout: timeout) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw TestError.timedOut("\(executable) \(arguments.joined(separator: " "))")
    }
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    )
}

/// Runs the built `tus` tool.
public func runTus(
    _ arguments: [String],
    environment: [String: String?] = [:],
    timeout: TimeInterval = 120
) throws -> ProcessResult {
    try runProcess(TestPaths.tusBinary, arguments, environment: environment, timeout: timeout)
}

/// Runs a Python script with the test venv's Python (tuspy 1.1.0 installed).
public func runPython(_ script: String, _ arguments: [String] = [], timeout: TimeInterval = 120) throws -> ProcessResult {
    try runProcess(TestPaths.python, ["-c", script] + arguments, timeout: timeout)
}

/// A process running in the background, its output going to files the test
/// can read while it runs.
public final class BackgroundProcess: @unchecked Sendable {
    private let process = Process()
    private let folder: TemporaryFolder
    private let outPath: String
    private let errPath: String
    private let exited: ExitSignal

    /// Starts `executable` with `arguments`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String?] = [:]) throws {
        folder = try TemporaryFolder()
        outPath = folder.newPath("stdout")
        errPath = folder.newPath("stderr")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (name, value) in environment { env[name] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        exited = ExitSignal(process)
        try process.run()
    }

    /// Starts the built `tus` tool.
    public convenience init(tus arguments: [String], environment: [String: String?] = [:]) throws {
        try self.init(TestPaths.tusBinary, arguments, environment: environment)
    }

    public var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end (killing it after `timeout`) and returns
    /// its exit status, or 128 + the signal that ended it.
    @discardableResult
    public func waitForExit(timeout: TimeInterval = 60) -> Int32 {
        if !exited.wait(timeout: timeout) {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Wakes whoever waits once a process has ended: set up before the
/// process runs, so the end is never missed, and waited on without polling.
public final class ExitSignal: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    /// Set up before `process` runs.
    public init(_ process: Process) {
        process.terminationHandler = { [semaphore] _ in semaphore.signal() }
    }

    /// Waits for the end, at most `timeout` seconds; returns whether it came.
    /// Once it has come, every later call returns at once.
    public func wait(timeout: TimeInterval) -> Bool {
        guard semaphore.wait(timeout: .now() + timeout) == .success else { return false }
        semaphore.signal()
        return true
    }
}
