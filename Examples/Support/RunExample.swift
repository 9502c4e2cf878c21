public import Foundation
import TusCore

/// Runs an upload example and ends the process with its status.
///
/// It reads the command line into ``ExampleArguments``, makes a scratch
/// folder (`tus-<name>-<pid>` in the temporary folder) for the sample file,
/// the temporary store and the development server, and calls `body` with
/// both. Every failure ends in one `error: …` line on standard error and
/// status 2; a cancelled upload (Ctrl-C, see ``valueCancellingOnCtrlC(_:)``)
/// in "Upload interrupted - can be resumed later" and status 130. The
/// scratch folder is removed either way.
///
/// ```swift
/// await runExample("basic-upload", usage: "[FILE] [--endpoint URL] [--store STORE.json]", options: [.store]) {
///     arguments, scratch in
///     let file = try fileToUpload(arguments.file, scratch: scratch)
///     // …
/// }
/// ```
public func runExample(
    _ name: String,
    usage: String,
    options: Set<ExampleArguments.Option>,
    _ body: (ExampleArguments, URL) async throws -> Void
) async -> Never {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tus-\(name)-\(getpid())")
    var status: Int32 = 0
    do {
        let arguments = try ExampleArguments(
            Array(CommandLine.arguments.dropFirst()), name: name, usage: usage, options: options)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try await body(arguments, scratch)
    } catch is CancellationError {
        print("Upload interrupted - can be resumed later")
        status = 130
    } catch let error as TusError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        status = 2
    } catch {
        FileHandle.standardError.write(Data("error: \(error.localizedDescription)\n".utf8))
        status = 2
    }
    try? FileManager.default.removeItem(at: scratch)
    exit(status)
}

/// Waits for `task`'s value, cancelling the task when Ctrl-C is pressed
/// meanwhile (the task then throws `CancellationError`).
///
/// ```swift
/// let url = try await valueCancellingOnCtrlC { try await uploader.upload() }
/// ```
public func valueCancellingOnCtrlC<Success: Sendable>(
    _ operation: @escaping @Sendable () async throws -> Success
) async throws -> Success {
    // Ctrl-C is caught before the work starts, so none can slip through.
    let cancel = CancelSwitch()
    signal(SIGINT, SIG_IGN)
    let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    interrupt.setEventHandler { cancel.flip() }
    interrupt.resume()
    defer { interrupt.cancel() }
    let task = Task { try await operation() }
    cancel.attach(task)
    return try await task.value
}

/// Cancels a task once both the task and a Ctrl-C have come, in any order.
private final class CancelSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelTask: (@Sendable () -> Void)?
    private var flipped = false

    func attach<Success: Sendable>(_ task: Task<Success, any Error>) {
        let cancelNow = lock.withLock { () -> Bool in
            cancelTask = { task.cancel() }
            return flipped
        }
        if cancelNow { task.cancel() }
    }

    func flip() {
        let cancel = lock.withLock { () -> (@Sendable () -> Void)? in
            flipped = true
            return cancelTask
        }
        cancel?()
    }
}
