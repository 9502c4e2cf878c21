public import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TusCore

/// One upload: created on the server, or resumed from a URL kept in a
/// `Storage`, then sent chunk by chunk.
///
/// Make one with ``TusClient/uploader(forFileAtPath:options:)`` (or the
/// `FileHandle` and `Data` forms), then call ``upload(progress:)``.
///
/// ## Resuming
/// With ``UploadOptions/storage`` set, making the uploader looks up the URL
/// stored under the file's fingerprint and sends HEAD to it:
/// - a 2xx answer gives the server's offset, and the upload resumes there
///   (``isResuming`` is true, ``offset`` says from where);
/// - a 4xx answer other than 408, 423 and 429 means the upload is gone: the
///   stored URL is removed and a new upload will be created;
/// - an `Upload-Length` other than the file's size, an offset past it, or an
///   `Upload-Expires` in the past make the stored URL stale: it is removed
///   and a new upload will be created;
/// - a 408, 423 or 429, a 5xx or a network error is thrown, and the stored
///   URL is kept for a later try.
///
/// The URL of a new upload is stored as soon as the server has created it,
/// and removed once the upload has finished, unless
/// ``UploadOptions/keepsURLAfterSuccess`` is set.
///
/// ## Failures during the upload
/// A network error, a stalled request (``UploadOptions/stallTimeout``), a
/// 5xx, 423 or 429 answer is retried after a growing delay, from the offset
/// the server reports (HEAD); a 409 (offset mismatch) resynchronises the
/// same way; a 460 (checksum mismatch) sends the chunk again; a 413 sends
/// half as many bytes. ``UploadOptions/retryPolicy`` says how often and
/// how soon, and may decide otherwise. After that many failures in a row the
/// upload throws, and can be resumed later. Cancelling the task that runs
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
    /// The event loop that sends the chunks, one for the whole upload so
    /// that its requests share a connection.
    let eventLoop: any EventLoop
    var logger: Logger { client.logger }

    let lock = NSLock()
    var state: State

    struct State {
        var url: URL?
        var offset: Int64 = 0
        var expires: Date?
        var lengthDeferred = false
        var isRunning = false
        var capabilities: ServerCapabilities?
        var sizer: ChunkSizer
        /// A proxy refused even the smallest body in a POST, or the server
        /// ignored or refused bytes sent with it: create without any.
        var createsWithoutBody = false
        /// The OPTIONS sent alongside a POST that carries bytes unasked.
        var askingAlongside: Task<Void, Never>?
    }

    /// The most bytes of a stream one request carries, when the options
    /// set no ceiling: they are kept in memory until the server has them.
    static let streamCeiling = 16 << 20

    /// The key the upload URL is stored under, or `nil` without a store (or
    /// for a stream, which cannot be resumed).
    public let key: String?

    /// Whether a stored upload URL was found, still valid, and is where the
    /// upload goes on.
    public let isResuming: Bool

    /// The upload's URL on the server, once created or resumed.
    public var url: URL? { lock.withLock { state.url } }

    /// How many bytes the server holds: where the next chunk starts. Before
    /// ``upload(progress:)``, it is where a resumed upload goes on.
    public var offset: Int64 { lock.withLock { state.offset } }

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
    var parallel: ParallelUpload?

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

    /// The most bytes the next request carries.
    var chunkSize: Int { lock.withLock { state.sizer.size } }

    init(
        client: TusClient, source: UploadSource, options: UploadOptions, metadataHeader: String?, key: String?, resumed: Resumed?,
        part: Part? = nil, resumesParts: Bool = false
    ) {
        self.part = part
        self.client = client
        self.source = source
        self.options = options
        self.metadataHeader = metadataHeader
        self.eventLoop = client.eventLoopGroup.next()
        self.key = key
        self.isResuming = resumed != nil || resumesParts
        let ceiling = options.chunkSize ?? (source.isSeekable ? Int(Int32.max) : Self.streamCeiling)
        self.parallel = nil
        // A size the user chose is where requests start, too.
        state = State(sizer: ChunkSizer(ceiling: ceiling, start: options.chunkSize ?? ChunkSizer.start))
        if let resumed {
            state.url = resumed.url
            state.offset = resumed.offset
            state.lengthDeferred = resumed.lengthDeferred
            if let seconds = resumed.seconds { state.sizer.measuredRoundTrip(seconds) }
        }
    }

    /// Where a stored upload goes on.
    struct Resumed {
        var url: URL
        var offset: Int64
        var lengthDeferred: Bool
        /// How long the HEAD took.
        var seconds: Double?
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
        let metadataHeader = try UploadMetadata.header(options.metadata)
        var key: String?
        var resumed: Resumed?
        if let storage = options.storage, source.isSeekable {
            key = try await source.fingerprint(options.fingerprint)
            if let key, let stored = try await storage.url(forKey: key) {
                resumed = try await resumePoint(client: client, storage: storage, key: key, stored: stored, size: source.size, options: options)
            }
        }
        // In parts, unless the store holds the URL of a whole upload (an
        // earlier single upload, or the parts' final upload).
        if resumed == nil, let size = source.size, let parallel = try await ParallelUpload.plan(
            client: client, source: source, size: size, options: options, key: key) {
            let uploader = TusUploader(
                client: client, source: source, options: options, metadataHeader: metadataHeader, key: key, resumed: nil,
                resumesParts: parallel.isResuming)
            uploader.parallel = parallel
            uploader.lock.withLock { uploader.state.offset = parallel.confirmed }
            return uploader
        }
        return TusUploader(client: client, source: source, options: options, metadataHeader: metadataHeader, key: key, resumed: resumed)
    }

    /// Asks the server about a stored URL: where to resume, or nil when the
    /// URL is stale and was removed.
    private static func resumePoint(
        client: TusClient, storage: any Storage, key: String, stored: String, size: Int64?, options: UploadOptions
    ) async throws -> Resumed? {
        func forget(_ reason: String) async throws -> Resumed? {
            client.logger.debug("forgetting the stored upload URL", metadata: ["url": "\(stored)", "reason": "\(reason)"])
            try await storage.removeURL(forKey: key)
            return nil
        }
        guard let url = URL(string: stored), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return try await forget("it is not an http(s) URL")
        }
        let timed: TimedExchange
        do {
            timed = try await client.send(.HEAD, url, headers: [], options: options)
        } catch let failure as TransportFailure {
            throw TusError(failure.error.code, "cannot resume the upload at \(stored): \(failure.error.message); the stored URL is kept", cause: failure.error)
        } catch let error as TusError {
            throw TusError(error.code, "cannot resume the upload at \(stored): \(error.message); the stored URL is kept", cause: error)
        }
        switch try ResumeDecision.decide(timed.exchange, stored: stored, size: size) {
        case .resume(let offset, let lengthDeferred):
            return Resumed(url: url, offset: offset, lengthDeferred: lengthDeferred, seconds: timed.seconds)
        case .forget(let reason):
            return try await forget(reason)
        case .keep(let code, let message):
            throw TusError(code, message)
        }
    }

    // MARK: Uploading

    /// Sends what the server does not have yet and returns the upload's URL.
    ///
    /// - Parameter progress: Called with the bytes the server has confirmed,
    ///   once before the first request and after each chunk. For a file it is
    ///   called on the thread that sends the chunks (an event loop of the
    ///   HTTP client): keep it short, and hand longer work to a task of your
    ///   own.
    /// - Throws: `TusError` when the upload cannot go on (retries
    ///   exhausted, the upload gone, a refused request), `CancellationError`
    ///   when the task is cancelled. The upload stays resumable either way,
    ///   unless the server said it is gone.
    @discardableResult
    public func upload(progress: (@Sendable (UploadProgress) -> Void)? = nil) async throws -> URL {
        try lock.withLock {
            if state.isRunning { throw TusError(.invalidArgument, "the upload of \(source.name) is already running") }
            state.isRunning = true
        }
        defer { lock.withLock { state.isRunning = false } }

        progress?(UploadProgress(bytesUploaded: offset, totalBytes: size))
        if source.isFile, #available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *) {
            // Each answer resumes the upload on the thread that read it,
            // which sends the next chunk (see EventLoopExecutor).
            try await withTaskExecutorPreference(EventLoopExecutor(eventLoop)) {
                try await self.sendEverything(progress: progress)
            }
        } else {
            try await sendEverything(progress: progress)
        }
        guard let finished = url else {
            throw TusError(.invalidArgument, "the upload of \(source.name) was terminated while it ran")
        }
        if let key, let storage = options.storage, !options.keepsURLAfterSuccess {
            try await storage.removeURL(forKey: key)
        }
        source.close()
        return finished
    }

    /// Sends the upload in parts when it is planned so and the server can
    /// join them, else whole.
    private func sendEverything(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        if let parallel, try await parallel.run(self, progress: progress) { return }
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
        let (url, running) = lock.withLock { (state.url, state.isRunning) }
        if running {
            throw TusError(.invalidArgument, "cannot terminate the upload of \(source.name) while it runs: cancel its task first")
        }
        guard let url else {
            throw TusError(.invalidArgument, "there is no upload of \(source.name) to terminate: it was never created")
        }
        try await client.terminateUpload(at: url, options: options)
        try await forgetStoredURL()
        lock.withLock {
            state.url = nil
            state.offset = 0
        }
    }
}
