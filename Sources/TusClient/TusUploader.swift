public import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Tracing
import TusCore
import TusProtocol

/// One upload: created on the server, or resumed from a URL kept in a
/// `Storage`, then sent chunk by chunk.
///
/// Make one with ``TusClient/uploader(forFileAtPath:options:)`` (or the
/// `FileHandle` and `Data` forms), then call ``upload(progress:)``.
///
/// ## Resuming
/// With ``UploadOptions/storage`` set, making the uploader looks up the URL
/// stored under the file's fingerprint and sends HEAD to it. The stored URL
/// is the user's progress, and is forgotten only when it is no longer this
/// upload's:
/// - the server answers 404 or 410 (the upload is gone);
/// - its `Upload-Expires` is past by the server's own clock (its `Date`
///   header; the client's clock plays no part);
/// - it holds another file: another `Upload-Length`, more bytes than the
///   file has, or, where the server echoes the upload's metadata, another
///   file check (the size and a hash of the file's last 64 KiB, sent at
///   creation under `swift-tus-file-check`), as when two files share their
///   size and first 64 KiB and so tuspy's key.
///
/// Then a new upload is created. Any other answer keeps the URL: 401, 403
/// and 407 (refused credentials) stop with that said, and a run with valid
/// credentials resumes; a 423, 5xx or network error is retried as
/// ``UploadOptions/retryPolicy`` says, then thrown.
///
/// The URL of a new upload is stored as soon as the answer to its `POST`
/// comes, which carries at most ``firstRequestCeiling`` bytes, and removed
/// once the upload has finished, unless
/// ``UploadOptions/keepsURLAfterSuccess`` is set. An upload in the IETF
/// draft stores it sooner, from the server's `104 (Upload Resumption
/// Supported)`, and resumes in the draft whatever
/// ``UploadOptions/uploadProtocol`` says (see <doc:TusAndTheIETFDraft>).
///
/// ## Failures during the upload
/// A network error, a stalled request (``UploadOptions/stallTimeout``), a
/// 5xx, 408 or 429 answer is retried after a growing delay, from the offset
/// the server reports (HEAD); a 409 (offset mismatch) resynchronises the
/// same way; a 460 (checksum mismatch) sends the chunk again; a 413 sends
/// half as many bytes. After a request was abandoned, a 423 (or a 503) from
/// a server that still holds it is waited out, for up to two minutes past
/// the stall timeout, without counting as a failure.
/// ``UploadOptions/retryPolicy`` says how often and how soon, and may
/// decide otherwise. After that many failures in a row the upload throws,
/// and can be resumed later. Cancelling the task that runs
/// ``upload(progress:)`` stops it at once, and the upload stays resumable.
///
/// ## Request sizes
/// See ``UploadOptions/chunkSize``: sizes grow on a good link, halve after a
/// 413 or a failure in the middle of a request, and never pass the
/// ceiling.
public final class TusUploader: @unchecked Sendable {
    let client: TusClient
    let source: UploadSource
    let options: UploadOptions
    let metadataHeader: String?
    /// The file check sent in the metadata (see ``FileCheck``), nil for a
    /// stream or without a store.
    let fileCheck: String?
    /// The event loop that sends the chunks, one for the whole upload so
    /// that its requests share a connection.
    let eventLoop: any EventLoop
    var logger: Logger { client.logger }

    let lock = NSLock()
    /// The upload's state (see ``UploadState``), touched under ``lock``.
    var state: UploadState
    private var isRunning = false
    /// The OPTIONS sent alongside a POST that carries bytes unasked.
    var askingAlongside: Task<Void, Never>?
    /// The URL a `104` gave while the creation request runs, and its
    /// storing.
    var storingAtOnce: (url: URL, dialect: Dialect, task: Task<Void, Never>)?

    /// The most bytes of a stream one request carries, when the options
    /// set no ceiling: they are kept in memory until the server has them.
    static let streamCeiling = 16 << 20

    /// The most bytes the first request (the `POST` that creates the
    /// upload) carries, whatever ``UploadOptions/chunkSize`` says: the URL
    /// is stored once its answer comes, so a crash before that loses at
    /// most this much. 5 MiB, where requests start when the uploader
    /// chooses their size. An upload known to speak the IETF draft, whose
    /// `104` names it before the body goes, is not bound by it where the
    /// `104` can be seen (see <doc:TusAndTheIETFDraft>).
    public static let firstRequestCeiling = ChunkSizer.start

    /// The key the upload URL is stored under, or `nil` without a store (or
    /// for a stream, which cannot be resumed).
    public let key: String?

    /// Whether a stored upload URL was found, still valid, and is where the
    /// upload goes on.
    public let isResuming: Bool

    /// The upload's URL on the server, once created or resumed. For an
    /// upload in parts, the final upload's, once the parts are joined.
    public var url: URL? { lock.withLock { state.url } }

    /// How many bytes the server holds: where the next chunk starts. Before
    /// ``upload(progress:)``, it is where a resumed upload goes on. For an
    /// upload in parts, the bytes of every part together.
    public var offset: Int64 {
        if let parallel, lock.withLock({ state.url == nil }) { return parallel.confirmed }
        return lock.withLock { state.offset }
    }

    /// The size of what is uploaded, or `nil` for a stream whose end has not
    /// been reached.
    public var size: Int64? { part?.length ?? source.size }

    /// What messages call the upload: the file's path, and which part.
    var name: String {
        guard let part else { return source.name }
        return "\(source.name) (part \(part.index + 1) of \(part.count))"
    }

    /// For one part of a parallel upload: the range of the file it sends,
    /// and what to do once the server has created it.
    let part: Part?

    struct Part: Sendable {
        /// Where in the file the part starts, and its length.
        var start: Int64
        var length: Int64
        /// Which part it is, from 0, and of how many.
        var index: Int
        var count: Int
        /// Called with the part's URL as soon as the server has created it,
        /// before any of its bytes is sent.
        var created: @Sendable (URL) async throws -> Void
    }

    /// The parallel upload this uploader runs, if it runs one.
    let parallel: ParallelUpload?

    /// What a request sends for up to `count` bytes from `offset` of the
    /// upload (of the part, for a part).
    func body(at offset: Int64, count: Int) throws -> RequestBody {
        guard let part else { return try source.body(at: offset, count: count) }
        let count = Int(min(Int64(count), max(0, part.length - offset)))
        return try source.body(at: part.start + offset, count: count)
    }

    /// Whether what is uploaded can be resumed by a later run: false for a
    /// stream (standard input, a pipe), whose bytes cannot be read again.
    public var isResumable: Bool { source.isSeekable }

    init(
        client: TusClient, source: UploadSource, options: UploadOptions, metadataHeader: String?, fileCheck: String?,
        key: String?, resumed: Resumed?, part: Part? = nil, parallel: ParallelUpload? = nil
    ) {
        self.part = part
        self.client = client
        self.source = source
        self.options = options
        self.metadataHeader = metadataHeader
        self.fileCheck = fileCheck
        self.eventLoop = client.eventLoopGroup.next()
        self.key = key
        self.isResuming = resumed != nil || parallel?.isResuming == true
        self.parallel = parallel
        let ceiling = options.chunkSize ?? (source.isSeekable ? Int(Int32.max) : Self.streamCeiling)
        // A size the user chose is where requests start, too.
        state = UploadState(sizer: ChunkSizer(ceiling: ceiling, start: options.chunkSize ?? ChunkSizer.start))
        if let resumed {
            state.url = resumed.url
            state.offset = resumed.offset
            state.lengthDeferred = resumed.lengthDeferred
            state.dialect = resumed.dialect
            if let seconds = resumed.seconds { state.sizer.measuredRoundTrip(seconds) }
            if let most = resumed.maxAppendSize, most > 0 { state.sizer.limit(to: Int(clamping: most)) }
            if let fewest = resumed.minAppendSize, fewest > 0 { state.sizer.keepAtLeast(Int(clamping: fewest)) }
        } else {
            state.dialect = Self.dialect(for: options, client: client)
        }
    }

    /// The protocol a new upload speaks from its first request: what the
    /// options ask for, or in ``UploadProtocol/auto`` what this client
    /// learnt of the server (nil: the first answer decides).
    static func dialect(for options: UploadOptions, client: TusClient) -> Dialect? {
        let version = DraftInteropVersion(rawValue: options.draftInteropVersion) ?? .v6
        switch options.uploadProtocol {
        case .tus: return .tus
        case .ietfDraft: return .draft(version)
        case .auto:
            if let known = client.knownDraftVersion { return .draft(known) }
            if client.knowsSpeaksTus || client.knownCapabilities?.versions.contains(tusProtocolVersion) == true { return .tus }
            return nil
        }
    }

    /// Where a stored upload goes on.
    struct Resumed {
        var url: URL
        var offset: Int64
        var lengthDeferred: Bool
        /// How long the HEAD took.
        var seconds: Double?
        /// The protocol the upload was created with.
        var dialect: Dialect = .tus
        /// The draft's `Upload-Limit` `max-append-size` and
        /// `min-append-size`, when the HEAD gave them.
        var maxAppendSize: Int64?
        var minAppendSize: Int64?
    }

    static func make(client: TusClient, source: UploadSource, options: UploadOptions) async throws -> TusUploader {
        if let chunkSize = options.chunkSize, chunkSize <= 0 {
            throw TusError(.invalidArgument, "the chunk size must be at least 1 byte, not \(chunkSize)")
        }
        guard options.retryPolicy.retries >= 0 else {
            throw TusError(.invalidArgument, "the number of retries cannot be negative (\(options.retryPolicy.retries))")
        }
        guard options.parallelUploads >= 1 else {
            throw TusError(.invalidArgument, "the number of parallel uploads must be at least 1, not \(options.parallelUploads)")
        }
        guard DraftInteropVersion(rawValue: options.draftInteropVersion) != nil else {
            let spoken = DraftInteropVersion.allCases.map { String($0.rawValue) }.joined(separator: " or ")
            throw TusError(.invalidArgument, "the IETF draft's interop version must be \(spoken), not \(options.draftInteropVersion)")
        }
        if options.uploadProtocol == .ietfDraft, options.parallelUploads > 1 {
            throw TusError(.invalidArgument, "cannot upload in \(options.parallelUploads) parallel parts with the IETF draft: parts are joined by tus's concatenation extension, which the draft has no counterpart of; upload with tus, or in one part")
        }
        var options = options
        if let storage = options.storage, source.isSeekable {
            options.storage = OutageTolerantStore(
                storage, tolerates: !options.requiresStore, onEvent: options.onEvent, logger: client.logger,
                metrics: client.metrics, tracer: client.tracer)
        }
        var metadata = options.metadata
        var key: String?
        var resumed: Resumed?
        var fileCheck: String?
        if let storage = options.storage, source.isSeekable {
            key = try await source.fingerprint(options.fingerprint)
            fileCheck = try await FileCheck.value(of: source)
            metadata[FileCheck.metadataKey] = fileCheck
            if let key, let stored = try await storage.url(forKey: key) {
                resumed = try await resumePoint(client: client, storage: storage, key: key, stored: stored, size: source.size, fileCheck: fileCheck, options: options)
                // The URL of a whole upload: a parts entry beside it is
                // left from a run that stopped between storing the final
                // upload and removing its parts.
                try await ParallelUpload.removeLeftoverParts(of: key, in: storage)
            }
        }
        if resumed != nil { client.metrics.upload(.resumed) }
        let metadataHeader = try UploadMetadata.header(metadata)
        // In parts, unless the store holds the URL of a whole upload (an
        // earlier single upload, or the parts' final upload).
        if resumed == nil, let size = source.size, let parallel = try await ParallelUpload.plan(
            client: client, source: source, size: size, options: options, key: key, fileCheck: fileCheck) {
            return TusUploader(
                client: client, source: source, options: options, metadataHeader: metadataHeader, fileCheck: fileCheck,
                key: key, resumed: nil, parallel: parallel)
        }
        return TusUploader(
            client: client, source: source, options: options, metadataHeader: metadataHeader, fileCheck: fileCheck,
            key: key, resumed: resumed)
    }

    /// Asks the server about a stored URL: where to resume, or nil when the
    /// URL is not this upload's any more and was removed.
    private static func resumePoint(
        client: TusClient, storage: any Storage, key: String, stored: String, size: Int64?, fileCheck: String?,
        options: UploadOptions
    ) async throws -> Resumed? {
        func forget(_ reason: String) async throws -> Resumed? {
            client.logger.debug("forgetting the stored upload URL", metadata: ["url": "\(URL(string: stored)?.forMessages ?? "")", "reason": "\(reason)"])
            try await storage.removeURL(forKey: key)
            options.onEvent?(.storedUploadForgotten(url: URL(string: stored)?.forMessages ?? stored, reason: reason))
            return nil
        }
        if let version = StoredUploadURL.unspokenVersion(in: stored) {
            throw TusError(
                .unsupported,
                "cannot resume the upload at \(URL(string: stored)?.forMessages ?? stored): it was made with interop version \(version) of the IETF draft, which this client does not speak; the stored URL is kept")
        }
        guard let (url, dialect) = StoredUploadURL.parse(stored), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https" else {
            return try await forget("it is not an http(s) URL of an upload this client can resume")
        }
        var sent = SentRequest(kind: .resume, url: url, size: size, fileCheck: fileCheck)
        sent.speech = .only(dialect)
        var retries = RetryLoop(options: options, logger: client.logger, metrics: client.metrics)
        let attempt: Attempt
        do {
            attempt = try await client.perform(sent, headers: [], options: options, retries: &retries)
        } catch let error as TusError {
            let how = error.code == .authenticationFailed
                ? "the stored URL is kept, and a run with valid credentials resumes the upload"
                : "the stored URL is kept"
            // "HEAD URL: …" says the URL a second time.
            let what = error.message.hasPrefix(sent.label + ": ") ? String(error.message.dropFirst(sent.label.count + 2)) : error.message
            throw TusError(error.code, "cannot resume the upload at \(url.forMessages): \(what); \(how)", cause: error)
        }
        switch attempt.verdict {
        case .resumable(let offset, let lengthDeferred):
            var limit: UploadLimit?
            if let version = dialect.draftVersion, case .answer(let answer) = attempt.outcome {
                limit = answer.uploadLimit(version: version)
            }
            return Resumed(
                url: url, offset: offset, lengthDeferred: lengthDeferred, seconds: attempt.seconds, dialect: dialect,
                maxAppendSize: limit?.maxAppendSize, minAppendSize: limit?.minAppendSize)
        case .forget(let reason):
            return try await forget(reason)
        default:
            throw TusError(.protocolViolation, "cannot resume the upload at \(url.forMessages): HEAD gave no offset; the stored URL is kept")
        }
    }

    // MARK: Uploading

    /// Sends what the server does not have yet and returns the upload's URL.
    ///
    /// - Parameter progress: Called with the bytes the server has confirmed
    ///   (``UploadProgress/bytesUploaded``), once before the first request
    ///   and after each chunk, and, while a request's body goes out, with
    ///   the bytes sent (``UploadProgress/bytesSent``), at most every 50 ms. For a file it is
    ///   called on the thread that sends the chunks (an event loop of the
    ///   HTTP client): keep it short, and hand longer work to a task of your
    ///   own.
    /// - Throws: `TusError` when the upload cannot go on (retries
    ///   exhausted, the upload gone, refused credentials), `CancellationError`
    ///   when the task is cancelled. The upload stays resumable either way,
    ///   unless the server said it is gone or another file's.
    @discardableResult
    public func upload(progress: (@Sendable (UploadProgress) -> Void)? = nil) async throws -> URL {
        try lock.withLock {
            if isRunning { throw TusError(.invalidArgument, "the upload of \(source.name) is already running") }
            isRunning = true
        }
        defer { lock.withLock { isRunning = false } }

        return try await client.tracer.withSpan("tus.upload", ofKind: .client) { span in
            if let dialect = lock.withLock({ state.dialect }) { span.attributes["tus.protocol"] = dialect.name }
            if let size { span.attributes["tus.upload.size"] = size }
            if isResuming { span.attributes["tus.upload.resumed_from"] = offset }
            span.attributes["tus.upload.parts"] = parallel?.partCount ?? 1
            return try await UploadTracing.$uploadSpan.withValue(span) {
                try await upload(progress: progress, span: span)
            }
        }
    }

    /// ``upload(progress:)`` within its span.
    private func upload(progress: (@Sendable (UploadProgress) -> Void)?, span: any Span) async throws -> URL {
        progress?(UploadProgress(bytesUploaded: offset, totalBytes: size))
        do {
            try await sendAndFinish(progress: progress)
        } catch {
            // Keeps the URL of an unfinished upload once an unreachable
            // store is back.
            let settled = await settleStore()
            let resumable = key != nil && options.storage != nil && url != nil && settled
            let outcome: UploadMetrics.UploadOutcome = resumable ? .failedResumable : .failed
            client.metrics.upload(outcome)
            span.attributes["tus.upload.outcome"] = outcome.rawValue
            throw error
        }
        await settleStore()
        client.metrics.upload(.finished)
        span.attributes["tus.upload.outcome"] = UploadMetrics.UploadOutcome.finished.rawValue
        guard let finished = url else {
            throw TusError(.invalidArgument, "the upload of \(source.name) was terminated while it ran")
        }
        source.close()
        return finished
    }

    /// Sends the upload, then removes its stored URL unless it is kept.
    private func sendAndFinish(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        do {
            if source.isFile, #available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *) {
                // Each answer resumes the upload on the thread that read it,
                // which sends the next chunk (see EventLoopExecutor).
                try await withTaskExecutorPreference(EventLoopExecutor(eventLoop)) {
                    try await self.sendEverything(progress: progress)
                }
            } else {
                try await sendEverything(progress: progress)
            }
        } catch let error as TusError where error.code == .authenticationFailed && key != nil && options.storage != nil && url != nil {
            throw TusError(error.code, "\(error.message); the upload stays resumable: run again with valid credentials", cause: error)
        }
        if url != nil, let key, let storage = options.storage, !options.keepsURLAfterSuccess {
            try await storage.removeURL(forKey: key)
        }
    }

    /// Makes the changes an unreachable store missed (see
    /// ``OutageTolerantStore``), trying once.
    @discardableResult
    private func settleStore() async -> Bool {
        guard let store = options.storage as? OutageTolerantStore else { return true }
        return await store.settle()
    }

    /// Sends the upload in parts when it is planned so and the server can
    /// join them, else whole.
    private func sendEverything(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        if let parallel, let joined = try await parallel.run(self, progress: progress) {
            lock.withLock {
                state.url = joined
                state.offset = size ?? state.offset
            }
            return
        }
        try await sendAll(progress: progress)
    }

    func forgetStoredURL() async throws {
        if let key, let storage = options.storage {
            try await offLoop { try await storage.removeURL(forKey: key) }
        }
    }

    // MARK: Termination

    /// Deletes the upload on the server (the termination extension) and
    /// forgets its stored URL. An upload the server no longer has counts as
    /// deleted.
    ///
    /// - Throws: `TusError` when the server refuses, for example
    ///   because it does not support termination.
    public func terminate() async throws {
        let (url, running) = lock.withLock { (state.url, isRunning) }
        if running {
            throw TusError(.invalidArgument, "cannot terminate the upload of \(source.name) while it runs: cancel its task first")
        }
        guard let url else {
            throw TusError(.invalidArgument, "there is no upload of \(source.name) to terminate: it was never created")
        }
        try await client.terminateUpload(at: url, options: options, dialect: lock.withLock { state.dialect } ?? .tus)
        try await forgetStoredURL()
        await settleStore()
        lock.withLock {
            state.url = nil
            state.offset = 0
        }
    }
}
