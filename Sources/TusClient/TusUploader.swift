public import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TusCore

/// One upload: created on the server, or resumed from a URL kept in a
/// ``TusCore/Storage``, then sent chunk by chunk.
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
/// A network error, a 5xx, 423 or 429 answer is retried after a growing
/// delay, from the offset the server reports (HEAD); a 409 (offset mismatch)
/// resynchronises the same way; a 460 (checksum mismatch) sends the chunk
/// again. After ``UploadOptions/retries`` failures in a row the upload throws,
/// and can be resumed later. Cancelling the task that runs ``upload(progress:)``
/// stops it at once, and the upload stays resumable.
public final class TusUploader: @unchecked Sendable {
    private let client: TusClient
    private let source: UploadSource
    private let options: UploadOptions
    private let metadataHeader: String?
    /// The event loop that sends the chunks, one for the whole upload so
    /// that its requests share a connection.
    private let eventLoop: any EventLoop
    private var logger: Logger { client.logger }

    private let lock = NSLock()
    private var state = State()

    private struct State {
        var url: URL?
        var offset: Int64 = 0
        var expires: Date?
        var lengthDeferred = false
        var isRunning = false
        var capabilities: ServerCapabilities?
    }

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
    public var size: Int64? { source.size }

    private init(client: TusClient, source: UploadSource, options: UploadOptions, metadataHeader: String?, key: String?, resumed: (URL, Int64, Bool)?) {
        self.client = client
        self.source = source
        self.options = options
        self.metadataHeader = metadataHeader
        self.eventLoop = client.httpClient.eventLoopGroup.next()
        self.key = key
        self.isResuming = resumed != nil
        if let (url, offset, deferred) = resumed {
            state.url = url
            state.offset = offset
            state.lengthDeferred = deferred
        }
    }

    static func make(client: TusClient, source: UploadSource, options: UploadOptions) async throws -> TusUploader {
        guard options.chunkSize > 0 else {
            throw TusError(.invalidArgument, "the chunk size must be at least 1 byte, not \(options.chunkSize)")
        }
        guard options.retries >= 0 else {
            throw TusError(.invalidArgument, "the number of retries cannot be negative (\(options.retries))")
        }
        let metadataHeader = try UploadMetadata.header(options.metadata)
        var key: String?
        var resumed: (URL, Int64, Bool)?
        if let storage = options.storage, source.isSeekable {
            key = try source.fingerprint(options.fingerprint)
            if let key, let stored = try await storage.url(forKey: key) {
                resumed = try await resumePoint(client: client, storage: storage, key: key, stored: stored, size: source.size, options: options)
            }
        }
        return TusUploader(client: client, source: source, options: options, metadataHeader: metadataHeader, key: key, resumed: resumed)
    }

    /// Asks the server about a stored URL: where to resume, or nil when the
    /// URL is stale and was removed.
    private static func resumePoint(
        client: TusClient, storage: any Storage, key: String, stored: String, size: Int64?, options: UploadOptions
    ) async throws -> (URL, Int64, Bool)? {
        func forget(_ reason: String) async throws -> (URL, Int64, Bool)? {
            client.logger.debug("forgetting the stored upload URL", metadata: ["url": "\(stored)", "reason": "\(reason)"])
            try await storage.removeURL(forKey: key)
            return nil
        }
        guard let url = URL(string: stored), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return try await forget("it is not an http(s) URL")
        }
        let answer: Exchange
        do {
            answer = try await client.httpClient.exchange(
                .HEAD, url, headers: client.requestHeaders([], options: options), timeout: options.requestTimeout)
        } catch let error as TusError {
            throw TusError(error.code, "cannot resume the upload at \(stored): \(error.message); the stored URL is kept", cause: error)
        }
        switch answer.code {
        case 200..<300:
            let offset = try answer.offset("HEAD \(stored)")
            if let length = answer.length, let size, length != size {
                return try await forget("the server holds an upload of \(length) bytes, the file has \(size)")
            }
            if let size, offset > size {
                return try await forget("the server holds \(offset) bytes, more than the file's \(size)")
            }
            if let expires = answer.expires, expires <= Date() {
                return try await forget("the upload expired at \(expires)")
            }
            let deferred = answer.headers.first(name: "Upload-Defer-Length") == "1"
            return (url, offset, deferred)
        case 423:
            throw TusError(.unavailable, "cannot resume the upload at \(stored): it is locked by another client (423); the stored URL is kept")
        case 408, 429:
            throw TusError(.unavailable, "cannot resume the upload at \(stored): the server \(answer.statusDescription); the stored URL is kept")
        case 400..<500:
            return try await forget("HEAD \(answer.statusDescription)")
        case 500..<600:
            throw TusError(.unavailable, "cannot resume the upload at \(stored): the server \(answer.statusDescription); the stored URL is kept")
        default:
            throw TusError(.protocolViolation, "cannot resume the upload at \(stored): HEAD \(answer.statusDescription)")
        }
    }

    // MARK: Uploading

    /// A failure worth another try.
    private struct Retry: Error {
        var error: TusError
        /// Ask the server for its offset before going on.
        var resync: Bool
    }

    /// Sends what the server does not have yet and returns the upload's URL.
    ///
    /// - Parameter progress: Called with the bytes the server has confirmed,
    ///   once before the first request and after each chunk. For a file it is
    ///   called on the thread that sends the chunks (an event loop of the
    ///   HTTP client): keep it short, and hand longer work to a task of your
    ///   own.
    /// - Throws: ``TusCore/TusError`` when the upload cannot go on (retries
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

        progress?(UploadProgress(bytesUploaded: offset, totalBytes: source.size))
        if source.isFile, #available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *) {
            // Each answer resumes the upload on the thread that read it,
            // which sends the next chunk (see EventLoopExecutor).
            try await withTaskExecutorPreference(EventLoopExecutor(eventLoop)) {
                try await self.sendAll(progress: progress)
            }
        } else {
            try await sendAll(progress: progress)
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

    /// Creates the upload if needed and sends every chunk, retrying as the
    /// options say.
    private func sendAll(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        var failures = 0
        var needsResync = false
        while true {
            try Task.checkCancellation()
            do {
                if url == nil {
                    try await create(progress: progress)
                    failures = 0
                } else if needsResync {
                    try await resync()
                    needsResync = false
                } else if isComplete {
                    break
                } else {
                    let before = offset
                    try await sendChunk()
                    if offset > before { failures = 0 }
                    progress?(UploadProgress(bytesUploaded: offset, totalBytes: source.size))
                }
            } catch let retry as Retry {
                failures += 1
                needsResync = needsResync || retry.resync
                if failures > options.retries {
                    let tries = options.retries == 1 ? "1 retry" : "\(options.retries) retries"
                    throw TusError(retry.error.code, "\(retry.error.message) (gave up after \(tries))", cause: retry.error)
                }
                let delay = retryDelay(after: failures)
                logger.debug("retrying", metadata: ["error": "\(retry.error.message)", "delay": "\(delay)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Whether the server holds every byte and knows the length.
    private var isComplete: Bool {
        lock.withLock {
            guard let size = source.size, !state.lengthDeferred else { return false }
            return state.offset >= size
        }
    }

    private func retryDelay(after failures: Int) -> Duration {
        var delay = options.retryDelay
        for _ in 1..<max(failures, 1) {
            delay *= 2
            if delay >= options.maximumRetryDelay { return options.maximumRetryDelay }
        }
        return min(delay, options.maximumRetryDelay)
    }

    /// The server's capabilities, asked once per upload when needed.
    private func capabilities() async throws -> ServerCapabilities {
        if let known = lock.withLock({ state.capabilities }) { return known }
        let capabilities = try await client.capabilitiesOrAssumed(options: options)
        lock.withLock { state.capabilities = capabilities }
        if let algorithm = options.checksum, !capabilities.supports(algorithm) {
            logger.debug("the server does not announce \(algorithm.rawValue) checksums; sending none")
        }
        return capabilities
    }

    /// The checksum algorithm to use, if any.
    private func checksumAlgorithm() async throws -> ChecksumAlgorithm? {
        guard let algorithm = options.checksum else { return nil }
        return try await capabilities().supports(algorithm) ? algorithm : nil
    }

    /// The `Upload-Checksum` value for `chunk`, or nil when no checksum is
    /// sent. The chunk is read and hashed off the event loop.
    private func checksumHeader(of chunk: RequestBody) async throws -> String? {
        guard let algorithm = try await checksumAlgorithm() else { return nil }
        let source = source
        return try await offLoop { try source.checksum(algorithm, of: chunk) }
    }

    /// POSTs a new upload, with its first chunk when the server allows, and
    /// stores its URL.
    private func create(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        let endpoint = client.url.absoluteString
        // For a stream, the first chunk tells whether its length is known.
        if source.size == nil { _ = try source.read(at: 0, count: options.chunkSize) }
        let size = source.size
        var headers: [(String, String)] = []
        if let size {
            headers.append(("Upload-Length", String(size)))
        } else {
            headers.append(("Upload-Defer-Length", "1"))
        }
        if let metadataHeader { headers.append(("Upload-Metadata", metadataHeader)) }

        var body: RequestBody?
        if options.uploadsDuringCreation || options.checksum != nil {
            let capabilities = try await capabilities()
            if let maxSize = capabilities.maxSize, let size, size > maxSize {
                throw TusError(.invalidArgument, "cannot upload \(source.name) to \(endpoint): its \(size) bytes are more than the server's limit of \(maxSize)")
            }
            if options.uploadsDuringCreation, capabilities.supports("creation-with-upload"), size != 0 {
                let chunk = try source.body(at: 0, count: options.chunkSize)
                headers.append(("Content-Type", "application/offset+octet-stream"))
                if let checksum = try await checksumHeader(of: chunk) {
                    headers.append(("Upload-Checksum", checksum))
                }
                body = chunk
            }
        }

        let answer: Exchange
        do {
            answer = try await client.httpClient.exchange(
                .POST, client.url, headers: client.requestHeaders(headers, options: options), body: body,
                on: eventLoop, timeout: options.requestTimeout)
        } catch let error as TusError {
            throw Retry(error: TusError(error.code, "cannot create an upload at \(endpoint): \(error.message)", cause: error), resync: false)
        }
        switch answer.code {
        case 200..<300:
            guard let location = answer.headers.first(name: "Location"),
                  let url = URL(string: location, relativeTo: client.url)?.absoluteURL
            else {
                throw TusError(.protocolViolation, "POST \(endpoint) answered \(answer.code) with no usable Location header")
            }
            var offset = body == nil ? 0 : ((try? answer.offset("POST \(endpoint)")) ?? 0)
            if offset > Int64(body?.count ?? 0) {
                // More than was sent: not to be believed; ask before going on.
                offset = 0
            }
            lock.withLock {
                state.url = url
                state.offset = offset
                state.expires = answer.expires
                state.lengthDeferred = size == nil
            }
            logger.debug("created", metadata: ["url": "\(url.absoluteString)"])
            if let key, let storage = options.storage {
                try await offLoop { try await storage.setURL(url.absoluteString, forKey: key) }
            }
            if offset > 0 { progress?(UploadProgress(bytesUploaded: offset, totalBytes: size)) }
        case 413:
            throw TusError(.invalidArgument, "cannot upload \(source.name) to \(endpoint): the server \(answer.statusDescription) (too large)")
        case 412:
            throw TusError(.unsupported, "POST \(endpoint): the server does not speak tus \(tusVersion) (412; it speaks \(answer.headers.first(name: "Tus-Version") ?? "an unknown version"))")
        case 423, 429, 460, 500..<600:
            throw Retry(error: TusError(.unavailable, "POST \(endpoint) \(answer.statusDescription)"), resync: false)
        default:
            throw TusError(.unavailable, "cannot create an upload at \(endpoint): POST \(answer.statusDescription)")
        }
    }

    /// PATCHes the next chunk.
    private func sendChunk() async throws {
        let (url, offset, expires, lengthDeferred) = lock.withLock { (state.url!, state.offset, state.expires, state.lengthDeferred) }
        let label = "PATCH \(url.absoluteString)"
        if let expires, expires <= Date() {
            try await forgetStoredURL()
            throw TusError(.notFound, "the upload at \(url.absoluteString) expired at \(expires); start it again")
        }
        let chunk = try source.body(at: offset, count: options.chunkSize)
        if let size = source.size, !lengthDeferred, Int64(chunk.count) < min(Int64(options.chunkSize), size - offset) {
            throw TusError(.io, "\(source.name) changed while uploading: it has fewer than its \(size) bytes now")
        }
        var headers: [(String, String)] = [
            ("Upload-Offset", String(offset)),
            ("Content-Type", "application/offset+octet-stream"),
        ]
        let tellsLength = lengthDeferred && source.size != nil
        if tellsLength, let size = source.size { headers.append(("Upload-Length", String(size))) }
        if let checksum = try await checksumHeader(of: chunk) {
            headers.append(("Upload-Checksum", checksum))
        }
        let answer: Exchange
        do {
            answer = try await client.httpClient.exchange(
                .PATCH, url, headers: client.requestHeaders(headers, options: options), body: chunk,
                on: eventLoop, timeout: options.requestTimeout)
        } catch let error as TusError {
            throw Retry(error: TusError(error.code, "\(label): \(error.message)", cause: error), resync: true)
        }
        switch answer.code {
        case 200..<300:
            let newOffset = try answer.offset(label)
            if newOffset == offset && chunk.count > 0 {
                throw Retry(error: TusError(.protocolViolation, "\(label): the server took none of the \(chunk.count) bytes sent at \(offset)"), resync: true)
            }
            guard newOffset >= offset, newOffset <= offset + Int64(chunk.count) else {
                throw Retry(error: TusError(.protocolViolation, "\(label): the server answered offset \(newOffset) after \(chunk.count) bytes sent at \(offset)"), resync: true)
            }
            lock.withLock {
                state.offset = newOffset
                if let expires = answer.expires { state.expires = expires }
                if tellsLength { state.lengthDeferred = false }
            }
        case 409:
            throw Retry(error: TusError(.protocolViolation, "\(label): the server's offset is not \(offset) (409)"), resync: true)
        case 460:
            throw Retry(error: TusError(.protocolViolation, "\(label): the server found the chunk's checksum wrong (460)"), resync: false)
        case 404, 410, 403:
            try await forgetStoredURL()
            throw TusError(.notFound, "the upload at \(url.absoluteString) is gone: \(label) \(answer.statusDescription)")
        case 412:
            throw TusError(.unsupported, "\(label): the server does not speak tus \(tusVersion) (412)")
        case 423, 429, 500..<600:
            throw Retry(error: TusError(.unavailable, "\(label) \(answer.statusDescription)"), resync: true)
        default:
            throw TusError(.unavailable, "\(label) \(answer.statusDescription)")
        }
    }

    /// Asks the server (HEAD) how many bytes it holds.
    private func resync() async throws {
        let url = lock.withLock { state.url! }
        let label = "HEAD \(url.absoluteString)"
        let answer: Exchange
        do {
            answer = try await client.httpClient.exchange(
                .HEAD, url, headers: client.requestHeaders([], options: options), timeout: options.requestTimeout)
        } catch let error as TusError {
            throw Retry(error: TusError(error.code, "\(label): \(error.message)", cause: error), resync: true)
        }
        switch answer.code {
        case 200..<300:
            let offset = try answer.offset(label)
            if let size = source.size, offset > size {
                throw TusError(.protocolViolation, "\(label): the server claims \(offset) bytes of \(source.name), which has \(size)")
            }
            lock.withLock {
                state.offset = offset
                if let expires = answer.expires { state.expires = expires }
            }
        case 404, 410, 403:
            try await forgetStoredURL()
            throw TusError(.notFound, "the upload at \(url.absoluteString) is gone: \(label) \(answer.statusDescription)")
        case 423, 429, 500..<600:
            throw Retry(error: TusError(.unavailable, "\(label) \(answer.statusDescription)"), resync: true)
        default:
            throw TusError(.protocolViolation, "\(label) \(answer.statusDescription)")
        }
    }

    private func forgetStoredURL() async throws {
        if let key, let storage = options.storage {
            try await offLoop { try await storage.removeURL(forKey: key) }
        }
    }

    // MARK: Termination

    /// Deletes the upload on the server (the termination extension) and
    /// forgets its stored URL. An upload the server no longer has counts as
    /// deleted.
    ///
    /// - Throws: ``TusCore/TusError`` when the server refuses, for example
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
