import Foundation
import CoreMetrics
import Logging
import NIOCore
import NIOHTTP1
import Testing
import TusCore
@testable import TusClient

/// The one retry loop, fed verdicts without a server: what counts as a
/// failure, and what is waited out.
@Suite struct RetryLoopTests {
    static let upload = URL(string: "http://tus.example/files/abc")!

    final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var names: [String] = []
        func record(_ event: UploadEvent) {
            let name = switch event {
            case .retrying: "retry"
            case .waitingForRelease: "wait"
            default: "other"
            }
            lock.withLock { names.append(name) }
        }
        var all: [String] { lock.withLock { names } }
    }

    func loop(retries: Int, events: Events) -> RetryLoop {
        var options = UploadOptions()
        options.retryPolicy = RetryPolicy(retries: retries, delay: .milliseconds(1), maximumDelay: .milliseconds(1))
        options.stallTimeout = .seconds(5)
        options.onEvent = { events.record($0) }
        return RetryLoop(options: options, logger: Logger(label: "RetryLoopTests"), metrics: UploadMetrics(factory: NOOPMetricsHandler.instance))
    }

    func answer(_ code: Int) -> Outcome {
        .answer(Exchange(status: HTTPResponseStatus(statusCode: code), headers: [:], body: ByteBuffer()))
    }

    @discardableResult
    func feed(_ loop: inout RetryLoop, _ sent: SentRequest, _ outcome: Outcome) async throws -> RetryLoop.Step {
        var sent = sent
        sent.afterAbandoned = loop.afterAbandoned
        return try await loop.handle(Verdict.decide(sent, outcome), of: sent, outcome: outcome)
    }

    @Test func afterAnAbandonedRequestABusyServerIsWaitedOutWithoutCountingFailures() async throws {
        let events = Events()
        var loop = loop(retries: 1, events: events)
        let patch = SentRequest(kind: .append, url: Self.upload, offset: 0, bodyCount: 100, size: 1000)
        let head = SentRequest(kind: .offset, url: Self.upload, size: 1000)
        // The PATCH stalls with bytes on their way: abandoned, one failure.
        let stalled = TransportFailure(error: TusError(.timeout, "nothing moved"), bytesSent: 50, stalled: true)
        try await feed(&loop, patch, .noAnswer(stalled))
        #expect(loop.failures == 1)
        #expect(loop.afterAbandoned)
        // HEADs the busy server leaves unanswered, then 423s and 503s:
        // waited out, though one more failure would end the upload.
        let silent = TransportFailure(error: TusError(.timeout, "nothing moved"), bytesSent: 0, stalled: true)
        for _ in 0..<4 { try await feed(&loop, head, .noAnswer(silent)) }
        for code in [423, 503, 423, 503] { try await feed(&loop, patch, answer(code)) }
        #expect(loop.failures == 1)
        #expect(events.all == ["retry"] + Array(repeating: "wait", count: 8))
        // The server lets go: the upload moves, and failures start again.
        loop.progressed()
        #expect(loop.failures == 0)
    }

    @Test func withoutAnAbandonedRequestA423IsAFailureLikeAny() async throws {
        let events = Events()
        var loop = loop(retries: 1, events: events)
        let patch = SentRequest(kind: .append, url: Self.upload, offset: 0, bodyCount: 100, size: 1000)
        try await feed(&loop, patch, answer(423))
        #expect(loop.failures == 1)
        let error = await #expect(throws: TusError.self) { try await feed(&loop, patch, answer(423)) }
        #expect(error?.message.contains("gave up after 1 retry") == true)
        // A 503 is a 5xx like any without an abandoned request.
        var fresh = self.loop(retries: 0, events: events)
        await #expect(throws: TusError.self) { try await feed(&fresh, patch, answer(503)) }
    }

    @Test func aRefusalNoPolicyAcceptsStopsAtOnceAndAStopIsThrown() async throws {
        let events = Events()
        var loop = loop(retries: 5, events: events)
        let patch = SentRequest(kind: .append, url: Self.upload, offset: 0, bodyCount: 100, size: 1000)
        let refused = await #expect(throws: TusError.self) { try await feed(&loop, patch, answer(401)) }
        #expect(refused?.code == .authenticationFailed)
        await #expect(throws: TusError.self) { try await feed(&loop, patch, answer(412)) }
        #expect(events.all.isEmpty)
        // What is no failure goes back to the caller.
        guard case .act(.moved(to: 100)) = try await feed(
            &loop, patch, .answer(Exchange(status: .noContent, headers: ["Upload-Offset": "100"], body: ByteBuffer())))
        else { Issue.record("not acted on"); return }
    }
}
