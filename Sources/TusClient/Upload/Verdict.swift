import Foundation
import NIOHTTP1
import TusCore
import TusProtocol

/// What one request's outcome means for the upload: the one place that
/// reads an HTTP status code (with ``RetryPolicy/isTransient(_:)``, the
/// retry policy's default).
///
/// ``decide(_:_:)`` is a pure function of what was sent and what came
/// back; ``RetryLoop`` carries the failures out (another try, a wait, a
/// stop) and the upload's state machine (``UploadState``) the rest.
enum Verdict: Sendable {
    // MARK: Go on

    /// `OPTIONS`: what the server supports.
    case capabilities(ServerCapabilities)
    /// `POST`: the upload exists at `url`, and speaks `dialect`. `offset`
    /// is how many of the bytes sent with it the server took, nil when it
    /// took none because it ignores bytes sent with `POST` (no
    /// `Upload-Offset` in a tus answer).
    case created(url: URL, offset: Int64?, dialect: Dialect)
    /// `PATCH` or `HEAD` during the upload: the server holds `offset` bytes.
    case moved(to: Int64)
    /// `HEAD` of a stored URL: it is this file's upload; go on at `offset`.
    case resumable(offset: Int64, lengthDeferred: Bool)
    /// `POST` of the final upload: the parts are joined at `url`.
    case joined(url: URL)
    /// `DELETE`: the upload is gone from the server.
    case terminated

    // MARK: Change course

    /// The request was refused as too large (413) while it carried a body:
    /// send fewer bytes.
    case sendSmaller
    /// The server refused bytes sent with `POST` unasked (400, 415): create
    /// without them.
    case createWithoutBody

    // MARK: Failures

    /// Worth another try if the retry policy agrees; with `resync`, ask the
    /// server for its offset before going on.
    case retry(Failure, resync: Bool)
    /// The server still holds the upload for another request, most likely
    /// one this upload abandoned (423, or 503 after an abandoned request):
    /// wait for it to let go.
    case waitForRelease(Failure)
    /// The stored URL is no longer this upload's: the server says it is
    /// gone, its clock says it expired, or it is another file's.
    case forget(reason: String)
    /// Stop, and keep the stored URL: no retry mends this.
    case stop(TusError)

    /// A failed request as the retry policy sees it.
    struct Failure: Sendable {
        /// The server's status, nil when no answer came.
        var statusCode: Int?
        /// The error the upload throws if it is not tried again.
        var error: TusError

        /// Why the request is tried again, for metrics: `status_<code>`,
        /// `stalled` or `no_answer`.
        var reason: String {
            if let statusCode { return "status_\(statusCode)" }
            return error.code == .timeout ? "stalled" : "no_answer"
        }
    }
}

extension Verdict {
    /// Judges the outcome of `sent`. The client's clock plays no part:
    /// expiry is judged by the server's (its `Date` header).
    static func decide(_ sent: SentRequest, _ outcome: Outcome) -> Verdict {
        let answer: Exchange
        switch outcome {
        case .noAnswer(let failure):
            // The network, a stall, a timeout: a POST that got no answer
            // may still have created an upload, which no one will find;
            // anything else asks the server where it stands.
            return .retry(Failure(statusCode: nil, error: failure.error), resync: sent.kind.hasURL)
        case .answer(let exchange):
            answer = exchange
        }
        let code = answer.code
        if let refusal = clientCertificateRefusal(answer, sent: sent) { return .stop(refusal) }
        if [401, 403, 407].contains(code) {
            // Credentials, not the upload: the stored URL is kept whatever
            // the request (a hook that renews a token may retry).
            let error = TusError(.authenticationFailed, "\(sent.label): \(credentialsRefusal(answer, sent: sent))")
            return .retry(Failure(statusCode: code, error: error), resync: sent.kind.hasURL)
        }
        if code == 423 || (code == 503 && sent.afterAbandoned && sent.kind.hasURL) {
            let error = TusError(.unavailable, "\(sent.label) \(answer.statusDescription): the server still holds the upload for another request")
            return .waitForRelease(Failure(statusCode: code, error: error))
        }
        switch sent.speech {
        case .only(.draft(let version)):
            return draft(answer, sent: sent, version: version)
        case .either(let version) where sent.kind == .create && answersInDraft(answer):
            return draft(answer, sent: sent, version: version)
        case .only(.tus), .either:
            break
        }
        switch sent.kind {
        case .options: return options(answer, sent: sent)
        case .create: return created(answer, sent: sent)
        case .append: return appended(answer, sent: sent)
        case .offset: return offset(answer, sent: sent)
        case .resume: return resume(answer, sent: sent)
        case .concatenate: return joined(answer, sent: sent)
        case .terminate: return terminated(answer, sent: sent)
        }
    }

    // MARK: Each kind of request

    private static func options(_ answer: Exchange, sent: SentRequest) -> Verdict {
        guard answer.isSuccess else {
            return .stop(TusError(.unsupported, "\(sent.label) \(answer.statusDescription)"))
        }
        let announced = ServerAnnouncement(reading: { answer.headers[$0] })
        return .capabilities(ServerCapabilities(
            versions: announced.versions, extensions: Set(announced.extensions), maxSize: announced.maxSize,
            checksumAlgorithms: Set(announced.checksumAlgorithms)))
    }

    private static func created(_ answer: Exchange, sent: SentRequest) -> Verdict {
        let code = answer.code
        if answer.isSuccess {
            guard let url = answer.location(relativeTo: sent.url) else {
                return .stop(TusError(.protocolViolation, "\(sent.label) answered \(code) with no usable Location header"))
            }
            guard sent.bodyCount > 0 else { return .created(url: url, offset: 0, dialect: .tus) }
            guard let text = answer.headers.first(name: TusHeaderName.uploadOffset) else {
                // A server without creation-with-upload ignores the bytes.
                return .created(url: url, offset: sent.unasked ? nil : 0, dialect: .tus)
            }
            // More than was sent, or no byte count: not to be believed;
            // the upload asks before going on.
            let offset = NonNegativeInteger.parseTrimmed(text) ?? 0
            return .created(url: url, offset: offset > Int64(sent.bodyCount) ? 0 : offset, dialect: .tus)
        }
        switch code {
        case 400 where sent.unasked, 415 where sent.unasked:
            return .createWithoutBody
        case 412:
            return .stop(versionRefusal(answer, sent: sent))
        default:
            return creationRefused(answer, sent: sent)
        }
    }

    /// A creation refused, in either protocol: too large (send less, or
    /// stop when it carried nothing), or worth another try.
    static func creationRefused(_ answer: Exchange, sent: SentRequest) -> Verdict {
        switch answer.code {
        case 413 where sent.bodyCount > 0:
            return .sendSmaller
        case 413:
            let what = sent.name.map { "cannot upload \($0) to \(sent.url.forMessages)" } ?? sent.label
            return .stop(TusError(.invalidArgument, "\(what): the server \(answer.statusDescription) (too large)"))
        default:
            let error = TusError(.unavailable, "cannot create an upload at \(sent.url.forMessages): POST \(answer.statusDescription)")
            return .retry(Failure(statusCode: answer.code, error: error), resync: false)
        }
    }

    private static func appended(_ answer: Exchange, sent: SentRequest) -> Verdict {
        let code = answer.code
        if answer.isSuccess {
            let offset: Int64
            switch answer.offset(sent.label) {
            case .success(let value): offset = value
            case .failure(let error): return .retry(Failure(statusCode: code, error: error), resync: true)
            }
            if offset == sent.offset && sent.bodyCount > 0 {
                let error = TusError(.protocolViolation, "\(sent.label): the server took none of the \(sent.bodyCount) bytes sent at \(sent.offset)")
                return .retry(Failure(statusCode: code, error: error), resync: true)
            }
            guard offset >= sent.offset, offset <= sent.offset + Int64(sent.bodyCount) else {
                let error = TusError(.protocolViolation, "\(sent.label): the server answered offset \(offset) after \(sent.bodyCount) bytes sent at \(sent.offset)")
                return .retry(Failure(statusCode: code, error: error), resync: true)
            }
            return .moved(to: offset)
        }
        switch code {
        case 409:
            return .retry(Failure(statusCode: code, error: TusError(.protocolViolation, "\(sent.label): the server's offset is not \(sent.offset) (409)")), resync: true)
        case 460:
            return .retry(Failure(statusCode: code, error: TusError(.protocolViolation, "\(sent.label): the server found the chunk's checksum wrong (460)")), resync: false)
        case 413 where sent.bodyCount > 0:
            return .sendSmaller
        default:
            return refused(answer, sent: sent, resync: true)
        }
    }

    /// `HEAD` during the upload, in either protocol: `expired` says, from
    /// the answer, whether the upload's time is up (tus: `Upload-Expires` by
    /// the server's clock; the draft: `Upload-Limit`'s seconds left).
    static func offset(_ answer: Exchange, sent: SentRequest, expired: (Exchange) -> String? = expiredByServerClock) -> Verdict {
        let code = answer.code
        if answer.isSuccess {
            let offset: Int64
            switch answer.offset(sent.label) {
            case .success(let value): offset = value
            case .failure(let error): return .retry(Failure(statusCode: code, error: error), resync: true)
            }
            if let size = sent.size, offset > size {
                return .stop(TusError(.protocolViolation, "\(sent.label): the server claims \(offset) bytes of an upload of \(size)"))
            }
            if let reason = expired(answer) { return .forget(reason: reason) }
            return .moved(to: offset)
        }
        return refused(answer, sent: sent, resync: true)
    }

    private static func resume(_ answer: Exchange, sent: SentRequest) -> Verdict {
        let code = answer.code
        if answer.isSuccess {
            let offset: Int64
            switch answer.offset(sent.label) {
            case .success(let value): offset = value
            case .failure(let error): return .stop(error)
            }
            if let reason = anotherFilesUpload(answer, sent: sent, offset: offset) { return .forget(reason: reason) }
            if let expected = sent.fileCheck, let metadata = answer.metadata,
               let found = metadata[FileCheck.metadataKey], found != expected {
                return .forget(reason: "it is another file's: one with the same size and first 64 KiB, but another end")
            }
            if let reason = expiredByServerClock(answer) { return .forget(reason: reason) }
            return .resumable(offset: offset, lengthDeferred: answer.headers.first(name: TusHeaderName.uploadDeferLength) == "1")
        }
        return refused(answer, sent: sent, resync: false)
    }

    private static func joined(_ answer: Exchange, sent: SentRequest) -> Verdict {
        let code = answer.code
        if answer.isSuccess {
            guard let url = answer.location(relativeTo: sent.url) else {
                return .stop(TusError(.protocolViolation, "\(sent.label) answered \(code) to the final upload with no usable Location header"))
            }
            return .joined(url: url)
        }
        if code == 412 { return .stop(versionRefusal(answer, sent: sent)) }
        return .retry(Failure(statusCode: code, error: TusError(.unavailable, "cannot join the parts: \(sent.label) \(answer.statusDescription)")), resync: false)
    }

    static func terminated(_ answer: Exchange, sent: SentRequest) -> Verdict {
        // An upload the server no longer has counts as deleted.
        if answer.isSuccess || answer.code == 404 || answer.code == 410 { return .terminated }
        return .retry(Failure(statusCode: answer.code, error: TusError(.unavailable, "cannot terminate the upload: \(sent.label) \(answer.statusDescription)")), resync: false)
    }

    // MARK: Rules shared by several kinds

    /// An error answer to a request for the upload's own URL: gone (404,
    /// 410), another protocol version (412), or worth another try.
    static func refused(_ answer: Exchange, sent: SentRequest, resync: Bool) -> Verdict {
        switch answer.code {
        case 404, 410:
            return .forget(reason: "the server says the upload is gone (\(sent.label) \(answer.statusDescription))")
        case 412:
            return .stop(versionRefusal(answer, sent: sent))
        default:
            return .retry(Failure(statusCode: answer.code, error: TusError(.unavailable, "\(sent.label) \(answer.statusDescription)")), resync: resync)
        }
    }

    /// Why a stored URL's upload is another file's, in either protocol:
    /// another length, or more bytes than the file has; nil when neither.
    static func anotherFilesUpload(_ answer: Exchange, sent: SentRequest, offset: Int64) -> String? {
        if let length = answer.length, let size = sent.size, length != size {
            return "it is another file's: the server holds an upload of \(length) bytes, the file has \(size)"
        }
        if let size = sent.size, offset > size {
            return "it is another file's: the server holds \(offset) bytes, more than the file's \(size)"
        }
        return nil
    }

    /// The upload's `Upload-Expires` is past by the server's own clock (its
    /// `Date` header). Without a `Date`, or with the client's clock alone,
    /// nothing is judged expired: the server says 404 or 410 for an upload
    /// it has removed.
    private static func expiredByServerClock(_ answer: Exchange) -> String? {
        guard let expires = answer.expires, let serverNow = answer.date, expires <= serverNow else { return nil }
        return "it expired at \(HTTPDate.format(expires)) by the server's clock (\(HTTPDate.format(serverNow)))"
    }

    /// Who refused which credentials, and what to check. Some proxies
    /// (tinyproxy) refuse their own credentials with 401, which the server
    /// behind them may as well have sent: the message names both.
    private static func credentialsRefusal(_ answer: Exchange, sent: SentRequest) -> String {
        let status = answer.statusLine
        switch (answer.code, sent.proxy) {
        case (407, let proxy?) where proxy.hasCredentials:
            return "the proxy \(proxy.address) refused the user name and password in its URL (\(status)); check them"
        case (407, let proxy?):
            return "the proxy \(proxy.address) asks for credentials (\(status)); give them in its URL (http://USER:PASSWORD@HOST:PORT)"
        case (407, nil):
            return "the proxy refused the credentials (\(status)); check the proxy's user name and password"
        case (401, let proxy?) where proxy.hasCredentials:
            return "the server, or the proxy \(proxy.address) in front of it, refused the credentials (\(status)); check the user name and password in the proxy's URL, and the Authorization header"
        default:
            return "the server refused the credentials (\(status)); check the Authorization header or token"
        }
    }

    private static func versionRefusal(_ answer: Exchange, sent: SentRequest) -> TusError {
        let versions = answer.headers.first(name: TusHeaderName.tusVersion) ?? "an unknown version"
        return TusError(.unsupported, "\(sent.label): the server does not speak tus \(tusProtocolVersion) (412; it speaks \(versions))")
    }

    /// nginx finishes the TLS handshake without a client certificate it
    /// requires, then answers every request 400 with a page that says so.
    private static func clientCertificateRefusal(_ answer: Exchange, sent: SentRequest) -> TusError? {
        guard answer.code == 400 else { return nil }
        let text = String(decoding: answer.body.readableBytesView, as: UTF8.self)
        let server = ConnectionFailure.address(of: sent.url)
        if text.contains("No required SSL certificate was sent") {
            return TusError(.authenticationFailed, "\(server) requires a client certificate; give one (--cert FILE --key FILE)")
        }
        if text.contains("The SSL certificate error") {
            return TusError(.authenticationFailed, "\(server) refused the client certificate; check that its authority is one the server trusts")
        }
        return nil
    }
}

extension RequestKind {
    /// Whether the request goes to an upload's own URL (which the server
    /// can be asked about again), not to the creation endpoint.
    var hasURL: Bool {
        switch self {
        case .append, .offset, .resume, .terminate: true
        case .options, .create, .concatenate: false
        }
    }
}

extension Exchange {
    /// The status code: read here and in `Verdict+Draft.swift`, and nowhere
    /// else in the client but the retry policy's default.
    var code: Int { Int(status.code) }

    /// A 2xx answer.
    var isSuccess: Bool { (200..<300).contains(code) }
}
