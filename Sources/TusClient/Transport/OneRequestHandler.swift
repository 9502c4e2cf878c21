import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Sends one request on a fresh HTTP/1.1 connection, its body a piece at a
/// time, and completes `outcome` with the answer (at most 1 MiB of its
/// body kept) and the interim (1xx) answers before it, each also handed to
/// `onInterim` as it comes. The connection's decoder must forward
/// informational answers (see ``OneRequestConnection``).
///
/// At most ``PiecePump/limit`` pieces are handed to the connection and not
/// yet written, and none while the connection is not writable: memory holds
/// a few pieces whatever the body's size. An answer that comes while the
/// body still goes out ends the request: the rest is not sent. A refusal
/// (400 or more) is the answer even when the connection then breaks before
/// the answer is whole.
///
/// Lives on its channel's event loop, like every NIO handler; ``outcome``
/// is completed once, and whatever completes it first wins (the request's
/// owner also fails it, for a deadline, a stall or a cancellation).
final class OneRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// The most answer body kept; the rest is read and dropped.
    static let maximumBodySize = 1 << 20

    private let head: HTTPRequestHead
    private let body: RequestBody?
    private let fromFile: Bool
    private let progress: RequestProgress
    private let outcome: EventLoopPromise<Exchange>
    private let onInterim: (@Sendable (HTTPResponseHead) -> Void)?

    private var context: ChannelHandlerContext?
    private var isFinished = false
    private var isStarted = false
    private var sent = 0
    private var onTheirWay = 0
    private var isEndWritten = false
    private var answerHead: HTTPResponseHead?
    private var answerBody = ByteBuffer()
    private var interim: [HTTPResponseHead] = []

    init(
        head: HTTPRequestHead, body: RequestBody?, fromFile: Bool, progress: RequestProgress, outcome: EventLoopPromise<Exchange>,
        onInterim: (@Sendable (HTTPResponseHead) -> Void)? = nil
    ) {
        self.onInterim = onInterim
        self.head = head
        self.body = body
        self.fromFile = fromFile
        self.progress = progress
        self.outcome = outcome
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        outcome.futureResult.assumeIsolated().whenComplete { [self] _ in isFinished = true }
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pump()
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        progress.received()
        switch unwrapInboundIn(data) {
        case .head(let head) where head.status.code < 200 && head.status != .switchingProtocols:
            interim.append(head)
            onInterim?(head)
        case .head(let head):
            answerHead = head
        case .body(var part):
            let room = Self.maximumBodySize - answerBody.readableBytes
            if room > 0, let kept = part.readSlice(length: min(room, part.readableBytes)) {
                answerBody.writeImmutableBuffer(kept)
            }
        case .end:
            guard let answerHead else { return }
            outcome.succeed(Exchange(status: answerHead.status, headers: answerHead.headers, body: answerBody, interim: interim))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(HTTPClientError.remoteConnectionClosed)
        context.fireChannelInactive()
    }

    /// Ends the request with `error`, unless the head of an answer came
    /// (such as a refusal while the body still went out): then that is the
    /// answer.
    private func fail(_ error: any Error) {
        if let answerHead {
            outcome.succeed(Exchange(status: answerHead.status, headers: answerHead.headers, body: answerBody, interim: interim))
        } else {
            outcome.fail(error)
        }
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !isStarted, !isFinished else { return }
        isStarted = true
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        pump()
    }

    /// Hands pieces of the body to the connection while it takes them,
    /// then the end of the request.
    private func pump() {
        guard let context, isStarted, !isFinished, !isEndWritten else { return }
        let count = body?.count ?? 0
        while let body, sent < count, onTheirWay < PiecePump.limit, context.channel.isWritable {
            let piece: IOData
            do {
                piece = try body.piece(after: sent, fromFile: fromFile)
            } catch {
                outcome.fail(error)
                return
            }
            let bytes = piece.readableBytes
            sent += bytes
            onTheirWay += 1
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success:
                    progress.wrote(bytes)
                    onTheirWay -= 1
                    pump()
                case .failure(let error):
                    fail(error)
                }
            }
            context.writeAndFlush(wrapOutboundOut(.body(piece)), promise: written)
        }
        if sent >= count {
            isEndWritten = true
            let ended = context.eventLoop.makePromise(of: Void.self)
            ended.futureResult.assumeIsolated().whenSuccess { [self] in progress.sentEverything(hadBody: count > 0) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: ended)
        }
    }
}

