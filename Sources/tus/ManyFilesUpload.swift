import Foundation
import Logging
import TusClient
import TusCore

/// `tus upload FILE... --jobs N`: many files, each resumable on its own,
/// N at a time. Each finished file is one `PATH<TAB>URL` line on standard
/// output; a file that fails is one `tus: PATH: …` line on standard error
/// and does not stop the others. The exit status is 0 only when every file
/// finished.
struct ManyFilesUpload {
    var client: TusClient
    var options: UploadOptions
    var store: StoreSpec?
    var jobs: Int
    var verbose: VerboseLog

    func run(_ files: [String]) async throws {
        let display = ManyFilesDisplay(files: files.count)
        guard let logger = verbose.logger(say: { display.say($0) }) else {
            return try await run(files, display: display)
        }
        try await withLogger(logger) { _ in try await run(files, display: display) }
    }

    private func run(_ files: [String], display: ManyFilesDisplay) async throws {
        var options = options
        let storage = try store?.openForUpload(required: options.requiresStore) { error in
            if display.tellStoreOutageOnce() { display.say(UploadNotices.storeWarning(error)) }
        }
        options.storage = storage
        let given = Set(options.metadata.keys)

        // Signals are caught before the uploads start, so none slips through.
        let pending = PendingCancellation()
        let interruption = Interruption { pending.cancel() }
        let client = client
        let jobs = jobs
        let task = Task {
            await client.uploadFiles(
                atPaths: files, options: options, maximumConcurrentUploads: jobs,
                metadataForFile: { path in MediaType.metadata(forPath: path).filter { !given.contains($0.key) } },
                events: { display.handle($0) })
        }
        pending.attach { task.cancel() }
        let results = await task.value
        display.finish()
        interruption.stop()
        try? await storage?.close()

        let finished = results.filter { if case .success = $0.outcome { true } else { false } }.count
        if let signal = interruption.signal {
            let how = store == nil ? "" : "; run the same command again to resume the others"
            display.say("interrupted: \(finished) of \(files.count) files finished\(how)")
            Foundation.exit(128 + signal)
        }
        if finished < files.count {
            throw CommandFailure(message: "\(files.count - finished) of \(files.count) files did not finish")
        }
    }
}

/// What `tus upload FILE...` shows on standard error: on a terminal, a line
/// per file going up and a total, redrawn in place, each cut to the
/// terminal's width; otherwise (and with `NO_COLOR` or `TERM=dumb`, see
/// ``Terminal``) a plain line at most once a second.
final class ManyFilesDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private let terminal = Terminal.standardError
    private let files: Int
    private let started = Date()
    private var active: [Int: (name: String, sent: Int64, total: Int64?)] = [:]
    private var finishedFiles = 0
    private var sentBefore: [Int: Int64] = [:]
    private var sent: Int64 = 0
    private var drawnLines = 0
    private var lastDraw = Date.distantPast
    private var toldBodyLimit = false
    private var toldStoreOutage = false

    init(files: Int) {
        self.files = files
    }

    /// When each file last had a `progress` event (`--progress json`).
    private var lastProgressEvent: [Int: Date] = [:]

    func handle(_ event: FileUploadEvent) {
        if JSONLines.enabled {
            handleAsJSON(event)
            return
        }
        switch event {
        case .started(let index, let path, let uploader):
            lock.withLock {
                active[index] = ((path as NSString).lastPathComponent, uploader.offset, uploader.size)
                sentBefore[index] = uploader.offset
            }
            if uploader.isResuming { say("\(path): resuming with \(uploader.offset) bytes confirmed by the server") }
            redraw()
        case .progress(let index, _, let progress):
            lock.withLock {
                guard let file = active[index] else { return }
                sent += progress.bytesUploaded - file.sent
                active[index] = (file.name, progress.bytesUploaded, progress.totalBytes ?? file.total)
            }
            redraw()
        case .event(_, let path, let event):
            if case .chunkSizeReduced(_, _, .bodyTooLarge) = event {
                let first = lock.withLock { () -> Bool in
                    defer { toldBodyLimit = true }
                    return !toldBodyLimit
                }
                if !first { return }
            }
            if case .storeUnreachable(let error) = event {
                // Every file shares the store: one warning for all.
                if !tellStoreOutageOnce() { return }
                say(UploadNotices.storeWarning(error))
                return
            }
            if let text = UploadNotices.words(for: event) { say("\(path): \(text)") }
        case .finished(let result):
            lock.withLock {
                active[result.index] = nil
                finishedFiles += 1
            }
            switch result.outcome {
            case .success(let url):
                // One line a script can split at the tab.
                FileHandle.standardOutput.write(Data("\(result.path)\t\(url.absoluteString)\n".utf8))
            case .failure(let error as TusError):
                say("tus: \(result.path): \(error.message)")
            case .failure(is CancellationError):
                break
            case .failure:
                say("tus: \(result.path): the upload failed")
            }
            redraw(force: true)
        }
    }

    /// `--progress json`: each event one line naming its file.
    private func handleAsJSON(_ event: FileUploadEvent) {
        switch event {
        case .started(_, let path, let uploader):
            JSONLines.emit("started", [
                "file": path, "size": uploader.size, "url": uploader.isResuming ? uploader.url.map(\.shown) : nil,
                "resumed_from": uploader.isResuming ? uploader.offset : nil,
            ])
        case .progress(let index, let path, let progress):
            let now = Date()
            let due = lock.withLock { () -> Bool in
                let done = progress.totalBytes.map { progress.bytesUploaded >= $0 } ?? false
                guard done || now.timeIntervalSince(lastProgressEvent[index] ?? .distantPast) >= 1 else { return false }
                lastProgressEvent[index] = now
                return true
            }
            if due { JSONLines.emit("progress", ["file": path, "bytes": progress.bytesUploaded, "size": progress.totalBytes]) }
        case .event(_, let path, let event):
            if case .storeUnreachable = event, !tellStoreOutageOnce() { return }
            UploadNotices.emitJSON(event, file: path)
        case .finished(let result):
            switch result.outcome {
            case .success(let url):
                JSONLines.emit("finished", ["file": result.path, "url": url.shown])
                FileHandle.standardOutput.write(Data("\(result.path)\t\(url.absoluteString)\n".utf8))
            case .failure(let error as TusError):
                JSONLines.emit("error", ["file": result.path, "message": error.message])
            case .failure(is CancellationError):
                JSONLines.emit("interrupted", ["file": result.path])
            case .failure:
                JSONLines.emit("error", ["file": result.path, "message": "the upload failed"])
            }
        }
    }

    /// True the first time only: the store's outage is told once.
    func tellStoreOutageOnce() -> Bool {
        lock.withLock {
            defer { toldStoreOutage = true }
            return !toldStoreOutage
        }
    }

    /// Prints a message on its own line, above the progress lines (a
    /// `message` event with `--progress json`).
    func say(_ message: String) {
        if JSONLines.enabled {
            JSONLines.emit("message", ["text": message])
            return
        }
        lock.withLock {
            clear()
            write(message + "\n")
            draw(force: true)
        }
    }

    /// Removes the progress lines before the command ends.
    func finish() {
        if JSONLines.enabled { return }
        lock.withLock {
            clear()
            if !terminal.redraws { write(totalLine() + "\n") }
        }
    }

    private func redraw(force: Bool = false) {
        lock.withLock { draw(force: force) }
    }

    /// Call with the lock.
    private func draw(force: Bool) {
        let now = Date()
        let interval = terminal.redraws ? 0.1 : 1.0
        guard force || now.timeIntervalSince(lastDraw) >= interval else { return }
        if !terminal.redraws {
            if !force && sent > 0 { write(totalLine() + "\n") }
            lastDraw = now
            return
        }
        clear()
        var lines = active.keys.sorted().map { index -> String in
            let file = active[index]!
            let share = file.total.map { $0 == 0 ? "100%" : String(format: "%3.0f%%", Double(file.sent) / Double($0) * 100) } ?? "   "
            let size = file.total.map { " / " + ProgressReporter.bytes($0) } ?? ""
            return "\(share)  \(file.name)  \(ProgressReporter.bytes(file.sent))\(size)"
        }
        lines.append(totalLine())
        // Cut to the width, so that no line wraps and moving up over them
        // lands where they began.
        let width = max(1, terminal.columns() - 1)
        for line in lines { write(Terminal.prefix(line, columns: width) + "\u{1B}[K\n") }
        drawnLines = lines.count
        lastDraw = now
    }

    /// Erases the drawn lines (terminal only). Call with the lock.
    private func clear() {
        guard terminal.redraws, drawnLines > 0 else { return }
        write("\u{1B}[\(drawnLines)F\u{1B}[J")
        drawnLines = 0
    }

    private func totalLine() -> String {
        let elapsed = Date().timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(sent) / elapsed : 0
        return "\(finishedFiles) of \(files) files done  \(ProgressReporter.bytes(sent)) sent  \(ProgressReporter.bytes(Int64(rate)))/s"
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
