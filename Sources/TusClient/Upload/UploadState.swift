import Foundation
import TusCore

/// Everything one upload (or one part of a parallel upload) knows while it
/// runs, and the state machine that moves it: which request comes next
/// (``nextStep(size:)``), and what each verdict changes (``apply(_:)``).
///
/// A value type with no I/O, as AsyncHTTPClient's request state machine:
/// ``TusUploader`` carries the steps out (sends, stores, reports) and feeds
/// each ``Attempt`` back. Tests drive it without a server.
///
/// ```text
///             ┌─────────────── create ◀──── (no URL)
///             │  created            │ sendSmaller / createWithoutBody
///             ▼                     └──▶ create again
///   ┌──▶ append ──moved──▶ (all sent?) ──yes──▶ finished
///   │       │ retry(resync) / waitForRelease
///   │       ▼
///   └── askOffset (HEAD) ──moved──┘
///          any: forget ──▶ forgotten (URL removed, upload ends)
///          any: stop, or retries used up ──▶ thrown (URL kept)
/// ```
struct UploadState: Sendable {
    /// The upload's URL, once created or resumed.
    var url: URL?
    /// How many bytes the server holds.
    var offset: Int64 = 0
    /// The upload was created without a length, not told yet.
    var lengthDeferred = false
    /// What the server supports, once asked.
    var capabilities: ServerCapabilities?
    /// The size of the next request.
    var sizer: ChunkSizer
    /// Create without sending bytes with `POST`: the server ignores or
    /// refuses them, or a proxy refuses even the smallest body.
    var createsWithoutBody = false
    /// Ask the server for its offset before the next `PATCH`.
    var needsResync = false
    /// The protocol the upload speaks, once created or resumed; nil before
    /// the first answer of an upload in ``UploadProtocol/auto``.
    var dialect: Dialect?
    /// The most bytes the server takes in one request, when it said so
    /// (the draft's `Upload-Limit: max-append-size`).
    var maxAppendSize: Int64?

    init(sizer: ChunkSizer) {
        self.sizer = sizer
    }

    /// The next step of an upload of `size` bytes (nil while a stream's
    /// end is not reached).
    enum Step: Equatable {
        /// `POST` a new upload.
        case create
        /// `PATCH` bytes from ``UploadState/offset``.
        case append
        /// `HEAD`: how many bytes does the server hold.
        case askOffset
        /// The server holds every byte and knows the length.
        case finished
    }

    func nextStep(size: Int64?) -> Step {
        if url == nil { return .create }
        if needsResync { return .askOffset }
        if let size, !lengthDeferred, offset >= size { return .finished }
        return .append
    }

    /// What the uploader does, besides what the state now holds.
    enum Effect {
        /// Keep the new upload's URL in the store (and tell the parent of a
        /// part), with the protocol it speaks.
        case storeURL(URL, Dialect)
        /// The server ignores or refuses bytes sent with `POST`: later
        /// uploads of the client send none.
        case serverTakesNoBytesWithCreation
        /// A 413 to bytes sent unasked with `POST`: check the server's
        /// announced size limit before sending smaller.
        case checkSizeLimit
        /// Requests got smaller.
        case shrunk(from: Int, to: Int, reason: UploadEvent.ChunkSizeReason)
        /// The server holds more bytes than before.
        case progressed
        /// The stored URL is not this upload's any more.
        case forget(reason: String)
        /// Nothing more can be sent: stop with this error, keeping the URL.
        case fail(TusError)
    }

    /// Moves the state by one attempt's verdict (one the retry loop hands
    /// back to act on), and says what else to do.
    mutating func apply(_ attempt: Attempt) -> [Effect] {
        let sent = attempt.sent
        switch attempt.verdict {
        case .created(let url, let took, let dialect):
            self.url = url
            self.dialect = dialect
            offset = took ?? 0
            lengthDeferred = sent.size == nil
            var effects: [Effect] = [.storeURL(url, dialect)]
            effects += applyLimit(attempt, dialect: dialect)
            if took == nil {
                createsWithoutBody = true
                effects.append(.serverTakesNoBytesWithCreation)
            }
            if let took, took > 0 {
                if took == Int64(sent.bodyCount), let seconds = attempt.seconds { sizer.succeeded(bytes: sent.bodyCount, seconds: seconds) }
                effects.append(.progressed)
            }
            return effects
        case .moved(let to):
            let limited = applyLimit(attempt, dialect: dialect)
            let before = offset
            offset = to
            if sent.kind == .offset {
                needsResync = false
            } else {
                if sent.size != nil { lengthDeferred = false }
                if to == sent.offset + Int64(sent.bodyCount), let seconds = attempt.seconds {
                    sizer.succeeded(bytes: sent.bodyCount, seconds: seconds)
                }
            }
            return limited + (to > before ? [.progressed] : [])
        case .sendSmaller:
            var effects: [Effect] = sent.kind == .create && sent.unasked ? [.checkSizeLimit] : []
            if sizer.refusedAsTooLarge(bytes: sent.bodyCount) {
                effects.append(.shrunk(from: sent.bodyCount, to: sizer.size, reason: .bodyTooLarge))
            } else if sent.kind == .create {
                // Not even the smallest body passes: create without one.
                createsWithoutBody = true
            } else {
                effects.append(.fail(TusError(
                    .invalidArgument,
                    "\(sent.label): the server, or a proxy in front of it, refuses even \(sent.bodyCount) bytes in one request (413); raise its body limit (for nginx, client_max_body_size)")))
            }
            return effects
        case .createWithoutBody:
            createsWithoutBody = true
            return [.serverTakesNoBytesWithCreation]
        case .forget(let reason):
            return [.forget(reason: reason)]
        case .capabilities(let capabilities):
            self.capabilities = capabilities
            return []
        case .resumable, .joined, .terminated, .retry, .waitForRelease, .stop:
            // Not verdicts of the upload's own requests, or carried out by
            // the retry loop before this.
            return []
        }
    }

    /// The retry loop will try again after `attempt` failed: with `resync`,
    /// ask for the offset first; a request cut in the middle of its body
    /// makes the next ones smaller.
    mutating func willRetry(after attempt: Attempt, resync: Bool) -> [Effect] {
        needsResync = needsResync || resync
        var effects: [Effect] = []
        // A creation that failed after a 104 still made the upload: go on
        // at its URL, from the bytes the server holds.
        if attempt.sent.kind == .create, url == nil, let version = attempt.sent.speech.draftVersion,
           let early = attempt.outcome.interim.uploadResource(version: version, relativeTo: attempt.sent.url) {
            url = early
            dialect = .draft(version)
            lengthDeferred = attempt.sent.size == nil
            needsResync = true
            effects.append(.storeURL(early, .draft(version)))
        }
        // The draft's 409 carries the server's offset (-05 §6, -12
        // §4.4.2): go on from it without asking.
        if attempt.sent.kind == .append, attempt.sent.speech.draftVersion != nil, let offset = attempt.conflictOffset {
            self.offset = offset
            needsResync = false
        }
        guard case .noAnswer(let failure) = attempt.outcome, attempt.sent.bodyCount > 0,
              failure.bytesSent > 0 || failure.stalled
        else { return effects }
        let before = sizer.size
        sizer.interrupted(bytes: attempt.sent.bodyCount)
        return effects + (sizer.size < before ? [.shrunk(from: before, to: sizer.size, reason: .interrupted)] : [])
    }

    /// Takes the draft's `Upload-Limit` from an answer: `max-append-size`
    /// and `min-append-size` bound the request size, `max-size` the
    /// upload's.
    mutating func applyLimit(_ attempt: Attempt, dialect: Dialect?) -> [Effect] {
        guard let version = dialect?.draftVersion, case .answer(let answer) = attempt.outcome,
              let limit = answer.uploadLimit(version: version) else { return [] }
        var effects: [Effect] = []
        if let most = limit.maxAppendSize, most > 0 {
            maxAppendSize = most
            let before = sizer.size
            sizer.limit(to: Int(clamping: most))
            if sizer.size < before { effects.append(.shrunk(from: before, to: sizer.size, reason: .serverLimit)) }
        }
        if let fewest = limit.minAppendSize, fewest > 0 { sizer.keepAtLeast(Int(clamping: fewest)) }
        if let most = limit.maxSize, let size = attempt.sent.size, size > most {
            effects.append(.fail(TusError(
                .invalidArgument,
                "cannot upload \(attempt.sent.name ?? "the file") to \(attempt.sent.url.forMessages): its \(size) bytes are more than the server's limit of \(most) (Upload-Limit max-size)")))
        }
        return effects
    }
}
