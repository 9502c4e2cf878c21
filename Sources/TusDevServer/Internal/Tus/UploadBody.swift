import Foundation

/// A request body on its way into an upload: the bytes go to an
/// ``UploadBodySink``, the answers come from ``TusDecisions``.
///
/// ``FaultInjection`` wraps it to cut the connection or fail the checksum.
///
/// A newer request for the upload stops it through the `stop` the channel
/// handler gives (``started(stop:)``): the body then ends where it is, its
/// bytes kept as for any body that ends (dropped when a checksum cannot
/// match), and the upload is let go.
final class UploadBody: RequestBody {
    let sink: UploadBodySink
    private let decisions: TusDecisions

    init(sink: UploadBodySink, decisions: TusDecisions) {
        self.sink = sink
        self.decisions = decisions
    }

    /// The plan the body carries out.
    var plan: BodyPlan { sink.plan }

    func started(stop: @escaping @Sendable () -> Void) {
        sink.whenAskedToStop(stop)
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> BodyStep {
        switch sink.write(bytes) {
        case .written:
            return .more
        case .pastLimit:
            sink.rollBack()
            return .answer(decisions.bodyPastLimit(plan))
        case .failed:
            sink.rollBack()
            return .answer(decisions.bodyNotWritten(plan))
        }
    }

    func end() -> BodyEnd {
        guard sink.checksumMatches() else {
            return endWithChecksumMismatch()
        }
        let record = sink.commit()
        return .answer(decisions.bodyStored(plan, offset: sink.offset, record: record))
    }

    /// Ends as if the digest did not match the request's `Upload-Checksum`:
    /// the bytes are discarded and the answer is 460.
    func endWithChecksumMismatch() -> BodyEnd {
        sink.rollBack()
        return .answer(decisions.checksumMismatch(plan))
    }

    func connectionLost() {
        sink.abandon()
    }
}
