import Foundation
import NIOCore
import Logging
import NIOHTTP1
import TusCore
import TusProtocol

/// The loop that carries an upload's state machine out: it asks
/// ``UploadState`` for the next step, sends that request, has the
/// ``RetryLoop`` carry out failures, and feeds every other verdict back to
/// the state, then does what the state says (store the URL, report
/// progress, forget the URL).
extension TusUploader {
    /// Creates the upload if needed and sends every byte.
    func sendAll(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        do {
            try await run(progress: progress)
        } catch {
            await stopAskingAlongside()
            throw error
        }
        await stopAskingAlongside()
    }

    private func run(progress: (@Sendable (UploadProgress) -> Void)?) async throws {
        var retries = RetryLoop(options: options, logger: logger, metrics: client.metrics)
        while true {
            try Task.checkCancellation()
            let step = lock.withLock { state.nextStep(size: size) }
            let attempt: Attempt
            switch step {
            case .finished:
                return
            case .create:
                attempt = try await create(afterAbandoned: retries.afterAbandoned, onBodySent: bodyProgress(from: 0, progress))
            case .append:
                let start = lock.withLock { state.offset }
                attempt = try await append(afterAbandoned: retries.afterAbandoned, onBodySent: bodyProgress(from: start, progress))
            case .askOffset:
                let (url, dialect) = lock.withLock { (state.url!, state.dialect ?? .tus) }
                var sent = SentRequest(kind: .offset, url: url, size: size, afterAbandoned: retries.afterAbandoned)
                sent.speech = .only(dialect)
                attempt = try await client.attempt(sent, headers: [], options: options, on: eventLoop)
            }
            if case .answer = attempt.outcome, attempt.sent.bodyCount == 0, let seconds = attempt.seconds {
                // A request without a body times a round trip.
                lock.withLock { state.sizer.measuredRoundTrip(seconds) }
            }
            let effects: [UploadState.Effect]
            switch try await retries.handle(attempt.verdict, of: attempt.sent, outcome: attempt.outcome) {
            case .again(let resync):
                effects = lock.withLock { state.willRetry(after: attempt, resync: resync) }
            case .act:
                effects = lock.withLock { state.apply(attempt) }
            }
            for effect in effects {
                try await carryOut(effect, retries: &retries, progress: progress)
            }
        }
    }

    /// Reports the bytes of a request's body as they go out, the request
    /// starting at `start`: ``UploadProgress/bytesSent`` moves while
    /// ``UploadProgress/bytesUploaded`` waits for the answer.
    private func bodyProgress(
        from start: Int64, _ progress: (@Sendable (UploadProgress) -> Void)?
    ) -> (@Sendable (Int) -> Void)? {
        guard let progress else { return nil }
        return { [self] sent in
            progress(UploadProgress(bytesUploaded: offset, totalBytes: size, bytesSent: start + Int64(sent)))
        }
    }

    /// Does what the state machine says besides changing its state.
    private func carryOut(
        _ effect: UploadState.Effect, retries: inout RetryLoop, progress: (@Sendable (UploadProgress) -> Void)?
    ) async throws {
        switch effect {
        case .storeURL(let url, let dialect):
            logger.debug("created", metadata: ["url": "\(url.forMessages)", "protocol": "\(dialect.name)"])
            UploadTracing.uploadSpan?.attributes["tus.protocol"] = dialect.name
            if case .draft(let version) = dialect, options.uploadProtocol == .auto { client.rememberSpeaksDraft(version) }
            if let key, let storage = options.storage {
                try await offLoop { try await storage.setURL(StoredUploadURL.value(url, dialect: dialect), forKey: key) }
            }
            if let part { try await offLoop { try await part.created(url) } }
        case .serverTakesNoBytesWithCreation:
            logger.debug("the server takes no bytes with POST; sending them with PATCH")
            client.rememberIgnoresBytesWithCreation()
        case .checkSizeLimit:
            try refuseIfLargerThanAllowed(by: try await capabilitiesAfterAskingAlongside())
        case .shrunk(let from, let to, let reason):
            options.onEvent?(.chunkSizeReduced(from: from, to: to, reason: reason))
        case .progressed:
            retries.progressed()
            progress?(UploadProgress(bytesUploaded: offset, totalBytes: size))
        case .forget(let reason):
            let url = self.url
            try await forgetStoredURL()
            throw TusError(.notFound, "the upload at \(url?.forMessages ?? client.url.forMessages) cannot go on: \(reason); start it again")
        case .fail(let error):
            throw error
        }
    }

    // MARK: Requests

    /// POSTs a new upload, with its first bytes when the server allows.
    private func create(afterAbandoned: Bool, onBodySent: (@Sendable (Int) -> Void)?) async throws -> Attempt {
        // Decided now, not when the uploader was made: an upload that
        // ended in the meantime may have taught the client the server's.
        let dialect = lock.withLock { state.dialect } ?? Self.dialect(for: options, client: client)
        let speech: Speech = switch dialect {
        case .tus?: .only(.tus)
        case .draft(let version)?: .only(.draft(version))
        case nil: .either(draft: DraftInteropVersion(rawValue: options.draftInteropVersion) ?? .v6)
        }
        // The draft's 104 names the upload before its body goes: where it
        // can be seen, the creation carries as much as any request (the
        // whole file, unless a size is chosen). Otherwise the URL comes
        // with the answer, and the first request is kept small.
        let sizesAsAny = dialect?.draftVersion != nil && client.showsInterimAnswers(to: client.url)
        let chunkSize = sizesAsAny ? (options.chunkSize ?? lock.withLock { state.sizer.ceiling }) : min(self.chunkSize, Self.firstRequestCeiling)
        // For a stream, the first chunk tells whether its length is known.
        if source.size == nil { _ = try source.read(at: 0, count: chunkSize) }
        let size = self.size
        var headers: [(String, String)] = []
        var body: RequestBody?
        var unasked = false
        if speech.sendsTus {
            (headers, body, unasked) = try await tusCreation(size: size, chunkSize: chunkSize)
        } else {
            // The draft: bytes go with every creation (-05 §4.2), no
            // capabilities are asked.
            if let size { headers.append((DraftHeaderName.uploadLength, String(size))) }
            // The draft defines no metadata; servers that read tus's
            // header (tusd) take it, others ignore it.
            if let metadataHeader { headers.append((TusHeaderName.uploadMetadata, metadataHeader)) }
            if size != 0, !lock.withLock({ state.createsWithoutBody }) {
                body = try self.body(at: 0, count: chunkSize)
                headers.append(("Content-Type", "application/octet-stream"))
            }
        }
        var sent = SentRequest(
            kind: .create, url: client.url, bodyCount: body?.count ?? 0, unasked: unasked, size: size, afterAbandoned: afterAbandoned)
        sent.name = name
        sent.speech = speech
        var onInterim: (@Sendable (HTTPResponseHead) -> Void)?
        if let version = speech.draftVersion {
            // Every byte of a known size in this request ends the upload.
            sent.completes = size.map { Int64(sent.bodyCount) == $0 } ?? false
            headers.append((DraftHeaderName.uploadComplete, UploadCompleteField.headerValue(sent.completes)))
            // The logger of this task: the answer comes on the event loop.
            let logger = self.logger
            onInterim = { [self] head in storeAtOnce(head, version: version, logger: logger) }
        }
        do {
            let attempt = try await client.attempt(
                sent, headers: headers, body: body, options: options, on: eventLoop, onBodySent: onBodySent, onInterim: onInterim)
            await finishStoringAtOnce()
            if case .either = speech, case .created(_, _, .tus) = attempt.verdict {
                client.rememberSpeaksTus()
            }
            return attempt
        } catch {
            // Cancelled, or a hook threw: the upload a 104 named exists,
            // its URL is stored (or being stored), and the upload is
            // resumable from it.
            if let early = await finishStoringAtOnce() {
                lock.withLock {
                    if state.url == nil {
                        state.url = early.url
                        state.dialect = early.dialect
                        state.lengthDeferred = size == nil
                        state.needsResync = true
                    }
                }
            }
            throw error
        }
    }

    /// The headers and body of a creation in tus 1.0 (or in both
    /// protocols, for the first `POST` of an upload in
    /// ``UploadProtocol/auto``), and whether its bytes go unasked.
    private func tusCreation(size: Int64?, chunkSize: Int) async throws -> (headers: [(String, String)], body: RequestBody?, unasked: Bool) {
        var headers: [(String, String)] = []
        if part != nil { headers.append((TusHeaderName.uploadConcat, UploadConcat.partial.headerValue)) }
        if let size {
            headers.append((TusHeaderName.uploadLength, String(size)))
        } else {
            headers.append((TusHeaderName.uploadDeferLength, "1"))
        }
        if let metadataHeader { headers.append((TusHeaderName.uploadMetadata, metadataHeader)) }

        var body: RequestBody?
        // Without a checksum to agree on, and with nothing known of the
        // server yet, the first bytes go with the POST unasked: a server
        // with creation-with-upload takes them, one without ignores them
        // (its answer has no Upload-Offset), and the OPTIONS round trip is
        // saved.
        let withBody = lock.withLock { !state.createsWithoutBody } && !client.ignoresBytesWithCreation
        let known = lock.withLock { state.capabilities } ?? client.knownCapabilities
        let unasked = options.uploadsDuringCreation && options.checksum == nil && known == nil && withBody && size != 0
        if unasked {
            body = try self.body(at: 0, count: chunkSize)
            headers.append(("Content-Type", "application/offset+octet-stream"))
            if lock.withLock({ askingAlongside == nil }) { askAlongside() }
        } else if (options.uploadsDuringCreation && withBody) || options.checksum != nil {
            let capabilities = try await capabilities()
            try refuseIfLargerThanAllowed(by: capabilities)
            if options.uploadsDuringCreation, withBody, capabilities.supports("creation-with-upload"), size != 0 {
                let chunk = try self.body(at: 0, count: chunkSize)
                headers.append(("Content-Type", "application/offset+octet-stream"))
                if let checksum = try await checksumHeader(of: chunk) {
                    headers.append((TusHeaderName.uploadChecksum, checksum))
                }
                body = chunk
            }
        }
        return (headers, body, unasked)
    }

    /// A `104 (Upload Resumption Supported)` of `version` names the
    /// upload's URL before the creation's body has gone out: it is stored
    /// at once, so that a run killed during that request resumes from the
    /// bytes the server holds. Called on the event loop; the store call
    /// runs in a task of its own, awaited once the request ends.
    private func storeAtOnce(_ head: HTTPResponseHead, version: DraftInteropVersion, logger: Logger) {
        guard let url = [head].uploadResource(version: version, relativeTo: client.url) else { return }
        logger.debug("the server made the upload resumable (104)", metadata: ["url": "\(url.forMessages)"])
        let storage = key.flatMap { key in options.storage.map { (key, $0) } }
        lock.withLock {
            guard storingAtOnce == nil else { return }
            let value = StoredUploadURL.value(url, dialect: .draft(version))
            // A failure shows again when the final answer stores the URL.
            let task = Task {
                guard let (key, storage) = storage else { return }
                _ = try? await offLoop { try await storage.setURL(value, forKey: key) }
            }
            storingAtOnce = (url, .draft(version), task)
        }
    }

    /// Waits for the URL a `104` gave to be stored, and returns it (nil
    /// when no `104` came).
    @discardableResult
    private func finishStoringAtOnce() async -> (url: URL, dialect: Dialect)? {
        guard let early = lock.withLock({ storingAtOnce }) else { return nil }
        await early.task.value
        lock.withLock { storingAtOnce = nil }
        return (early.url, early.dialect)
    }

    /// PATCHes the next bytes.
    private func append(afterAbandoned: Bool, onBodySent: (@Sendable (Int) -> Void)?) async throws -> Attempt {
        let (url, offset, lengthDeferred, chunkSize) = lock.withLock {
            (state.url!, state.offset, state.lengthDeferred, state.sizer.size)
        }
        let chunk = try body(at: offset, count: chunkSize)
        if let size, !lengthDeferred, Int64(chunk.count) < min(Int64(chunkSize), size - offset) {
            throw TusError(.io, "\(source.name) changed while uploading: it has fewer than its \(size) bytes now")
        }
        let dialect = lock.withLock { state.dialect } ?? .tus
        let isDraft = dialect.draftVersion != nil
        var headers: [(String, String)] = [
            (TusHeaderName.uploadOffset, String(offset)),
            ("Content-Type", isDraft ? PartialUploadMediaType.contentType : "application/offset+octet-stream"),
        ]
        let tellsLength = lengthDeferred && size != nil
        if tellsLength, let size { headers.append((TusHeaderName.uploadLength, String(size))) }
        if !isDraft, let checksum = try await checksumHeader(of: chunk) {
            headers.append((TusHeaderName.uploadChecksum, checksum))
        }
        // The size goes in only when known to the server after this
        // request: a stream's length is told once its end is read.
        var sent = SentRequest(
            kind: .append, url: url, offset: offset, bodyCount: chunk.count, size: lengthDeferred && !tellsLength ? nil : size,
            afterAbandoned: afterAbandoned)
        sent.speech = .only(dialect)
        if isDraft {
            // Every append says whether it ends the upload (-05 §6).
            sent.completes = size.map { offset + Int64(chunk.count) >= $0 } ?? false
            headers.append((DraftHeaderName.uploadComplete, UploadCompleteField.headerValue(sent.completes)))
        }
        return try await client.attempt(sent, headers: headers, body: chunk, options: options, on: eventLoop, onBodySent: onBodySent)
    }

    /// The most bytes the next request carries.
    var chunkSize: Int { lock.withLock { state.sizer.size } }

    /// Refuses a file larger than the server's announced limit, in words.
    private func refuseIfLargerThanAllowed(by capabilities: ServerCapabilities) throws {
        if let maxSize = capabilities.maxSize, let size, size > maxSize {
            throw TusError(.invalidArgument, "cannot upload \(name) to \(client.url.forMessages): its \(size) bytes are more than the server's limit of \(maxSize)")
        }
    }

    // MARK: The server's capabilities

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
        lock.withLock { askingAlongside = task }
    }

    /// The capabilities, once the OPTIONS sent alongside has its answer.
    private func capabilitiesAfterAskingAlongside() async throws -> ServerCapabilities {
        await lock.withLock { askingAlongside }?.value
        return try await capabilities()
    }

    /// Ends the OPTIONS sent alongside, answered or not: the upload no
    /// longer needs it.
    private func stopAskingAlongside() async {
        guard let task = lock.withLock({ askingAlongside }) else { return }
        task.cancel()
        await task.value
        lock.withLock { askingAlongside = nil }
    }

    // MARK: Checksums

    /// The checksum algorithm to use, if any: none for an upload in the
    /// IETF draft, which has no checksum of its own.
    private func checksumAlgorithm() async throws -> ChecksumAlgorithm? {
        guard let algorithm = options.checksum, lock.withLock({ state.dialect?.draftVersion == nil }) else { return nil }
        return try await capabilities().supports(algorithm) ? algorithm : nil
    }

    /// The `Upload-Checksum` value for `chunk`, or nil when no checksum is
    /// sent. The chunk is read and hashed off the event loop.
    private func checksumHeader(of chunk: RequestBody) async throws -> String? {
        guard let algorithm = try await checksumAlgorithm() else { return nil }
        let source = source
        return try await offLoop { try source.checksum(algorithm, of: chunk) }
    }
}
