import Foundation

/// The stage that plays queued ``Fault``s, around the protocols' decisions
/// (tus 1.0's and the draft's alike) and the body sink; the stages inside
/// it know nothing of faults.
///
/// Each request consumes at most one fault, the first queued one it
/// matches (by its effective method):
///
/// - ``Fault/stall(seconds:method:)``: before anything else, the request
///   waits (the channel handler reads nothing meanwhile), then goes on to
///   the next stage.
/// - ``Fault/status(_:method:)``: answered with the status; the next stage
///   never sees the request.
/// - ``Fault/dropConnectionDuringPatch(afterBytes:)`` and
///   ``Fault/checksumMismatch``: only a `PATCH` the next stage accepted (it
///   answered with an ``UploadBody``, maybe after waiting for another
///   request to let the upload go) matches; its body is wrapped in a
///   ``CutBody`` or a ``FailingChecksumBody``. A wrapped body stopped by a
///   newer request ends as the fault ends it: a cut one with no answer, a
///   failing one with 460.
struct FaultInjection: Responder {
    let server: ServerContext
    let next: any Responder

    /// The longest stall played: a day.
    static let longestStall: Double = 86_400

    func respond(to request: Request) -> Outcome {
        let method = request.effectiveMethod
        if case .stall(let seconds, _)? = server.takeFault(where: { fault in
            if case .stall(_, let m) = fault { return m.uppercased() == method }
            return false
        }) {
            let next = self.next
            let bounded = seconds.isFinite ? min(max(seconds, 0), Self.longestStall) : 0
            return .wait(seconds: bounded, then: { next.respond(to: request) })
        }
        if case .status(let code, _)? = server.takeFault(where: { fault in
            if case .status(_, let m) = fault { return m.uppercased() == method }
            return false
        }) {
            // Only a final status can answer a request.
            let status = (200...999).contains(code) ? code : 500
            return .respond(Response(status: status, body: "injected fault: status \(status)\n"))
        }

        return next.respond(to: request).afterWaits(playBodyFault)
    }

    /// Wraps the body of an accepted `PATCH` if a body fault is queued.
    private func playBodyFault(_ outcome: Outcome) -> Outcome {
        guard case .receive(let body) = outcome, let upload = body as? UploadBody, upload.plan.createdLocation == nil
        else { return outcome }
        let hasChecksum = upload.plan.checksum != nil
        switch server.takeFault(where: { fault in
            switch fault {
            case .dropConnectionDuringPatch: true
            case .checksumMismatch: hasChecksum
            case .status, .stall: false
            }
        }) {
        case .dropConnectionDuringPatch(let bytes)?:
            return .receive(CutBody(upload, after: max(0, bytes)))
        case .checksumMismatch?:
            return .receive(FailingChecksumBody(upload))
        default:
            return outcome
        }
    }
}

/// Passes the first bytes of a body on, then closes the connection with no
/// answer, as a network that fails mid-request would: what was passed on is
/// kept or dropped as for a lost connection (``RequestBody/connectionLost()``).
/// A body that ends first is passed on whole, and the connection is still
/// closed without an answer.
final class CutBody: RequestBody {
    private let inner: any RequestBody
    private var remaining: Int

    init(_ inner: any RequestBody, after bytes: Int) {
        self.inner = inner
        remaining = bytes
    }

    var interimResponse: Response? { inner.interimResponse }

    func started(stop: @escaping @Sendable () -> Void) {
        inner.started(stop: stop)
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> BodyStep {
        let cut = bytes.count >= remaining
        let passed = UnsafeRawBufferPointer(rebasing: bytes.prefix(remaining))
        remaining -= passed.count
        let step = inner.receive(passed)
        guard case .more = step, cut else { return step }
        inner.connectionLost()
        return .hangUp
    }

    func end() -> BodyEnd {
        inner.connectionLost()
        return .hangUp
    }

    func connectionLost() {
        inner.connectionLost()
    }
}

/// Answers a body as if its digest did not match its `Upload-Checksum`,
/// whatever it is: the bytes are discarded, the answer is 460.
final class FailingChecksumBody: RequestBody {
    private let inner: UploadBody

    init(_ inner: UploadBody) {
        self.inner = inner
    }

    var interimResponse: Response? { inner.interimResponse }

    func started(stop: @escaping @Sendable () -> Void) {
        inner.started(stop: stop)
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> BodyStep {
        inner.receive(bytes)
    }

    func end() -> BodyEnd {
        inner.endWithChecksumMismatch()
    }

    func connectionLost() {
        inner.connectionLost()
    }
}
