public import TusCore

/// When and how soon a failed request is tried again.
///
/// ```swift
/// var options = UploadOptions()
/// options.retryPolicy.retries = 10
/// options.retryPolicy.shouldRetry = { failure in
///     // Also try again when the gateway answers 403 while a token is renewed.
///     failure.statusCode == 403 || RetryPolicy.isTransient(failure)
/// }
/// ```
///
/// A retry goes on from the offset the server reports (HEAD), on a new
/// connection when the old one failed. The count of failures in a row
/// starts again each time the server's offset moves forward, so a long
/// upload over a link that fails now and then goes on as long as it moves.
public struct RetryPolicy: Sendable {
    /// How many failures in a row are tried again before the upload throws.
    /// Default: 5.
    public var retries: Int

    /// The delay before the first retry; each further retry in a row waits
    /// twice as long, up to ``maximumDelay``. Default: 0.5 s.
    public var delay: Duration

    /// The longest delay between two tries. Default: 15 s.
    public var maximumDelay: Duration

    /// Decides whether a failure is tried again (while retries are left).
    /// It sees every failure that leaves the upload resumable, for every
    /// kind of request (`OPTIONS`, `POST`, `HEAD`, `PATCH`, the final
    /// concatenation, `DELETE`): network errors, stalls, timeouts and the
    /// server's error answers, refused credentials (401, 403, 407)
    /// included; not an upload the server says is gone (404, 410 to a
    /// request for it), which is never retried. Default:
    /// ``isTransient(_:)``.
    ///
    /// A hook that renews a token (``UploadOptions/beforeRequest``) makes a
    /// refused token worth another try:
    ///
    /// ```swift
    /// var options = UploadOptions()
    /// options.retryPolicy.shouldRetry = { failure in
    ///     failure.statusCode == 401 || RetryPolicy.isTransient(failure)
    /// }
    /// ```
    public var shouldRetry: @Sendable (RequestFailure) -> Bool

    /// Creates a policy; the defaults try 5 more times, after 0.5, 1, 2, 4
    /// and 8 seconds, whatever ``isTransient(_:)`` allows.
    public init(
        retries: Int = 5,
        delay: Duration = .milliseconds(500),
        maximumDelay: Duration = .seconds(15),
        shouldRetry: @escaping @Sendable (RequestFailure) -> Bool = RetryPolicy.isTransient
    ) {
        self.retries = retries
        self.delay = delay
        self.maximumDelay = maximumDelay
        self.shouldRetry = shouldRetry
    }

    /// The default decision: no answer at all (the network, a stall, a
    /// timeout), a 5xx, 408, 423 (locked by another client), 429 (too many
    /// requests), 409 (offset mismatch) and 460 (checksum mismatch) are
    /// worth another try; any other answer is not (refused credentials,
    /// 401, 403 and 407, among them: the upload stops and stays
    /// resumable), nor a refused TLS certificate (`.untrustedServer`) or
    /// client certificate (`.authenticationFailed`), which no retry mends.
    @Sendable public static func isTransient(_ failure: RequestFailure) -> Bool {
        guard let status = failure.statusCode else {
            return failure.error.code != .untrustedServer && failure.error.code != .authenticationFailed
        }
        return status >= 500 || [408, 409, 423, 429, 460].contains(status)
    }

    /// The delay before retry number `attempt` (1 for the first).
    public func delay(beforeRetry attempt: Int) -> Duration {
        var delay = self.delay
        for _ in 1..<max(attempt, 1) {
            delay *= 2
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }
}

/// A request that failed, as ``RetryPolicy/shouldRetry`` sees it.
public struct RequestFailure: Sendable {
    /// The request's method: `POST`, `PATCH`, `HEAD`.
    public var method: String
    /// The server's status code, or nil when no answer came (network error,
    /// stall, timeout).
    public var statusCode: Int?
    /// The error the upload throws if this is not tried again.
    public var error: TusError
    /// Which retry this would be: 1 for the first after a success.
    public var attempt: Int

    /// Creates a description of a failure.
    public init(method: String, statusCode: Int?, error: TusError, attempt: Int) {
        self.method = method
        self.statusCode = statusCode
        self.error = error
        self.attempt = attempt
    }
}
