import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TusCore
import TusProtocol


/// A request that got no answer.
struct NoAnswer: Error {
    /// What AsyncHTTPClient or the network reported.
    var error: any Error
    /// How many body bytes the connection had written when it failed.
    var bytesSent: Int
}

/// How a request that got no whole answer ends, whichever way it was sent.
enum RequestEnd {
    /// What a request that failed with `error` throws: `CancellationError`
    /// when its task was cancelled; `TusError` (`.timeout`) when its
    /// deadline passed; a `TusError` as it is (a file that could not be
    /// read while the request sent it); ``NoAnswer`` for the rest.
    static func failure(_ error: any Error, label: String, timeout: Duration, deadlinePassed: Bool, bytesSent: Int) -> any Error {
        if error is CancellationError || (error as? HTTPClientError) == .cancelled || _Concurrency.Task.isCancelled {
            return CancellationError()
        }
        if deadlinePassed {
            return TusError(.timeout, "\(label): no whole answer within \(timeout)", cause: error)
        }
        if let error = error as? TusError { return error }
        return NoAnswer(error: error, bytesSent: bytesSent)
    }
}

/// A request whose bytes stopped moving for longer than its stall timeout.
struct Stalled: Error {
    var seconds: Duration
}

extension HTTPClient {
    /// Whether every connection of this client runs on one event loop (one
    /// thread), as those of ``TusClient/sharedHTTPClient`` do.
    var hasOneEventLoop: Bool {
        var loops = eventLoopGroup.makeIterator()
        return loops.next() != nil && loops.next() == nil
    }

    /// Sends one request and reads its whole answer (at most 1 MiB of body).
    ///
    /// A body is sent a piece at a time on `loop`, which also runs the
    /// request's delegate: a file range is read as it goes, so memory holds
    /// a few pieces whatever the range's size.
    ///
    /// - Throws: `CancellationError` when the task is cancelled;
    ///   ``TusCore/TusError`` when a file range cannot be read, or
    ///   (`.timeout`) when no whole answer came within `timeout`; ``NoAnswer``
    ///   for every other failure, wrapping ``Stalled`` when neither a byte
    ///   went out nor one came in for `stallTimeout`.
    func exchange(
        _ method: HTTPMethod,
        _ url: URL,
        headers: [(String, String)],
        body: RequestBody? = nil,
        tls: TLSConfiguration?,
        on loop: any EventLoop,
        timeout: Duration,
        stallTimeout: Duration?,
        peerPort: Int? = nil,
        onBodySent: (@Sendable (Int) -> Void)? = nil
    ) async throws -> Exchange {
        let label = "\(method.rawValue) \(url.forMessages)"
        let progress = RequestProgress(loop: loop, peerPort: peerPort, onBodySent: onBodySent)
        let pumps = PiecePumps(nil)
        var requestBody: HTTPClient.Body?
        if let body {
            // Without TLS on the connection, a file is sent with sendfile,
            // when the client has one event loop: an upload's requests share
            // one file descriptor, which NIO lets one thread use at a time.
            let fromFile = url.scheme?.lowercased() == "http" && hasOneEventLoop
            requestBody = .stream(contentLength: Int64(body.count)) { writer in
                // Called again when a redirect sends the body again.
                let pump = PiecePump(body: body, fromFile: fromFile, writer: writer, loop: loop, stallTimeout: stallTimeout)
                pumps.value = pump
                return pump.start()
            }
        }
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(
                url: url.absoluteString, method: method, headers: HTTPHeaders(headers), body: requestBody, tlsConfiguration: tls)
        } catch {
            throw TusError(.invalidArgument, "\(label): not a URL this client can send to", cause: error)
        }
        let delegate = PiecePumpDelegate(request: request, pumps: pumps, progress: progress)
        let task = execute(
            request: request, delegate: delegate,
            eventLoop: .delegate(on: loop), deadline: .now() + TimeAmount(timeout), logger: nil)
        progress.watch(task, stallTimeout: stallTimeout)
        // An answer can come before the whole body went out (a refusal):
        // then the pump stops there.
        defer {
            pumps.value?.stop(CancellationError())
            progress.stopWatching()
        }
        do {
            let response = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            return Exchange(status: response.status, headers: response.headers, body: response.body ?? ByteBuffer())
        } catch {
            // An answer, such as a proxy's 413, can come while the body
            // still goes out; the server then closes the connection, and
            // the write that meets the closed connection fails the request.
            // The answer is the answer.
            if !(error is CancellationError), !_Concurrency.Task.isCancelled, let head = delegate.answerHead {
                return Exchange(status: head.status, headers: head.headers, body: ByteBuffer())
            }
            let deadline = (error as? HTTPClientError).map { $0 == .deadlineExceeded || $0 == .readTimeout } ?? false
            throw RequestEnd.failure(error, label: label, timeout: timeout, deadlinePassed: deadline, bytesSent: progress.bytesSent)
        }
    }
}

/// What a request has moved, and the watchdog that abandons it once nothing
/// moves for its stall timeout. Touched on the request's loop only.
///
/// Moving is any of: the connection accepted body bytes (each piece the
/// pump hands over is small enough to be accepted well within the timeout,
/// see ``PiecePump``), the system's send queue to the server shrank (bytes
/// handed over earlier crossed the link, see ``SendQueue``), part of the
/// answer arrived. So a body the system holds and a slow link drains is
/// never a stall, however slow, and a link that delivered every byte but
/// brings no answer for the stall timeout is one. Where the send queue
/// cannot be read, waiting once the body is out is not a stall: the
/// request's deadline bounds that wait.
final class RequestProgress: @unchecked Sendable {
    private let loop: any EventLoop
    /// The port the connection goes to (the server's, or the proxy's).
    private let peerPort: Int?
    private var lastMove = NIODeadline.now()
    private var lastQueue: Int?
    private var check: RepeatedTask?
    private var sentBytes = LockedCount()
    private var bodyIsOut = false
    /// Told how many body bytes went out, at most every 50 ms.
    private let onBodySent: (@Sendable (Int) -> Void)?
    private var lastReport = NIODeadline.distantPast

    init(loop: any EventLoop, peerPort: Int?, onBodySent: (@Sendable (Int) -> Void)? = nil) {
        self.loop = loop
        self.peerPort = peerPort
        self.onBodySent = onBodySent
    }

    /// How many body bytes the connection has written.
    var bytesSent: Int { sentBytes.value }

    /// A body part was written (`bytes` of it).
    func wrote(_ bytes: Int) {
        let now = NIODeadline.now()
        lastMove = now
        sentBytes.add(bytes)
        if let onBodySent, now - lastReport >= .milliseconds(50) {
            lastReport = now
            onBodySent(sentBytes.value)
        }
    }

    /// The whole request went out to the system; with `hadBody`, the
    /// system's send queue tells from now on whether the link moves.
    func sentEverything(hadBody: Bool) {
        lastMove = .now()
        if hadBody { bodyIsOut = true }
    }

    /// Part of the answer arrived.
    func received() {
        lastMove = .now()
    }

    /// Fails `task` once nothing has moved for `stallTimeout`.
    func watch<Response>(_ task: HTTPClient.Task<Response>, stallTimeout: Duration?) {
        watch(stallTimeout: stallTimeout) { task.fail(reason: Stalled(seconds: stallTimeout ?? .zero)) }
    }

    /// Calls `onStall` once nothing has moved for `stallTimeout`.
    func watch(stallTimeout: Duration?, onStall: @escaping @Sendable () -> Void) {
        guard let stallTimeout, stallTimeout > .zero else { return }
        let limit = TimeAmount(stallTimeout)
        let every = TimeAmount.nanoseconds(max(limit.nanoseconds / 8, 1_000_000))
        loop.execute { [self] in
            lastMove = .now()
            check = loop.scheduleRepeatedTask(initialDelay: every, delay: every) { [self] repeated in
                lookAtTheSendQueue()
                if NIODeadline.now() - lastMove >= limit {
                    repeated.cancel()
                    onStall()
                }
            }
        }
    }

    /// Counts a send queue that changed as a move, and once the body is
    /// out, a queue that cannot be read too.
    private func lookAtTheSendQueue() {
        guard let peerPort, let queue = SendQueue.bytes(toPort: peerPort) else {
            if bodyIsOut { lastMove = .now() }
            return
        }
        if queue != lastQueue {
            if lastQueue != nil { lastMove = .now() }
            lastQueue = queue
        }
    }

    func stopWatching() {
        loop.execute { [self] in
            check?.cancel()
            check = nil
        }
    }
}

/// An integer read from any thread and written from one.
struct LockedCount: @unchecked Sendable {
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var value = 0
    }
    private let box = Box()
    var value: Int { box.lock.withLock { box.value } }
    func add(_ amount: Int) { box.lock.withLock { box.value += amount } }
}

/// Feeds a request's body to its connection, a piece at a time, on one
/// event loop: at most ``limit`` pieces handed over and not yet written.
final class PiecePump: @unchecked Sendable {
    /// The most pieces handed to the connection and not yet written.
    static let limit = 3

    private let body: RequestBody
    private let fromFile: Bool
    private let writer: HTTPClient.Body.StreamWriter
    private let loop: any EventLoop
    private let done: EventLoopPromise<Void>
    // Touched on `loop` only.
    private var sent = 0
    private var onTheirWay = 0
    private var isFinished = false

    /// How long the connection may take to accept one piece before pieces
    /// get smaller: a quarter of the stall timeout, so that a slow link
    /// still shows progress several times within it.
    private let slowPiece: TimeAmount
    /// How quickly a piece must be accepted for pieces to grow.
    private let fastPiece: TimeAmount
    private var pieceLimit = PiecePump.firstPiece
    private var lastWritten = NIODeadline.now()

    /// The size of the first piece, which grows to ``UploadSource/pieceSize``
    /// on a link that accepts pieces quickly.
    static let firstPiece = 64 << 10
    /// The smallest piece, on the slowest link.
    static let smallestPiece = 4 << 10

    /// Sends `body` through `writer`; with `fromFile`, a file's pieces are
    /// regions of the file (for a connection without TLS). Pieces are sized
    /// so that the connection accepts one well within `stallTimeout`.
    init(body: RequestBody, fromFile: Bool, writer: HTTPClient.Body.StreamWriter, loop: any EventLoop, stallTimeout: Duration?) {
        self.body = body
        self.fromFile = fromFile
        self.writer = writer
        self.loop = loop
        let limit = TimeAmount(stallTimeout ?? .seconds(3600))
        slowPiece = .nanoseconds(max(limit.nanoseconds / 4, 1_000_000))
        fastPiece = .nanoseconds(max(limit.nanoseconds / 32, 100_000))
        done = loop.makePromise()
    }

    /// Starts sending; the future completes once every piece is handed over.
    func start() -> EventLoopFuture<Void> {
        onLoop { $0.pump() }
        return done.futureResult
    }

    /// A piece has been written to the socket.
    func written() {
        onLoop { pump in
            pump.onTheirWay = max(0, pump.onTheirWay - 1)
            pump.adaptPieces()
            pump.pump()
        }
    }

    /// Pieces double while the connection accepts each quickly, and halve
    /// when one took long: on a slow link each piece still goes out well
    /// within the stall timeout, so a steady link is never a stall.
    private func adaptPieces() {
        let now = NIODeadline.now()
        let took = now - lastWritten
        lastWritten = now
        if took > slowPiece {
            pieceLimit = max(Self.smallestPiece, pieceLimit / 2)
        } else if took < fastPiece {
            pieceLimit = min(UploadSource.pieceSize, pieceLimit * 2)
        }
    }

    /// The request failed: no more pieces.
    func stop(_ error: any Error) {
        onLoop { $0.finish(.failure(error)) }
    }

    private func onLoop(_ body: @escaping @Sendable (PiecePump) -> Void) {
        if loop.inEventLoop {
            body(self)
        } else {
            loop.execute { body(self) }
        }
    }

    private func pump() {
        if sent == 0 && onTheirWay == 0 { lastWritten = .now() }
        while !isFinished, sent < body.count, onTheirWay < Self.limit {
            let piece: IOData
            do {
                piece = try body.piece(after: sent, fromFile: fromFile, limit: pieceLimit)
            } catch {
                finish(.failure(error))
                return
            }
            sent += piece.readableBytes
            onTheirWay += 1
            writer.write(piece).whenFailure { [self] error in stop(error) }
        }
        if sent >= body.count { finish(.success(())) }
    }

    private func finish(_ result: Result<Void, any Error>) {
        guard !isFinished else { return }
        isFinished = true
        done.completeWith(result)
    }
}

/// The pump of the body being sent (a redirect sends it again).
private typealias PiecePumps = LockedValue<PiecePump?>

/// Collects the answer (at most 1 MiB of body) like `ResponseAccumulator`,
/// tells the pump when a piece has been written, and the watchdog when
/// anything moved.
private final class PiecePumpDelegate: HTTPClientResponseDelegate {
    typealias Response = HTTPClient.Response

    private let accumulator: ResponseAccumulator
    private let pumps: PiecePumps
    private let progress: RequestProgress
    private let head = LockedValue<HTTPResponseHead?>(nil)

    /// The head of the answer, once one came (a redirect followed forgets
    /// it): the server has answered, whatever happens to the connection
    /// afterwards.
    var answerHead: HTTPResponseHead? { head.value }

    init(request: HTTPClient.Request, pumps: PiecePumps, progress: RequestProgress) {
        accumulator = ResponseAccumulator(request: request, maxBodySize: 1 << 20)
        self.pumps = pumps
        self.progress = progress
    }

    func didSendRequestPart(task: HTTPClient.Task<Response>, _ part: IOData) {
        progress.wrote(part.readableBytes)
        pumps.value?.written()
    }

    func didSendRequest(task: HTTPClient.Task<Response>) {
        progress.sentEverything(hadBody: pumps.value != nil)
    }

    func didVisitURL(task: HTTPClient.Task<Response>, _ request: HTTPClient.Request, _ head: HTTPResponseHead) {
        self.head.value = nil
        accumulator.didVisitURL(task: task, request, head)
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        progress.received()
        self.head.value = head
        return accumulator.didReceiveHead(task: task, head)
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        progress.received()
        return accumulator.didReceiveBodyPart(task: task, buffer)
    }

    func didReceiveError(task: HTTPClient.Task<Response>, _ error: any Error) {
        pumps.value?.stop(error)
        accumulator.didReceiveError(task: task, error)
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        try accumulator.didFinishRequest(task: task)
    }
}

extension TimeAmount {
    /// `duration`, saturating: a negative one is zero, one too long for
    /// nanoseconds in 64 bits is the longest there is.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else {
            self = .zero
            return
        }
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowAgain) = nanoseconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        self = .nanoseconds(overflow || overflowAgain ? .max : total)
    }
}
