import Foundation

/// A request body on its way into an upload: the bytes go to an
/// ``UploadBodySink``, the answers come from the protocol's decisions
/// (``TusDecisions`` or ``DraftDecisions``).
///
/// ``FaultInjection`` wraps it to cut the connection or fail the checksum.
///
/// A newer request for the upload stops it through the `stop` the channel
/// handler gives (``started(stop:)``): the body then ends where it is, its
/// bytes kept as for any body that ends (dropped when a checksum cannot
/// match), and the upload is let go. A stopped body never completes a
/// draft upload: its `Upload-Complete: ?1` spoke of bytes that did not all
/// arrive.
final class UploadBody: RequestBody {
    let sink: UploadBodySink
    let interimResponse: Response?
    private let answers: any UploadDecisions
    /// Set (from any thread) when a newer request stops the body.
    private let stopped = Locked(false)

    init(sink: UploadBodySink, answers: any UploadDecisions, interimResponse: Response? = nil) {
        self.sink = sink
        self.answers = answers
        self.interimResponse = interimResponse
    }

    /// The plan the body carries out.
    var plan: BodyPlan { sink.plan }

    func started(stop: @escaping @Sendable () -> Void) {
        let stopped = self.stopped
        sink.whenAskedToStop {
            stopped.withLock { $0 = true }
            stop()
        }
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> BodyStep {
        switch sink.write(bytes) {
        case .written:
            return .more
        case .pastLimit:
            sink.rollBack()
            return .answer(answers.bodyPastLimit(plan))
        case .failed:
            sink.rollBack()
            return .answer(answers.bodyNotWritten(plan))
        }
    }

    func end() -> BodyEnd {
        guard sink.checksumMatches() else {
            return endWithChecksumMismatch()
        }
        let completes = plan.completesUpload && !stopped.withLock { $0 }
        let record = sink.commit(markingComplete: completes)
        return .answer(answers.bodyStored(plan, offset: sink.offset, record: record))
    }

    /// Ends as if the digest did not match the request's `Upload-Checksum`:
    /// the bytes are discarded and the answer is 460.
    func endWithChecksumMismatch() -> BodyEnd {
        sink.rollBack()
        return .answer(answers.checksumMismatch(plan))
    }

    func connectionLost() {
        sink.abandon()
    }
}
