import CoreMetrics
import Foundation

/// The client's metrics, through swift-metrics: the factory given to the
/// ``TusClient``, else the one the application bootstrapped
/// (`MetricsSystem.factory`; without a bootstrap they go nowhere).
///
/// Names follow OpenTelemetry's semantic conventions where one exists
/// (`http.client.request.duration` and its attributes), with the `tus.`
/// prefix where none does; <doc:ObservingUploads> lists them. Like the log
/// lines, they come from each request's verdict, in one place.
struct UploadMetrics: Sendable {
    let factory: any MetricsFactory

    /// Counts and times one request, its bytes, and a retry or stall it led
    /// to.
    func record(_ attempt: Attempt) {
        let method = attempt.sent.kind.method
        var requestDimensions = [("http.request.method", method)]
        if let host = attempt.sent.url.host { requestDimensions.append(("server.address", host)) }
        let statusClass: String
        let bytesSent: Int
        switch attempt.outcome {
        case .answer(let exchange):
            requestDimensions.append(("http.response.status_code", String(exchange.status.code)))
            statusClass = "\(exchange.status.code / 100)xx"
            bytesSent = attempt.sent.bodyCount
        case .noAnswer(let failure):
            requestDimensions.append(("error.type", failure.stalled ? "stalled" : "no_answer"))
            statusClass = "none"
            bytesSent = failure.bytesSent
        }
        if let seconds = attempt.seconds {
            Timer(label: "http.client.request.duration", dimensions: requestDimensions, factory: factory)
                .recordNanoseconds(Int64(seconds * 1e9))
        }
        Counter(
            label: "tus.client.requests",
            dimensions: [("http.request.method", method), ("http.response.status_class", statusClass)], factory: factory
        ).increment()
        if bytesSent > 0 {
            Counter(label: "tus.client.bytes_sent", factory: factory).increment(by: Int64(bytesSent))
        }
        if case .noAnswer(let failure) = attempt.outcome, failure.stalled {
            Counter(label: "tus.client.stalls", factory: factory).increment()
        }
        if case .sendSmaller = attempt.verdict {
            retried(because: "body_too_large")
        }
    }

    /// Counts a request its task cancelled before an answer came
    /// (`http.response.status_class` `cancelled`).
    func recordCancelled(_ sent: SentRequest) {
        Counter(
            label: "tus.client.requests",
            dimensions: [("http.request.method", sent.kind.method), ("http.response.status_class", "cancelled")],
            factory: factory
        ).increment()
    }

    /// Counts a request tried again, by reason (see ``Verdict/Failure/reason``).
    func retried(because reason: String) {
        Counter(label: "tus.client.retries", dimensions: [("tus.reason", reason)], factory: factory).increment()
    }

    /// How uploads end, or that one resumes.
    enum UploadOutcome: String {
        /// A stored upload goes on (counted when it starts).
        case resumed
        case finished
        /// Failed, and a later run can resume it from the store.
        case failedResumable = "failed_resumable"
        case failed
    }

    func upload(_ outcome: UploadOutcome) {
        Counter(label: "tus.client.uploads", dimensions: [("tus.outcome", outcome.rawValue)], factory: factory).increment()
    }

    /// Times one call of the upload's store.
    func storeOperation(_ operation: String, backend: String, since start: ContinuousClock.Instant) {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        Timer(
            label: "tus.store.operation.duration",
            dimensions: [("tus.store.backend", backend), ("tus.store.operation", operation)], factory: factory
        ).recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
