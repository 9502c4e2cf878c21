import Foundation
import NIOCore
import NIOHTTP1
import TusCore
import TusProtocol

/// The request loop: create the upload if needed, then PATCH chunk after
/// chunk, resynchronising and retrying as ``UploadOptions/retryPolicy``
/// says, and sizing each request with the ``ChunkSizer``.
extension TusUploader {
    /// A failure worth another try, if the retry policy agrees.
    struct Retry: Error {
        var error: TusError
        /// Ask the server for its offset before going on.
        var resync: Bool
        var method: String
        var statusCode: Int?
    }

    /// A request refused as too large: the next one is smaller already, and
    /// this counts as no failure.
    struct SendSmaller: Error {}

    /// Creates the upload if needed and sends every chunk.
    func sendAll(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        do {
            try await sendEveryChunk(progress: progress)
        } catch {
            await stopAskingAlongside()
            throw error
        }
        await stopAskingAlongside()
    }

    private func sendEveryChunk(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        var failures = 0
        var needsResync = false
        while true {
            try Task.checkCancellation()
            do {
                let before = offset
                if url == nil {
                    try await create(progress: progress)
                    failures = 0
                } else if needsResync {
                    try await resync()
                    needsResync = false
                } else if isComplete {
                    break
                } else {
                    try await sendChunk()
                    progress?(UploadProgress(bytesUploaded: offset, totalBytes: size))
                }
                if offset > before { failures = 0 }
            } catch is SendSmaller {
                continue
            } catch let retry as Retry {
                failures += 1
                needsResync = needsResync || retry.resync
                let policy = options.retryPolicy
                let failure = RequestFailure(method: retry.method, statusCode: retry.statusCode, error: retry.error, attempt: failures)
                guard policy.shouldRetry(failure) else { throw retry.error }
                if failures > policy.retries {
                    if policy.retries == 0 { throw retry.error }
                    let tries = policy.retries == 1 ? "1 retry" : "\(policy.retries) retries"
                    throw TusError(retry.error.code, "\(retry.error.message) (gave up after \(tries))", cause: retry.error)
                }
                let delay = policy.delay(beforeRetry: failures)
                logger.debug("retrying", metadata: ["error": "\(retry.error.message)", "delay": "\(delay)"])
                options.onEvent?(.retrying(failure, delay: delay))
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Whether the server holds every byte and knows the length.
    private var isComplete: Bool {
        lock.withLock {
            guard let size, !state.lengthDeferred else { return false }
            return state.offset >= size
        }
    }

    /// The server's capabilities, asked once per upload when needed.
    func capabilities() async throws -> ServerCapabilities {
        if let known = lock.withLock({ state.capabilities }) { return known }
        let (capabilities, seconds) = try await client.capabilitiesOrAssumed(options: options)
        lock.withLock {
            state.capabilities = capabilities
            if let seconds { state.sizer.measuredRoundTrip(seconds) }
        }
        if let algorithm = options.checksum, !capabilities.supports(algorithm) {
            logger.debug("the server does not announce \(algorithm.rawValue) checksums; sending none")
        }
        return capabilities
    }

    /// Sends OPTIONS alongside a POST that carries bytes without asking:
    /// no request waits for it, and its answer times a round trip for the
    /// ``ChunkSizer`` and tells the server's limits.
    private func askAlongside() {
        let task = Task { _ = try? await self.capabilities() }
        lock.withLock { state.askingAlongside = task }
    }

    /// The capabilities, once the OPTIONS sent alongside has its answer.
    private func capabilitiesAfterAskingAlongside() async throws -> ServerCapabilities {
        await lock.withLock { state.askingAlongside }?.value
        return try await capabilities()
    }

    /// Ends the OPTIONS sent alongside, answered or not: the upload no
    /// longer needs it.
    private func stopAskingAlongside() async {
        guard let task = lock.withLock({ state.askingAlongside }) else { return }
        task.cancel()
        await task.value
        lock.withLock { state.askingAlongside = nil }
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

    /// Sends a request of the upload; a request without an answer becomes a
    /// ``Retry`` (after halving the next request when it failed part-way).
    private func send(
        _ method: HTTPMethod, _ url: URL, headers: [(String, String)], body: RequestBody?, what label: String
    ) async throws -> TimedExchange {
        do {
            let timed = try await client.send(method, url, headers: headers, body: body, options: options, on: eventLoop)
            if body == nil || body?.count == 0 {
                lock.withLock { state.sizer.measuredRoundTrip(timed.seconds) }
            }
            return timed
        } catch let failure as TransportFailure {
            if let body, failure.bytesSent > 0 || failure.stalled {
                shrink(after: body.count, reason: .interrupted)
            }
            // "cannot connect to HOST:PORT: …" says it all; a failure in the
            // middle of a request says which request.
            let error = failure.bytesSent == 0 && failure.error.message.hasPrefix("cannot connect")
                ? failure.error
                : TusError(failure.error.code, "\(label): \(failure.error.message)", cause: failure.error)
            throw Retry(error: error, resync: method != .POST, method: method.rawValue, statusCode: nil)
        } catch let error as TusError where error.code == .timeout {
            if let body { shrink(after: body.count, reason: .interrupted) }
            throw Retry(error: error, resync: method != .POST, method: method.rawValue, statusCode: nil)
        }
    }

    /// Makes later requests smaller than `bytes`, and says so.
    private func shrink(after bytes: Int, reason: UploadEvent.ChunkSizeReason) {
        let (before, after) = lock.withLock { () -> (Int, Int) in
            let before = state.sizer.size
            state.sizer.interrupted(bytes: bytes)
            return (before, state.sizer.size)
        }
        if after < before { options.onEvent?(.chunkSizeReduced(from: before, to: after, reason: reason)) }
    }

    /// Halves the size after a 413 to a request of `bytes`; false when it
    /// cannot shrink.
    private func shrinkAfterRefusal(of bytes: Int) -> Bool {
        let (shrunk, before, after) = lock.withLock { () -> (Bool, Int, Int) in
            let before = state.sizer.size
            let shrunk = state.sizer.refusedAsTooLarge(bytes: bytes)
            return (shrunk, before, state.sizer.size)
        }
        if shrunk { options.onEvent?(.chunkSizeReduced(from: max(before, bytes), to: after, reason: .bodyTooLarge)) }
        return shrunk
    }

    /// POSTs a new upload, with its first chunk when the server allows, and
    /// stores its URL.
    func create(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        let endpoint = client.url.absoluteString
        let chunkSize = self.chunkSize
        // For a stream, the first chunk tells whether its length is known.
        if source.size == nil { _ = try source.read(at: 0, count: chunkSize) }
        let size = self.size
        var headers: [(String, String)] = []
        if part != nil { headers.append(("Upload-Concat", "partial")) }
        if let size {
            headers.append(("Upload-Length", String(size)))
        } else {
            headers.append(("Upload-Defer-Length", "1"))
        }
        if let metadataHeader { headers.append(("Upload-Metadata", metadataHeader)) }

        var body: RequestBody?
        // Without a checksum to agree on, and with nothing known of the
        // server yet, the first chunk goes with the POST unasked: a server
        // with creation-with-upload takes it, one without ignores it (its
        // answer has no Upload-Offset), and the OPTIONS round trip is saved.
        let withBody = lock.withLock { !state.createsWithoutBody } && !client.ignoresBytesWithCreation
        let known = lock.withLock { state.capabilities } ?? client.knownCapabilities
        let unasked = options.uploadsDuringCreation && options.checksum == nil && known == nil && withBody && size != 0
        if unasked {
            body = try self.body(at: 0, count: chunkSize)
            headers.append(("Content-Type", "application/offset+octet-stream"))
            if lock.withLock({ state.askingAlongside == nil }) { askAlongside() }
        } else if (options.uploadsDuringCreation && withBody) || options.checksum != nil {
            let capabilities = try await capabilities()
            try refuseIfLargerThanAllowed(by: capabilities)
            if options.uploadsDuringCreation, withBody, capabilities.supports("creation-with-upload"), size != 0 {
                let chunk = try self.body(at: 0, count: chunkSize)
                headers.append(("Content-Type", "application/offset+octet-stream"))
                if let checksum = try await checksumHeader(of: chunk) {
                    headers.append(("Upload-Checksum", checksum))
                }
                body = chunk
            }
        }

        let timed = try await send(.POST, client.url, headers: headers, body: body, what: "cannot create an upload at \(endpoint)")
        let answer = timed.exchange
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
            if unasked, answer.headers.first(name: TusHeaderName.uploadOffset) == nil {
                // The server ignored the bytes: they go again with PATCH, and
                // later uploads of this client send none with POST.
                logger.debug("the server took no bytes with POST (no Upload-Offset); sending them with PATCH")
                client.rememberIgnoresBytesWithCreation()
                lock.withLock { state.createsWithoutBody = true }
            }
            lock.withLock {
                state.url = url
                state.offset = offset
                state.expires = answer.expires
                state.lengthDeferred = size == nil
                if let body, offset == Int64(body.count) { state.sizer.succeeded(bytes: body.count, seconds: timed.seconds) }
            }
            logger.debug("created", metadata: ["url": "\(url.absoluteString)"])
            if let key, let storage = options.storage {
                try await offLoop { try await storage.setURL(url.absoluteString, forKey: key) }
            }
            if let part { try await offLoop { try await part.created(url) } }
            if offset > 0 { progress?(UploadProgress(bytesUploaded: offset, totalBytes: size)) }
        case 413 where body != nil:
            // The server's size limit, which only OPTIONS tells, or a
            // proxy's body limit: send less, down to no body at all.
            if unasked { try refuseIfLargerThanAllowed(by: try await capabilitiesAfterAskingAlongside()) }
            if !shrinkAfterRefusal(of: body!.count) {
                lock.withLock { state.createsWithoutBody = true }
            }
            throw SendSmaller()
        case 413:
            throw TusError(.invalidArgument, "cannot upload \(name) to \(endpoint): the server \(answer.statusDescription) (too large)")
        case 400 where unasked, 415 where unasked:
            // A server that refuses a body with POST: create without one.
            logger.debug("the server refused bytes with POST (\(answer.code)); creating without them")
            client.rememberIgnoresBytesWithCreation()
            lock.withLock { state.createsWithoutBody = true }
            throw SendSmaller()
        case 412:
            throw TusError(.unsupported, "POST \(endpoint): the server does not speak tus \(tusProtocolVersion) (412; it speaks \(answer.headers.first(name: "Tus-Version") ?? "an unknown version"))")
        default:
            throw Retry(error: TusError(.unavailable, "cannot create an upload at \(endpoint): POST \(answer.statusDescription)"),
                        resync: false, method: "POST", statusCode: answer.code)
        }
    }

    /// Refuses a file larger than the server's announced limit, in words.
    private func refuseIfLargerThanAllowed(by capabilities: ServerCapabilities) throws {
        if let maxSize = capabilities.maxSize, let size, size > maxSize {
            throw TusError(.invalidArgument, "cannot upload \(name) to \(client.url.absoluteString): its \(size) bytes are more than the server's limit of \(maxSize)")
        }
    }

    /// PATCHes the next chunk.
    private func sendChunk() async throws {
        let (url, offset, expires, lengthDeferred, chunkSize) = lock.withLock {
            (state.url!, state.offset, state.expires, state.lengthDeferred, state.sizer.size)
        }
        let label = "PATCH \(url.absoluteString)"
        if let expires, expires <= Date() {
            try await forgetStoredURL()
            throw TusError(.notFound, "the upload at \(url.absoluteString) expired at \(expires); start it again")
        }
        let chunk = try body(at: offset, count: chunkSize)
        if let size, !lengthDeferred, Int64(chunk.count) < min(Int64(chunkSize), size - offset) {
            throw TusError(.io, "\(source.name) changed while uploading: it has fewer than its \(size) bytes now")
        }
        var headers: [(String, String)] = [
            ("Upload-Offset", String(offset)),
            ("Content-Type", "application/offset+octet-stream"),
        ]
        let tellsLength = lengthDeferred && size != nil
        if tellsLength, let size { headers.append(("Upload-Length", String(size))) }
        if let checksum = try await checksumHeader(of: chunk) {
            headers.append(("Upload-Checksum", checksum))
        }
        let timed = try await send(.PATCH, url, headers: headers, body: chunk, what: label)
        let answer = timed.exchange
        switch answer.code {
        case 200..<300:
            let newOffset = try answer.offset(label)
            if newOffset == offset && chunk.count > 0 {
                throw Retry(error: TusError(.protocolViolation, "\(label): the server took none of the \(chunk.count) bytes sent at \(offset)"),
                            resync: true, method: "PATCH", statusCode: answer.code)
            }
            guard newOffset >= offset, newOffset <= offset + Int64(chunk.count) else {
                throw Retry(error: TusError(.protocolViolation, "\(label): the server answered offset \(newOffset) after \(chunk.count) bytes sent at \(offset)"),
                            resync: true, method: "PATCH", statusCode: answer.code)
            }
            lock.withLock {
                state.offset = newOffset
                if let expires = answer.expires { state.expires = expires }
                if tellsLength { state.lengthDeferred = false }
                if newOffset == offset + Int64(chunk.count) { state.sizer.succeeded(bytes: chunk.count, seconds: timed.seconds) }
            }
        case 409:
            throw Retry(error: TusError(.protocolViolation, "\(label): the server's offset is not \(offset) (409)"),
                        resync: true, method: "PATCH", statusCode: 409)
        case 460:
            throw Retry(error: TusError(.protocolViolation, "\(label): the server found the chunk's checksum wrong (460)"),
                        resync: false, method: "PATCH", statusCode: 460)
        case 413:
            guard shrinkAfterRefusal(of: chunk.count) else {
                throw TusError(.invalidArgument, "\(label): the server, or a proxy in front of it, refuses even \(chunk.count) bytes in one request (413); raise its body limit (for nginx, client_max_body_size)")
            }
            throw SendSmaller()
        case 404, 410, 403:
            try await forgetStoredURL()
            throw TusError(.notFound, "the upload at \(url.absoluteString) is gone: \(label) \(answer.statusDescription)")
        case 412:
            throw TusError(.unsupported, "\(label): the server does not speak tus \(tusProtocolVersion) (412)")
        default:
            throw Retry(error: TusError(.unavailable, "\(label) \(answer.statusDescription)"),
                        resync: true, method: "PATCH", statusCode: answer.code)
        }
    }

    /// Asks the server (HEAD) how many bytes it holds.
    private func resync() async throws {
        let url = lock.withLock { state.url! }
        let label = "HEAD \(url.absoluteString)"
        let answer = try await send(.HEAD, url, headers: [], body: nil, what: label).exchange
        switch answer.code {
        case 200..<300:
            let offset = try answer.offset(label)
            if let size, offset > size {
                throw TusError(.protocolViolation, "\(label): the server claims \(offset) bytes of \(name), which has \(size)")
            }
            lock.withLock {
                state.offset = offset
                if let expires = answer.expires { state.expires = expires }
            }
        case 404, 410, 403:
            try await forgetStoredURL()
            throw TusError(.notFound, "the upload at \(url.absoluteString) is gone: \(label) \(answer.statusDescription)")
        default:
            throw Retry(error: TusError(.unavailable, "\(label) \(answer.statusDescription)"),
                        resync: true, method: "HEAD", statusCode: answer.code)
        }
    }
}
