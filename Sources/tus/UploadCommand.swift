import ArgumentParser
import Foundation
import TusClient
import TusCore
import TusFingerprints

/// `tus upload FILE --endpoint URL`: a resumable upload.
struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a file to a tus server, resuming an earlier attempt when the store knows one.",
        discussion: """
            The upload URL is kept in the store (see `tus store --help`) under the file's fingerprint \
            from the moment the server creates the upload, so running the same command again after a \
            crash, Ctrl-C or a lost network resumes where the server stopped. It is removed once the \
            upload has finished, unless --keep-url is given. The upload URL is the last line printed \
            on standard output; progress and messages go to standard error.

            FILE - reads standard input: a pipe is sent as a stream of unknown length, which a later \
            run cannot resume.

            Requests grow on a good link and halve after a 413 (a body limit) or a link that fails \
            mid-request; --chunk-size caps them. A request through which nothing moves for \
            --stall-timeout is abandoned and the upload goes on from the server's offset.

            HTTPS trusts the system's CAs, those in $SSL_CERT_FILE (instead) and $SSL_CERT_DIR, \
            and those given with --cacert. Proxies come from https_proxy, http_proxy, all_proxy and \
            no_proxy, as curl reads them.
            """
    )

    @Argument(help: ArgumentHelp("The file to upload, or - for standard input.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("The server's creation endpoint, such as http://127.0.0.1:1080/files/.", valueName: "url"))
    var endpoint: String

    @Option(help: ArgumentHelp("The store of upload URLs: \(StoreSpec.forms).", valueName: "spec"))
    var store: String?

    @Flag(help: "Keep no upload URL: the upload cannot be resumed by a later run.")
    var noStore = false

    @Option(help: "The fingerprint the URL is stored under: md5 (tuspy's) or sha256.")
    var fingerprint: FingerprintCommand.Algorithm = .md5

    @Option(help: ArgumentHelp("The most bytes sent per request: 5MiB, 512KiB, 1048576. By default sizes adapt to the link.", valueName: "size"))
    var chunkSize: ByteCount?

    @Option(help: ArgumentHelp("Upload metadata, repeatable. filename and filetype are sent by default.", valueName: "key=value"))
    var metadata: [String] = []

    @Option(help: ArgumentHelp("An extra request header, repeatable.", valueName: "Name: value"))
    var header: [String] = []

    @Option(help: "How many times a failed request is tried again.")
    var retries: Int = 5

    @Option(help: "Send a checksum of each chunk when the server supports it: sha1, sha256 or md5.")
    var checksum: ChecksumChoice?

    @Flag(help: "Keep the upload URL in the store after the upload has finished.")
    var keepURL = false

    @Option(help: ArgumentHelp("Upload the file in this many parts at once, joined on the server (tus concatenation).", valueName: "n"))
    var parallel: Int = 1

    @Option(help: ArgumentHelp("Abandon a request through which nothing moves for this long, and go on: 30s, 2m.", valueName: "duration"))
    var stallTimeout: DurationArgument = DurationArgument(argument: "30s")!

    @Option(help: ArgumentHelp("Also trust the CA certificates in this PEM file, repeatable.", valueName: "file"))
    var cacert: [String] = []

    @Option(help: ArgumentHelp("A client certificate (PEM) for servers that ask for one.", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --cert; by default read from the --cert file.", valueName: "file"))
    var key: String?

    @Flag(name: [.customShort("k"), .long], help: "Do not check the server's certificate (tests only: anyone on the path can read and change the upload).")
    var insecure = false

    func validate() throws {
        if noStore && store != nil {
            throw ValidationError("--store and --no-store cannot be used together")
        }
        if retries < 0 {
            throw ValidationError("--retries cannot be negative")
        }
        if parallel < 1 {
            throw ValidationError("--parallel takes a number of parts, 1 or more")
        }
        if key != nil && cert == nil {
            throw ValidationError("--key goes with --cert")
        }
        if file == "-" && keepURL {
            throw ValidationError("--keep-url has no use with standard input, which is never stored")
        }
    }

    func run() async throws {
        guard let endpointURL = URL(string: endpoint), let scheme = endpointURL.scheme?.lowercased(),
              scheme == "http" || scheme == "https", endpointURL.host != nil
        else {
            throw CommandFailure(message: "--endpoint \(endpoint.debugDescription) is not an http:// or https:// URL")
        }
        var options = UploadOptions()
        options.chunkSize = chunkSize?.bytes
        options.parallelUploads = parallel
        options.retryPolicy.retries = retries
        options.stallTimeout = stallTimeout.seconds > 0 ? stallTimeout.duration : nil
        options.checksum = checksum?.algorithm
        options.keepsURLAfterSuccess = keepURL
        options.fingerprint = switch fingerprint {
        case .md5: MD5Fingerprint()
        case .sha256: SHA256Fingerprint()
        }
        let readsStandardInput = file == "-"
        if !readsStandardInput {
            options.metadata = [
                "filename": (file as NSString).lastPathComponent,
                "filetype": MediaType.guess(forPath: file),
            ]
        }
        for item in metadata {
            guard let equals = item.firstIndex(of: "=") else {
                throw CommandFailure(message: "--metadata \(item.debugDescription) is not key=value")
            }
            options.metadata[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        for item in header {
            guard let colon = item.firstIndex(of: ":"), !item[..<colon].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw CommandFailure(message: "--header \(item.debugDescription) is not 'Name: value'")
            }
            options.headers[item[..<colon].trimmingCharacters(in: .whitespaces)] =
                item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var tls = TLSSettings()
        if !cacert.isEmpty { tls.trustRoots = .systemAnd(certificateFiles: cacert) }
        if let cert { tls.clientCertificate = ClientCertificate(certificateFile: cert, privateKeyFile: key ?? cert) }
        if insecure {
            tls.verifiesServerCertificate = false
            printError("warning: --insecure: the server's certificate is not checked; anyone on the path can read and change this upload")
        }

        let spec = noStore ? nil : try StoreSpec(store)
        let storage = try spec?.open()
        options.storage = storage
        defer { if let storage { Task { try? await storage.close() } } }

        let reporter = ProgressReporter(total: nil)
        let notices = UploadNotices(reporter: reporter)
        options.onEvent = { notices.tell($0) }
        let client = TusClient(url: endpointURL, tls: tls)
        let uploader = readsStandardInput
            ? try await client.uploader(for: FileHandle.standardInput, options: options)
            : try await client.uploader(forFileAtPath: file, options: options)
        reporter.setTotal(uploader.size)
        if readsStandardInput && !uploader.isResumable {
            reporter.say("standard input is a stream: a later run cannot resume this upload")
        }
        if uploader.isResuming, let url = uploader.url {
            reporter.say("resuming \(url.absoluteString) from offset \(uploader.offset)")
        } else if uploader.isResuming {
            reporter.say("resuming the upload's parts with \(uploader.offset) bytes confirmed by the server")
        }

        // Signals are caught before the upload starts, so none slips through.
        let pending = PendingCancellation()
        let interruption = Interruption { pending.cancel() }
        let task = Task { try await uploader.upload { reporter.update($0) } }
        pending.attach { task.cancel() }
        do {
            let url = try await task.value
            reporter.finish()
            interruption.stop()
            try await storage?.close()
            print(url.absoluteString)
        } catch is CancellationError {
            reporter.finish()
            let resumable = spec != nil && uploader.url != nil && uploader.isResumable
            let how = resumable ? "; run the same command again to resume" : ""
            reporter.say("interrupted with \(uploader.offset) bytes confirmed by the server\(how)")
            try? await storage?.close()
            Foundation.exit(interruption.signal.map { 128 + $0 } ?? ExitStatus.failure)
        } catch {
            reporter.finish()
            throw error
        }
    }
}

/// A byte count given as a number with an optional unit: `5MiB`, `512KiB`,
/// `1MB`, `1048576`.
struct ByteCount: ExpressibleByArgument, CustomStringConvertible {
    var bytes: Int

    /// `5MiB`, `512KiB`, or a plain count.
    var description: String {
        for (suffix, scale) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes % scale == 0 {
            return "\(bytes / scale)\(suffix)"
        }
        return String(bytes)
    }

    var defaultValueDescription: String { description }

    init(_ bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let units: [(String, Int)] = [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
            ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("kB", 1000),
            ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1),
        ]
        var number = Substring(argument)
        var scale = 1
        for (suffix, value) in units where argument.hasSuffix(suffix) {
            number = argument.dropLast(suffix.count)
            scale = value
            break
        }
        guard let count = Int(number), count > 0, count <= Int(Int32.max) / scale else { return nil }
        bytes = count * scale
    }
}

/// A file's media type from its extension, for the `filetype` metadata.
enum MediaType {
    private static let types: [String: String] = [
        "txt": "text/plain", "csv": "text/csv", "html": "text/html", "json": "application/json",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
        "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
        "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/x-matroska",
        "mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac",
    ]

    static func guess(forPath path: String) -> String {
        types[(path as NSString).pathExtension.lowercased()] ?? "application/octet-stream"
    }
}

/// A cancellation that may come before the task it cancels exists.
final class PendingCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelTask: (@Sendable () -> Void)?
    private var requested = false

    /// Sets what cancelling does; runs it at once if it was already asked for.
    func attach(_ cancel: @escaping @Sendable () -> Void) {
        let now = lock.withLock { () -> Bool in
            cancelTask = cancel
            return requested
        }
        if now { cancel() }
    }

    /// Asks for cancellation.
    func cancel() {
        let action = lock.withLock { () -> (@Sendable () -> Void)? in
            requested = true
            return cancelTask
        }
        action?()
    }
}

/// Turns SIGINT and SIGTERM into a call of `handler`, once.
final class Interruption: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []
    private var received: Int32?

    /// The signal that arrived, if one did.
    var signal: Int32? { lock.withLock { received } }

    init(_ handler: @escaping @Sendable () -> Void) {
        // A parent may have started us with these signals blocked.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in [SIGINT, SIGTERM] {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                self?.lock.withLock { if self?.received == nil { self?.received = number } }
                handler()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Restores the default handling of both signals.
    func stop() {
        lock.withLock {
            for source in sources { source.cancel() }
            sources = []
        }
        Foundation.signal(SIGINT, SIG_DFL)
        Foundation.signal(SIGTERM, SIG_DFL)
    }
}

/// Shows an upload's progress on standard error: a bar that redraws itself
/// on a terminal, a plain line at most once a second otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64?
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let started = Date()
    private var firstBytes: Int64?
    private var lastLine = Date.distantPast
    private var latest: UploadProgress?
    private var drewBar = false

    init(total: Int64?) {
        self.total = total
    }

    /// Sets the size once it is known.
    func setTotal(_ total: Int64?) {
        lock.withLock { self.total = total }
    }

    /// Prints a message on its own line.
    func say(_ message: String) {
        lock.withLock {
            if drewBar { write("\n"); drewBar = false }
            write(message + "\n")
        }
    }

    func update(_ progress: UploadProgress) {
        lock.withLock {
            latest = progress
            if firstBytes == nil { firstBytes = progress.bytesUploaded }
            if progress.totalBytes != nil { total = progress.totalBytes }
            let now = Date()
            let done = total.map { progress.bytesUploaded >= $0 } ?? false
            if isTerminal {
                if now.timeIntervalSince(lastLine) >= 0.1 || done {
                    write("\r" + line(progress, now: now, bar: true) + "\u{1B}[K")
                    drewBar = true
                    lastLine = now
                }
            } else if progress.bytesUploaded != firstBytes && now.timeIntervalSince(lastLine) >= 1 || done {
                // Plain lines start once bytes move, so a failure is one line.
                write(line(progress, now: now, bar: false) + "\n")
                lastLine = now
            }
        }
    }

    /// Ends the bar's line.
    func finish() {
        lock.withLock {
            if drewBar { write("\n"); drewBar = false }
        }
    }

    private func line(_ progress: UploadProgress, now: Date, bar: Bool) -> String {
        let sent = progress.bytesUploaded
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(sent - (firstBytes ?? 0)) / elapsed : 0
        var parts: [String] = []
        if let total {
            let fraction = total == 0 ? 1 : Double(sent) / Double(total)
            if bar {
                let width = 24, filled = Int(fraction * Double(width))
                parts.append("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]")
            }
            parts.append(String(format: "%3.0f%%", fraction * 100))
            parts.append("\(Self.bytes(sent)) / \(Self.bytes(total))")
            parts.append("\(Self.bytes(Int64(rate)))/s")
            if rate > 0 && sent < total {
                parts.append("ETA " + Self.duration(Double(total - sent) / rate))
            }
        } else {
            parts.append("\(Self.bytes(sent)) sent")
            parts.append("\(Self.bytes(Int64(rate)))/s")
        }
        return parts.joined(separator: "  ")
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}

/// Tells on standard error how the upload changes course: smaller requests
/// (once for a body limit), and each retry with its reason, so that a
/// stalled or failing link shows signs of life.
final class UploadNotices: @unchecked Sendable {
    private let reporter: ProgressReporter
    private let lock = NSLock()
    private var toldBodyLimit = false

    init(reporter: ProgressReporter) {
        self.reporter = reporter
    }

    func tell(_ event: UploadEvent) {
        switch event {
        case .chunkSizeReduced(let from, let to, .bodyTooLarge):
            let first = lock.withLock { () -> Bool in
                defer { toldBodyLimit = true }
                return !toldBodyLimit
            }
            if first {
                reporter.say("the server or a proxy refuses \(ProgressReporter.bytes(Int64(from))) in one request (413): sending at most \(ProgressReporter.bytes(Int64(to))) at a time")
            }
        case .chunkSizeReduced:
            break
        case .parallelUploadsUnsupported:
            reporter.say("the server does not announce concatenation: uploading in one part")
        case .partCreatedAgain(let index):
            reporter.say("part \(index + 1) is gone from the server: uploading it again from its start")
        case .retrying(let failure, let delay):
            reporter.say("\(failure.error.message); retrying in \(Self.seconds(delay))")
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        let (whole, fraction) = duration.components
        return String(format: "%.1f s", Double(whole) + Double(fraction) / 1e18)
    }
}

/// The `--checksum` choices.
enum ChecksumChoice: String, ExpressibleByArgument, CaseIterable {
    case sha1, sha256, md5

    var algorithm: ChecksumAlgorithm {
        switch self {
        case .sha1: .sha1
        case .sha256: .sha256
        case .md5: .md5
        }
    }
}
