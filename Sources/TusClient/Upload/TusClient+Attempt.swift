import Foundation
import NIOCore
import NIOHTTP1
import Tracing
import TusCore

/// One request sent and judged: the step every request of an upload takes.
struct Attempt: Sendable {
    var sent: SentRequest
    var outcome: Outcome
    var verdict: Verdict
    /// How long the answer took, when one came.
    var seconds: Double?
}

extension TusClient {
    /// Sends the request `sent` describes and judges its outcome
    /// (``Verdict/decide(_:_:)``).
    ///
    /// - Throws: what ``send(_:_:headers:body:options:on:)`` throws besides a
    ///   request that got no answer, which is an outcome like an answer.
    func attempt(
        _ sent: SentRequest, headers: [(String, String)], body: RequestBody? = nil,
        options: UploadOptions?, on loop: (any EventLoop)? = nil, onBodySent: (@Sendable (Int) -> Void)? = nil,
        onInterim: (@Sendable (HTTPResponseHead) -> Void)? = nil
    ) async throws -> Attempt {
        try await tracer.withSpan(sent.kind.method, ofKind: .client) { span in
            span.attributes["http.request.method"] = sent.kind.method
            span.attributes["url.full"] = sent.url.forMessages
            span.attributes["http.request.body.size"] = sent.bodyCount
            var headers = headers
            tracer.inject(ServiceContext.current ?? .topLevel, into: &headers, using: HeaderInjector())
            let attempt: Attempt
            do {
                attempt = try await attemptInSpan(
                    sent, headers: headers, body: body, options: options, on: loop, onBodySent: onBodySent, onInterim: onInterim)
            } catch let error as CancellationError {
                span.attributes["tus.verdict"] = RequestLog.cancelledWord
                throw error
            }
            switch attempt.outcome {
            case .answer(let exchange):
                span.attributes["http.response.status_code"] = Int(exchange.status.code)
                if exchange.status.code >= 400 { span.setStatus(SpanStatus(code: .error)) }
            case .noAnswer(let failure):
                span.attributes["error.type"] = failure.stalled ? "stalled" : "no_answer"
                span.setStatus(SpanStatus(code: .error, message: failure.error.message))
            }
            span.attributes["tus.verdict"] = RequestLog.word(for: attempt.verdict)
            return attempt
        }
    }

    private func attemptInSpan(
        _ sent: SentRequest, headers: [(String, String)], body: RequestBody?,
        options: UploadOptions?, on loop: (any EventLoop)?, onBodySent: (@Sendable (Int) -> Void)?,
        onInterim: (@Sendable (HTTPResponseHead) -> Void)?
    ) async throws -> Attempt {
        var sent = sent
        let outcome: Outcome
        var seconds: Double?
        do {
            let timed = try await send(
                HTTPMethod(rawValue: sent.kind.method), sent.url, headers: headers, body: body, options: options,
                speech: sent.speech, on: loop, onBodySent: onBodySent, onInterim: onInterim)
            outcome = .answer(timed.exchange)
            seconds = timed.seconds
            if let proxy = timed.proxy {
                sent.proxy = SentRequest.Proxy(address: ConnectionFailure.address(of: proxy), hasCredentials: proxy.user != nil)
            }
        } catch let failure as TransportFailure {
            outcome = .noAnswer(failure)
        } catch is CancellationError {
            RequestLog.logCancelled(sent, to: logger)
            metrics.recordCancelled(sent)
            throw CancellationError()
        }
        let attempt = Attempt(sent: sent, outcome: outcome, verdict: Verdict.decide(sent, outcome), seconds: seconds)
        RequestLog.log(attempt, to: logger)
        metrics.record(attempt)
        return attempt
    }

    /// Sends the request until its verdict is one to act on, through the
    /// retry loop `retries`: for requests that stand alone (`OPTIONS`, a
    /// stored URL's `HEAD`, the final concatenation, `DELETE`).
    ///
    /// - Throws: `TusError` when the retry loop gives up or the verdict is
    ///   to stop; `CancellationError`.
    func perform(
        _ sent: SentRequest, headers: [(String, String)], options: UploadOptions?, retries: inout RetryLoop,
        on loop: (any EventLoop)? = nil
    ) async throws -> Attempt {
        while true {
            try Task.checkCancellation()
            var sent = sent
            sent.afterAbandoned = retries.afterAbandoned
            let attempt = try await attempt(sent, headers: headers, options: options, on: loop)
            switch try await retries.handle(attempt.verdict, of: sent, outcome: attempt.outcome) {
            case .act: return attempt
            case .again: continue
            }
        }
    }
}
