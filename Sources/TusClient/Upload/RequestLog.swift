import Logging
import NIOHTTP1

/// The log lines of a request: one at `debug` per request and its verdict,
/// and its headers at `trace`. Their message and metadata keys are stable;
/// <doc:ObservingUploads> lists them.
///
/// No line holds a secret: a URL's password is masked, and a header's value
/// is shown only for the headers of the tus protocol and of HTTP itself
/// that never carry one (``RequestLog/shownHeaders``); every other value,
/// `Authorization`, cookies and any header a user adds, is `***`.
enum RequestLog {
    /// The message of the line per request.
    static let requestMessage: Logger.Message = "tus request"
    /// The message of the line with a request's headers.
    static let requestHeadersMessage: Logger.Message = "tus request headers"
    /// The message of the line with an answer's headers.
    static let responseHeadersMessage: Logger.Message = "tus response headers"

    /// Logs `attempt` at `debug`: method, URL, status or failure, body bytes,
    /// time and verdict.
    static func log(_ attempt: Attempt, to logger: Logger) {
        guard logger.logLevel <= .debug else { return }
        var metadata: Logger.Metadata = [
            "http.request.method": "\(attempt.sent.kind.method)",
            "url.full": "\(attempt.sent.url.forMessages)",
            "tus.request.body_bytes": "\(attempt.sent.bodyCount)",
            "tus.verdict": "\(word(for: attempt.verdict))",
        ]
        if let seconds = attempt.seconds {
            metadata["tus.request.seconds"] = "\(Double((seconds * 1000).rounded()) / 1000)"
        }
        switch attempt.outcome {
        case .answer(let exchange):
            metadata["http.response.status_code"] = "\(exchange.status.code)"
            if let offset = exchange.headers.first(name: "Upload-Offset") { metadata["tus.upload.offset"] = "\(offset)" }
        case .noAnswer(let failure):
            metadata["error.message"] = "\(failure.error.message)"
            metadata["tus.request.bytes_sent"] = "\(failure.bytesSent)"
            if failure.stalled { metadata["tus.request.stalled"] = "true" }
        }
        switch attempt.verdict {
        case .retry(let failure, _), .waitForRelease(let failure):
            metadata["tus.reason"] = "\(failure.error.message)"
        case .forget(let reason):
            metadata["tus.reason"] = "\(reason)"
        case .stop(let error):
            metadata["tus.reason"] = "\(error.message)"
        default:
            break
        }
        logger.debug(requestMessage, metadata: metadata)
    }

    /// Logs `sent` at `debug` as a request its task cancelled before an
    /// answer came, such as the `OPTIONS` sent beside a `POST` that the
    /// upload no longer needs: verdict `cancelled`, so a request the server
    /// saw has its line too.
    static func logCancelled(_ sent: SentRequest, to logger: Logger) {
        guard logger.logLevel <= .debug else { return }
        logger.debug(
            requestMessage,
            metadata: [
                "http.request.method": "\(sent.kind.method)",
                "url.full": "\(sent.url.forMessages)",
                "tus.request.body_bytes": "\(sent.bodyCount)",
                "tus.verdict": "\(cancelledWord)",
            ])
    }

    /// The verdict word of a request its task cancelled.
    static let cancelledWord = "cancelled"

    /// Logs the headers a request goes out with, at `trace`.
    static func logRequestHeaders(_ method: String, _ url: String, _ headers: [(name: String, value: String)], to logger: Logger) {
        guard logger.logLevel <= .trace else { return }
        logger.trace(requestHeadersMessage, metadata: [
            "http.request.method": "\(method)", "url.full": "\(url)", "http.request.headers": "\(shown(headers))",
        ])
    }

    /// Logs the headers of an answer, at `trace`.
    static func logResponseHeaders(_ method: String, _ url: String, status: UInt, _ headers: HTTPHeaders, to logger: Logger) {
        guard logger.logLevel <= .trace else { return }
        logger.trace(responseHeadersMessage, metadata: [
            "http.request.method": "\(method)", "url.full": "\(url)", "http.response.status_code": "\(status)",
            "http.response.headers": "\(shown(headers.map { (name: $0.name, value: $0.value) }))",
        ])
    }

    /// Headers whose values never hold a secret: the tus protocol's and
    /// HTTP's own framing. Lowercased.
    static let shownHeaders: Set<String> = [
        "tus-resumable", "tus-version", "tus-extension", "tus-max-size", "tus-checksum-algorithm",
        "upload-offset", "upload-length", "upload-defer-length", "upload-expires", "upload-concat", "upload-checksum",
        "location", "content-type", "content-length", "transfer-encoding", "connection", "date", "server", "host",
        "user-agent", "accept", "expect", "cache-control", "x-http-method-override", "access-control-expose-headers",
        // The IETF draft's.
        "upload-draft-interop-version", "upload-complete", "upload-incomplete", "upload-limit",
    ]

    /// `Name: value` lines, each value not in ``shownHeaders`` masked.
    static func shown(_ headers: [(name: String, value: String)]) -> String {
        headers.map { "\($0.name): \(shownHeaders.contains($0.name.lowercased()) ? $0.value : "***")" }
            .joined(separator: "\n")
    }

    /// One word for a verdict, stable for logs.
    static func word(for verdict: Verdict) -> String {
        switch verdict {
        case .capabilities: "capabilities"
        case .created: "created"
        case .moved: "moved"
        case .resumable: "resumable"
        case .joined: "joined"
        case .terminated: "terminated"
        case .sendSmaller: "send-smaller"
        case .createWithoutBody: "create-without-body"
        case .retry: "retry"
        case .waitForRelease: "wait-for-release"
        case .forget: "forget"
        case .stop: "stop"
        }
    }
}
