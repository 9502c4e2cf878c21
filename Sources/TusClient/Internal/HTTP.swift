import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TusCore

/// The tus protocol version this client speaks.
let tusVersion = "1.0.0"

/// One request's answer, its body read whole (answers to tus requests are
/// small).
struct Exchange: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer

    var code: Int { Int(status.code) }

    /// The server's `Upload-Offset`, if present and valid.
    func offset(_ request: String) throws -> Int64 {
        guard let text = headers.first(name: "Upload-Offset") else {
            throw TusError(.protocolViolation, "\(request): the answer has no Upload-Offset header")
        }
        guard let offset = Int64(text), offset >= 0 else {
            throw TusError(.protocolViolation, "\(request): the answer's Upload-Offset \"\(text)\" is not a byte count")
        }
        return offset
    }

    /// The server's `Upload-Length`, if present and valid.
    var length: Int64? {
        headers.first(name: "Upload-Length").flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil }
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

extension HTTPClient {
    /// Sends one request and reads its whole answer.
    ///
    /// The pieces of a file range are read on the event loop `loop` (any by
    /// default); one upload passes the same loop to all its requests.
    ///
    /// - Throws: ``TusError`` with `.connectionFailed` or `.timeout` when no
    ///   answer came; a cancelled task throws `CancellationError`.
    func exchange(
        _ method: HTTPMethod,
        _ url: URL,
        headers: [(String, String)],
        body: RequestBody? = nil,
        on loop: (any EventLoop)? = nil,
        timeout: Duration
    ) async throws -> Exchange {
        let label = "\(method.rawValue) \(url.absoluteString)"
        do {
            if case .file(let range)? = body {
                return try await exchange(
                    method, url, headers: headers, file: range, on: loop ?? eventLoopGroup.any(), timeout: timeout)
            }
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if case .bytes(let bytes)? = body {
                request.body = .bytes(bytes)
            }
            let response = try await execute(request, timeout: TimeAmount(timeout))
            let responseBody = try await response.body.collect(upTo: 1 << 20)
            return Exchange(status: response.status, headers: response.headers, body: responseBody)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            if _Concurrency.Task.isCancelled { throw CancellationError() }
            throw TusError(.timeout, "\(label): no answer within \(timeout)", cause: error)
        } catch let error as HTTPClientError where error == .cancelled {
            throw CancellationError()
        } catch let error as TusError {
            // The file could not be read while the request sent it.
            throw error
        } catch {
            if _Concurrency.Task.isCancelled { throw CancellationError() }
            throw TusError(.connectionFailed, "\(label) failed: \(describe(error))", cause: error)
        }
    }

    /// Sends a request whose body is a range of a file, read a piece at a
    /// time on `loop`, which also runs the request's delegate.
    ///
    /// A piece is read when the connection has written one of the
    /// ``PiecePump/limit`` pieces it holds, so memory holds a few pieces
    /// whatever the range's size; and as reading, handing over and hearing
    /// that a piece is written happen on one thread, no piece waits for a
    /// task to be scheduled. Reading a piece (512 KiB, usually from the page
    /// cache) holds the loop for that long.
    private func exchange(
        _ method: HTTPMethod, _ url: URL, headers: [(String, String)], file range: FileRange, on loop: any EventLoop,
        timeout: Duration
    ) async throws -> Exchange {
        let pumps = PiecePumps()
        let body = HTTPClient.Body.stream(contentLength: Int64(range.count)) { writer in
            // Called again when a redirect sends the body again.
            let pump = PiecePump(range: range, writer: writer, loop: loop)
            pumps.current = pump
            return pump.start()
        }
        let request = try HTTPClient.Request(
            url: url.absoluteString, method: method, headers: HTTPHeaders(headers), body: body)
        let task = execute(
            request: request, delegate: PiecePumpDelegate(request: request, pumps: pumps),
            eventLoop: .delegate(on: loop), deadline: .now() + TimeAmount(timeout), logger: nil)
        // An answer can come before the whole body went out (a refusal):
        // then the pump stops there.
        defer { pumps.current?.stop(CancellationError()) }
        let response = try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
        return Exchange(status: response.status, headers: response.headers, body: response.body ?? ByteBuffer())
    }
}

/// Feeds a file range to a request, a piece at a time, on one event loop.
final class PiecePump: @unchecked Sendable {
    /// The most pieces handed to the connection and not yet written.
    static let limit = 3

    private let range: FileRange
    private let writer: HTTPClient.Body.StreamWriter
    private let loop: any EventLoop
    private let done: EventLoopPromise<Void>
    // Touched on `loop` only.
    private var sent = 0
    private var onTheirWay = 0
    private var isFinished = false

    init(range: FileRange, writer: HTTPClient.Body.StreamWriter, loop: any EventLoop) {
        self.range = range
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
        while !isFinished, sent < range.count, onTheirWay < Self.limit {
            let piece: ByteBuffer
            do {
                piece = try range.piece(after: sent)
            } catch {
                finish(.failure(error))
                return
            }
            sent += piece.readableBytes
            onTheirWay += 1
            writer.write(.byteBuffer(piece)).whenFailure { [self] error in stop(error) }
        }
        if sent >= range.count { finish(.success(())) }
    }

    private func finish(_ result: Result<Void, any Error>) {
        guard !isFinished else { return }
        isFinished = true
        done.completeWith(result)
    }
}

/// The pump of the body being sent (a redirect sends it again).
private final class PiecePumps: @unchecked Sendable {
    private let lock = NSLock()
    private var pump: PiecePump?
    var current: PiecePump? {
        get { lock.withLock { pump } }
        set { lock.withLock { pump = newValue } }
    }
}

/// Collects the answer (at most 1 MiB of body) like `ResponseAccumulator`,
/// and tells the pump when a piece has been written.
private final class PiecePumpDelegate: HTTPClientResponseDelegate {
    typealias Response = HTTPClient.Response

    private let accumulator: ResponseAccumulator
    private let pumps: PiecePumps

    init(request: HTTPClient.Request, pumps: PiecePumps) {
        accumulator = ResponseAccumulator(request: request, maxBodySize: 1 << 20)
        self.pumps = pumps
    }

    func didSendRequestPart(task: HTTPClient.Task<Response>, _ part: IOData) {
        pumps.current?.written()
    }

    func didVisitURL(task: HTTPClient.Task<Response>, _ request: HTTPClient.Request, _ head: HTTPResponseHead) {
        accumulator.didVisitURL(task: task, request, head)
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        accumulator.didReceiveHead(task: task, head)
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        accumulator.didReceiveBodyPart(task: task, buffer)
    }

    func didReceiveError(task: HTTPClient.Task<Response>, _ error: any Error) {
        pumps.current?.stop(error)
        accumulator.didReceiveError(task: task, error)
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        try accumulator.didFinishRequest(task: task)
    }
}

/// A short description of a transport error.
private func describe(_ error: any Error) -> String {
    if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
        return "cannot connect to \(first.target): \(describe(first.error))"
    }
    if let error = error as? IOError {
        return String(cString: strerror(error.errnoCode))
    }
    let text = String(describing: error)
    switch text {
    case "remoteConnectionClosed": return "the server closed the connection"
    case "connectTimeout": return "connecting timed out"
    default: return text
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
