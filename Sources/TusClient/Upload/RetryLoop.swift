import Foundation
import Logging
import Tracing
import TusCore

/// The one retry loop every request of an upload goes through: creation,
/// `PATCH`, `HEAD`, each part's, the final concatenation, `OPTIONS` and
/// `DELETE`.
///
/// It carries out the failures a ``Verdict`` names and hands everything
/// else back:
/// - ``Verdict/retry(_:resync:)``: another try after the
///   ``RetryPolicy``'s delay, if the policy agrees and tries are left; the
///   count starts again whenever the upload moves forward
///   (``progressed()``);
/// - ``Verdict/waitForRelease(_:)``: after a request of this upload was
///   abandoned (stalled, or cut with bytes on their way), the server may
///   hold the upload for it until it notices the old connection is gone.
///   Such answers, and requests of which not a byte moved (a server busy
///   with the old request may not answer at all), are waited out with
///   growing delays, without counting as failures, for ``waitLimit`` past
///   the stall timeout. Without an abandoned request, they are ordinary
///   retries;
/// - ``Verdict/stop(_:)``: thrown.
struct RetryLoop {
    let policy: RetryPolicy
    /// The upload's stall timeout, which the wait for a release exceeds.
    let stallTimeout: Duration?
    let onEvent: (@Sendable (UploadEvent) -> Void)?
    let logger: Logger
    let metrics: UploadMetrics

    /// How long past the stall timeout a server may hold an abandoned
    /// request before its answers count as failures again.
    static let waitLimit: Duration = .seconds(120)

    /// Failures in a row since the upload last moved.
    private(set) var failures = 0
    /// Waits in a row for the server to let go of an abandoned request.
    private var waits = 0
    /// When the last request with bytes on their way was abandoned.
    private var abandonedAt: ContinuousClock.Instant?

    init(options: UploadOptions?, logger: Logger, metrics: UploadMetrics) {
        policy = options?.retryPolicy ?? RetryPolicy()
        stallTimeout = options?.stallTimeout ?? .seconds(60)
        onEvent = options?.onEvent
        self.logger = logger
        self.metrics = metrics
    }

    /// What the caller does next.
    enum Step {
        /// Act on this verdict (a success, or a change of course).
        case act(Verdict)
        /// Try again, having waited; with `resync`, ask the server for its
        /// offset first.
        case again(resync: Bool)
    }

    /// Whether an earlier request of this upload was abandoned recently
    /// enough that the server may still hold it.
    var afterAbandoned: Bool {
        guard let abandonedAt else { return false }
        return ContinuousClock.now - abandonedAt < (stallTimeout ?? .zero) + Self.waitLimit
    }

    /// The upload moved forward: failures in a row start again from zero.
    mutating func progressed() {
        failures = 0
        waits = 0
    }

    /// Carries out `verdict` on the request `sent`, which ended as
    /// `outcome`: waits before another try, or throws when no try is left.
    mutating func handle(_ verdict: Verdict, of sent: SentRequest, outcome: Outcome) async throws -> Step {
        let waitsForAnEarlierRequest = afterAbandoned
        var busyServer = false
        if case .noAnswer(let failure) = outcome, failure.stalled {
            UploadTracing.event("tus.stall", ["http.request.method": .string(sent.kind.method), "tus.request.bytes_sent": .int64(Int64(failure.bytesSent))])
        }
        if case .noAnswer(let failure) = outcome {
            if failure.bytesSent > 0 || (failure.stalled && sent.bodyCount > 0) {
                abandonedAt = .now
            } else if failure.stalled {
                // Not a byte of this request moved: a server busy with the
                // abandoned request may not answer at all for a while
                // (tuspyserver's lock wait holds its whole event loop).
                busyServer = waitsForAnEarlierRequest
            }
        }
        switch verdict {
        case .retry(let failure, let resync) where busyServer:
            return try await waitForRelease(failure, of: sent, resync: resync)
        case .retry(let failure, let resync):
            try await retry(failure, of: sent)
            return .again(resync: resync)
        case .waitForRelease(let failure):
            guard waitsForAnEarlierRequest else {
                try await retry(failure, of: sent)
                return .again(resync: true)
            }
            return try await waitForRelease(failure, of: sent, resync: true)
        case .stop(let error):
            throw error
        default:
            return .act(verdict)
        }
    }

    /// Waits, without counting a failure, for the server to let go of an
    /// abandoned request.
    private mutating func waitForRelease(_ failure: Verdict.Failure, of sent: SentRequest, resync: Bool) async throws -> Step {
        waits += 1
        let delay = policy.delay(beforeRetry: waits)
        let request = RequestFailure(method: sent.kind.method, statusCode: failure.statusCode, error: failure.error, attempt: waits)
        logger.debug("waiting for the server to let go of an abandoned request", metadata: [
            "url": "\(sent.url.forMessages)", "status": "\(failure.statusCode.map(String.init) ?? "none")", "delay": "\(delay)",
        ])
        onEvent?(.waitingForRelease(request, delay: delay))
        metrics.retried(because: "wait_for_release")
        UploadTracing.event("tus.retry", ["tus.reason": "wait_for_release", "http.request.method": .string(sent.kind.method)])
        try await Task.sleep(for: delay)
        return .again(resync: resync)
    }

    /// Counts a failure, and waits before the next try, or throws.
    private mutating func retry(_ failure: Verdict.Failure, of sent: SentRequest) async throws {
        failures += 1
        let request = RequestFailure(method: sent.kind.method, statusCode: failure.statusCode, error: failure.error, attempt: failures)
        guard policy.shouldRetry(request) else { throw failure.error }
        if failures > policy.retries {
            if policy.retries == 0 { throw failure.error }
            let tries = policy.retries == 1 ? "1 retry" : "\(policy.retries) retries"
            throw TusError(failure.error.code, "\(failure.error.message) (gave up after \(tries))", cause: failure.error)
        }
        let delay = policy.delay(beforeRetry: failures)
        logger.debug("retrying", metadata: [
            "url": "\(sent.url.forMessages)", "method": "\(sent.kind.method)",
            "status": "\(failure.statusCode.map(String.init) ?? "none")", "error": "\(failure.error.message)", "delay": "\(delay)",
        ])
        onEvent?(.retrying(request, delay: delay))
        metrics.retried(because: failure.reason)
        UploadTracing.event("tus.retry", ["tus.reason": .string(failure.reason), "http.request.method": .string(sent.kind.method)])
        try await Task.sleep(for: delay)
    }
}
