import Foundation
import NIOHTTP1
import Tracing

/// The client's spans, through swift-distributed-tracing: the tracer given
/// to the ``TusClient``, else the one the application bootstrapped
/// (`InstrumentationSystem.tracer`; without a bootstrap, no spans).
///
/// - `tus.upload` (kind client) for each ``TusUploader/upload(progress:)``,
///   with the size, the offset it resumed from, the protocol, the number of
///   parts and the outcome;
/// - `tus.upload.part` for each part of a parallel upload, its child;
/// - a span per request (`POST`, `PATCH`, … as OpenTelemetry names HTTP
///   client spans), child of the upload's or the part's, whose context goes
///   out in the request's headers (`traceparent` with a W3C propagator);
/// - `tus.store.get`, `tus.store.set`, `tus.store.remove` for the
///   upload's store calls;
/// - retries, waits for release and stalls as events (`tus.retry`,
///   `tus.stall`) of the upload's span.
///
/// Names and attributes are listed in <doc:ObservingUploads>.
enum UploadTracing {
    /// The span of the upload (or part) the current task works for, for
    /// the events of the retry loop.
    @TaskLocal static var uploadSpan: (any Span)?

    /// Adds an event to the current upload's span, if there is one.
    static func event(_ name: String, _ attributes: SpanAttributes = [:]) {
        uploadSpan?.addEvent(SpanEvent(name: name, attributes: attributes))
    }
}

/// Writes a span's context into request headers.
struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout [(String, String)]) {
        headers.removeAll { $0.0.caseInsensitiveCompare(key) == .orderedSame }
        headers.append((key, value))
    }
}
