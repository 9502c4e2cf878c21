import Foundation
import Logging
import CoreMetrics
import NIOCore
import NIOHTTP1
import NIOPosix

/// Speaks HTTP/1.1 on one connection for a ``Responder``; SwiftNIO only,
/// nothing tus-specific.
///
/// For each request it hands the head to the responder and does what the
/// ``Outcome`` says: answer at the end of the request (its body read and
/// dropped), stream the body into a ``RequestBody`` a buffer at a time,
/// pause (hold reads, keep what already arrived) for a while, until woken
/// from another thread, or until work done off the event loop finishes. A
/// body being received can be stopped from any thread: it is ended where it
/// is, answered, and the connection closed. It answers `Expect:
/// 100-continue`, sends a body's interim answer (the draft's `104`) before
/// reading it, writes responses (with `Content-Length` and the headers the
/// request's answers carry) and closes the connection when the client
/// asked for it or a refused body will not follow.
final class HTTPChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum BodyMode {
        /// Between requests, or the body is irrelevant.
        case none
        /// Drop the body; answer with this at its end.
        case discard(Response)
        /// The body goes to a receiver.
        case receive(any RequestBody)
        /// The answer went out already, or the connection is closing.
        case dropped
    }

    private let responder: any Responder
    private let threadPool: NIOThreadPool
    private let answerHeaders: @Sendable (Request) -> [(name: String, value: String)]
    private let logger: Logger
    private let metrics: any MetricsFactory

    private var mode: BodyMode = .none
    private var head: HTTPRequestHead?
    private var request: Request?
    private var keepAlive = true

    // While paused (a wait, or work off the event loop), arriving parts are
    // kept in order and reads are held.
    private var paused = false
    private var pausedParts: [HTTPServerRequestPart] = []
    private var readPending = false
    private var pauseTask: Scheduled<Void>?
    /// Counts pauses, so the end of one the connection gave up on is ignored.
    private var pauseNumber = 0
    /// When the current request's head arrived, for its log line and its
    /// duration.
    private var requestStarted: NIODeadline?

    /// - Parameters:
    ///   - answerHeaders: the headers added to every answer (interim ones
    ///     included) to the request given.
    ///   - threadPool: runs ``Outcome/offload(_:)`` work.
    init(
        responder: any Responder, threadPool: NIOThreadPool,
        answerHeaders: @escaping @Sendable (Request) -> [(name: String, value: String)],
        logger: Logger, metrics: any MetricsFactory
    ) {
        self.metrics = metrics
        self.responder = responder
        self.threadPool = threadPool
        self.answerHeaders = answerHeaders
        self.logger = logger
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if paused {
            pausedParts.append(part)
            return
        }
        handle(part, context: context)
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        endPause()
        pausedParts = []
        if case .receive(let body) = mode {
            body.connectionLost()
        }
        mode = .none
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        endPause()
        if case .receive(let body) = mode {
            body.connectionLost()
        }
        mode = .none
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("tus connection error: \(error)")
        context.close(promise: nil)
    }

    // MARK: Request parts

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            begin(head, context: context)
        case .body(let buffer):
            guard case .receive(let body) = mode else { return }
            let step = buffer.withUnsafeReadableBytes { body.receive($0) }
            switch step {
            case .more:
                break
            case .answer(let response):
                mode = .discard(response)
            case .hangUp:
                hangUp(context: context)
            }
        case .end:
            switch mode {
            case .receive(let body):
                mode = .none
                switch body.end() {
                case .answer(let response): send(response, context: context)
                case .hangUp: hangUp(context: context)
                }
            case .discard(let response):
                mode = .none
                send(response, context: context)
            case .none, .dropped:
                mode = .none
            }
        }
    }

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        mode = .none
        keepAlive = head.isKeepAlive
        var localAuthority = "127.0.0.1"
        if let address = context.channel.localAddress, let ip = address.ipAddress, let port = address.port {
            localAuthority = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        let request = Request(
            method: head.method.rawValue, target: head.uri,
            headers: Headers(head.headers.map { (name: $0.name, value: $0.value) }), localAuthority: localAuthority)
        self.head = head
        self.request = request
        requestStarted = .now()
        proceed(with: responder.respond(to: request), context: context)
    }

    private func proceed(with outcome: Outcome, context: ChannelHandlerContext) {
        guard let head, let request else { return }
        switch outcome {
        case .respond(let response):
            if request.hasBody, request.expectsContinue {
                // The client waits for our word before sending the body:
                // answer now and close, as the body will not follow.
                keepAlive = false
                mode = .dropped
                send(response, context: context)
            } else {
                mode = .discard(response)
            }
        case .receive(let body):
            mode = .receive(body)
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context, body), eventLoop: loop)
            body.started(stop: {
                loop.execute {
                    let (handler, context, body) = bound.value
                    handler.stop(body, context: context)
                }
            })
            if request.expectsContinue {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
            if let interim = body.interimResponse {
                // Before any byte of the body is read: a client keeps the
                // upload's URL from it, so a cut in the body loses nothing.
                var headers = HTTPHeaders()
                for (name, value) in answerHeaders(request) + interim.headers { headers.add(name: name, value: value) }
                let status = HTTPResponseStatus(statusCode: interim.status, reasonPhrase: interim.reasonPhrase ?? "")
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                    promise: nil)
            }
        case .wait(let seconds, let next):
            let number = beginPause()
            let bound = NIOLoopBound((self, context, next), eventLoop: context.eventLoop)
            pauseTask = context.eventLoop.scheduleTask(in: Self.delay(seconds)) {
                let (handler, context, next) = bound.value
                handler.resume(number, context: context, with: next)
            }
        case .waitForWakeUp(let seconds, let register, let next):
            let number = beginPause()
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context, next), eventLoop: loop)
            pauseTask = loop.scheduleTask(in: Self.delay(seconds)) {
                let (handler, context, next) = bound.value
                handler.resume(number, context: context) { next(false) }
            }
            register {
                loop.execute {
                    let (handler, context, next) = bound.value
                    handler.resume(number, context: context) { next(true) }
                }
            }
        case .offload(let work):
            let number = beginPause()
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            threadPool.runIfActive(eventLoop: context.eventLoop, work).whenComplete { result in
                let (handler, context) = bound.value
                let response: Response
                switch result {
                case .success(let answer):
                    response = answer
                case .failure:
                    // The pool has stopped (the server is shutting down):
                    // the work still runs, here, since it may hold uploads.
                    response = work()
                }
                handler.resume(number, context: context) { .respond(response) }
            }
        }
    }

    /// `seconds` as a delay: none when negative or not a number.
    private static func delay(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64((seconds.isFinite ? max(seconds, 0) : 0) * 1_000_000_000))
    }

    private func beginPause() -> Int {
        paused = true
        pauseNumber += 1
        return pauseNumber
    }

    private func endPause() {
        pauseTask?.cancel()
        pauseTask = nil
        paused = false
        pauseNumber += 1
    }

    /// Ends pause `number` (unless the connection gave up on it) with what
    /// `next` returns, then handles the parts that arrived meanwhile.
    private func resume(_ number: Int, context: ChannelHandlerContext, with next: () -> Outcome) {
        guard paused, number == pauseNumber else { return }
        paused = false
        pauseTask?.cancel()
        pauseTask = nil
        proceed(with: next(), context: context)
        while !paused, !pausedParts.isEmpty {
            handle(pausedParts.removeFirst(), context: context)
        }
        if !paused, readPending {
            readPending = false
            context.read()
        }
    }

    /// Ends `body` where it is, if it is still being received: reads no
    /// more of it, answers as ``RequestBody/end()`` says, and closes the
    /// connection, since the rest of the body may still come.
    private func stop(_ body: any RequestBody, context: ChannelHandlerContext) {
        guard case .receive(let current) = mode, current === body else { return }
        keepAlive = false
        mode = .dropped
        switch body.end() {
        case .answer(let response): send(response, context: context)
        case .hangUp: hangUp(context: context)
        }
    }

    private func hangUp(context: ChannelHandlerContext) {
        mode = .dropped
        context.close(promise: nil)
    }

    // MARK: Responses

    /// One line per request at `.info` once it is answered: its method, path
    /// (no query, no header, no body) and status, and how long it took; and
    /// the request's duration as `http.server.request.duration`.
    private func logAnswer(_ status: Int) {
        guard let request, let started = requestStarted else { return }
        requestStarted = nil
        let nanoseconds = (NIODeadline.now() - started).nanoseconds
        let seconds = (Double(nanoseconds) / 1e6).rounded() / 1000
        logger.info("\(request.effectiveMethod) \(request.path) \(status) \(seconds) s", metadata: [
            "http.request.method": "\(request.effectiveMethod)", "url.path": "\(request.path)",
            "http.response.status_code": "\(status)", "tus.request.seconds": "\(seconds)",
        ])
        Timer(
            label: "http.server.request.duration",
            dimensions: [("http.request.method", request.effectiveMethod), ("http.response.status_code", String(status))],
            factory: metrics
        ).recordNanoseconds(nanoseconds)
    }

    private func send(_ response: Response, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        if let request {
            for (name, value) in answerHeaders(request) { headers.add(name: name, value: value) }
        }
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        var body: ByteBuffer?
        if response.status != 204 {
            let text = response.body ?? ""
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            if !text.isEmpty {
                headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
                body = context.channel.allocator.buffer(string: text)
            }
        }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status, reasonPhrase: response.reasonPhrase ?? "")
        logAnswer(response.status)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if let body {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let close = !keepAlive
        let promise: EventLoopPromise<Void>? = close ? context.eventLoop.makePromise() : nil
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
        if let promise {
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
