import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TusCore
import TusProtocol


/// One request's answer, its body read whole (answers to tus requests are
/// small).
struct Exchange: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer

    var code: Int { Int(status.code) }

    /// The server's `Upload-Offset`, if present and valid.
    func offset(_ request: String) throws -> Int64 {
        guard let text = headers.first(name: TusHeaderName.uploadOffset) else {
            throw TusError(.protocolViolation, "\(request): the answer has no Upload-Offset header")
        }
        guard let offset = NonNegativeInteger.parse(text.trimmingCharacters(in: .whitespaces)) else {
            throw TusError(.protocolViolation, "\(request): the answer's Upload-Offset \"\(text)\" is not a byte count")
        }
        return offset
    }

    /// The server's `Upload-Length`, if present and valid.
    var length: Int64? {
        headers.first(name: TusHeaderName.uploadLength).flatMap { NonNegativeInteger.parse($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The server's `Upload-Expires`, if present and a valid HTTP date.
    var expires: Date? {
        headers.first(name: "Upload-Expires").flatMap(HTTPDate.parse)
    }

    /// The start of the body, for error messages.
    var bodySnippet: String {
        let text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "" : ": \(text)"
    }

    /// "answered 404 Not Found: …"
    var statusDescription: String { "answered \(status.code) \(status.reasonPhrase)\(bodySnippet)" }
}

/// A request that got no answer.
struct NoAnswer: Error {
    /// What AsyncHTTPClient or the network reported.
    var error: any Error
    /// How many body bytes the connection had written when it failed.
    var bytesSent: Int
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
        stallTimeout: Duration?
    ) async throws -> Exchange {
        let label = "\(method.rawValue) \(url.absoluteString)"
        let progress = RequestProgress(loop: loop)
        let pumps = PiecePumps(nil)
        var requestBody: HTTPClient.Body?
        if let body {
            // Without TLS on the connection, a file is sent with sendfile,
            // when the client has one event loop: an upload's requests share
            // one file descriptor, which NIO lets one thread use at a time.
            let fromFile = url.scheme?.lowercased() == "http" && hasOneEventLoop
            requestBody = .stream(contentLength: Int64(body.count)) { writer in
                // Called again when a redirect sends the body again.
                let pump = PiecePump(body: body, fromFile: fromFile, writer: writer, loop: loop)
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
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .cancelled {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            if _Concurrency.Task.isCancelled { throw CancellationError() }
            throw TusError(.timeout, "\(label): no whole answer within \(timeout)", cause: error)
        } catch let error as TusError {
            // The file could not be read while the request sent it.
            throw error
        } catch {
            if _Concurrency.Task.isCancelled { throw CancellationError() }
            // A refusal (such as a proxy's 413) can come while the body
            // still goes out; the server then closes the connection, and
            // the write that meets the closed connection fails the request.
            // The refusal is the answer.
            if let head = delegate.refusal {
                return Exchange(status: head.status, headers: head.headers, body: ByteBuffer())
            }
            throw NoAnswer(error: error, bytesSent: progress.bytesSent)
        }
    }
}

/// What a request has moved, and the watchdog that abandons it once nothing
/// moves for its stall timeout. Touched on the request's loop only.
final class RequestProgress: @unchecked Sendable {
    private let loop: any EventLoop
    private var lastMove = NIODeadline.now()
    private var written = 0
    private var check: RepeatedTask?
    private var sentBytes = LockedCount()

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// How many body bytes the connection has written.
    var bytesSent: Int { sentBytes.value }

    /// A body part was written (`bytes` of it).
    func wrote(_ bytes: Int) {
        lastMove = .now()
        sentBytes.add(bytes)
    }

    /// Part of the answer arrived.
    func received() {
        lastMove = .now()
    }

    /// Fails `task` once nothing has moved for `stallTimeout`.
    func watch<Response>(_ task: HTTPClient.Task<Response>, stallTimeout: Duration?) {
        guard let stallTimeout, stallTimeout > .zero else { return }
        let limit = TimeAmount(stallTimeout)
        let every = TimeAmount.nanoseconds(max(limit.nanoseconds / 8, 1_000_000))
        loop.execute { [self] in
            lastMove = .now()
            check = loop.scheduleRepeatedTask(initialDelay: every, delay: every) { [self] repeated in
                if NIODeadline.now() - lastMove >= limit {
                    repeated.cancel()
                    task.fail(reason: Stalled(seconds: stallTimeout))
                }
            }
        }
    }

    /// Calls `onStall` on the loop once nothing has moved for
    /// `stallTimeout`, for a request that is not an `HTTPClient.Task`.
    func watch(stallTimeout: Duration?, onStall: @escaping @Sendable () -> Void) {
        guard let stallTimeout, stallTimeout > .zero else { return }
        let limit = TimeAmount(stallTimeout)
        let every = TimeAmount.nanoseconds(max(limit.nanoseconds / 8, 1_000_000))
        loop.execute { [self] in
            lastMove = .now()
            check = loop.scheduleRepeatedTask(initialDelay: every, delay: every) { [self] repeated in
                if NIODeadline.now() - lastMove >= limit {
                    repeated.cancel()
                    onStall()
                }
            }
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

    /// Sends `body` through `writer`; with `fromFile`, a file's pieces are
    /// regions of the file (for a connection without TLS).
    init(body: RequestBody, fromFile: Bool, writer: HTTPClient.Body.StreamWriter, loop: any EventLoop) {
        self.body = body
        self.fromFile = fromFile
        self.writer = writer
        self.loop = loop
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
            pump.pump()
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
        while !isFinished, sent < body.count, onTheirWay < Self.limit {
            let piece: IOData
            do {
                piece = try body.piece(after: sent, fromFile: fromFile)
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
    private let refusalHead = LockedValue<HTTPResponseHead?>(nil)

    /// The head of an answer of 400 or more, once one came: the request
    /// was refused, whatever happens to the connection afterwards.
    var refusal: HTTPResponseHead? { refusalHead.value }

    init(request: HTTPClient.Request, pumps: PiecePumps, progress: RequestProgress) {
        accumulator = ResponseAccumulator(request: request, maxBodySize: 1 << 20)
        self.pumps = pumps
        self.progress = progress
    }

    func didSendRequestPart(task: HTTPClient.Task<Response>, _ part: IOData) {
        progress.wrote(part.readableBytes)
        pumps.value?.written()
    }

    func didVisitURL(task: HTTPClient.Task<Response>, _ request: HTTPClient.Request, _ head: HTTPResponseHead) {
        accumulator.didVisitURL(task: task, request, head)
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        progress.received()
        if head.status.code >= 400 { refusalHead.value = head }
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
