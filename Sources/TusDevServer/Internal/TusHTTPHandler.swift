import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TusProtocol

/// Serves tus requests on one connection.
///
/// A request is decided when its head arrives: either it is answered (its
/// body, if any, is read and dropped) or its body is streamed into the
/// upload's data file, one buffer at a time, and it is answered at its end.
/// The handler also holds reads while a ``Fault/stall(seconds:method:)``
/// plays.
final class TusHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// A body being written to an upload.
    final class Stream {
        let id: String
        let file: DataFile
        let startOffset: Int64
        var offset: Int64
        /// Where the body must stop: the upload's length, or the maximum size
        /// while the length is deferred.
        let limit: Int64
        let limitIsMaxSize: Bool
        var hasher: UploadChecksum.Hasher?
        let expectedDigest: Data?
        let forceMismatch: Bool
        /// Bytes still accepted before the connection is dropped, for
        /// ``Fault/dropConnectionDuringPatch(afterBytes:)``.
        var dropAfter: Int?
        /// The upload URL when the body came with the creation `POST`.
        let createdLocation: String?

        init(
            id: String, file: DataFile, startOffset: Int64, limit: Int64, limitIsMaxSize: Bool,
            hasher: UploadChecksum.Hasher?, expectedDigest: Data?, forceMismatch: Bool, dropAfter: Int?,
            createdLocation: String?
        ) {
            self.id = id
            self.file = file
            self.startOffset = startOffset
            self.offset = startOffset
            self.limit = limit
            self.limitIsMaxSize = limitIsMaxSize
            self.hasher = hasher
            self.expectedDigest = expectedDigest
            self.forceMismatch = forceMismatch
            self.dropAfter = dropAfter
            self.createdLocation = createdLocation
        }

        /// Whether the bytes are kept as they arrive (no checksum to check).
        var commitsAsItGoes: Bool { expectedDigest == nil }
    }

    /// A response waiting for the end of its request.
    struct Response {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: String? = nil
    }

    private enum BodyMode {
        case none
        case discard(Response)
        case stream(Stream)
        case dropped
    }

    private let server: ServerContext
    private var mode: BodyMode = .none
    private var requestMethod: HTTPMethod = .GET
    private var keepAlive = true
    private var faultUsed = false
    private var hostHeader: String?
    private var localAuthority = "127.0.0.1"

    // Stall state.
    private var stalled = false
    private var stalledParts: [HTTPServerRequestPart] = []
    private var readPending = false
    private var stallTask: Scheduled<Void>?

    init(server: ServerContext) {
        self.server = server
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if stalled {
            stalledParts.append(part)
            return
        }
        handle(part, context: context)
    }

    func read(context: ChannelHandlerContext) {
        if stalled {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stallTask?.cancel()
        stallTask = nil
        stalled = false
        stalledParts = []
        if case .stream(let stream) = mode {
            abort(stream)
        }
        mode = .none
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if case .stream(let stream) = mode {
            abort(stream)
            mode = .none
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("tus connection error: \(error)")
        context.close(promise: nil)
    }

    // MARK: Request parts

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            begin(head, context: context)
        case .body(let buffer):
            switch mode {
            case .stream(let stream):
                write(buffer, to: stream, context: context)
            case .none, .discard, .dropped:
                break
            }
        case .end:
            switch mode {
            case .stream(let stream):
                finish(stream, context: context)
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
        faultUsed = false
        requestMethod = head.method
        keepAlive = head.isKeepAlive
        hostHeader = head.headers.first(name: "host")
        if let address = context.channel.localAddress, let ip = address.ipAddress, let port = address.port {
            localAuthority = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        let method = effectiveMethod(head)
        let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        server.requestLog.withLock { log in
            if log.count >= ServerContext.requestLogLimit { log.removeFirst(log.count / 2) }
            log.append("\(method) \(path)")
        }
        server.logger.info("\(method) \(path)")

        if let fault = server.takeFault(where: { fault in
            if case .stall(_, let m) = fault { return m.uppercased() == method }
            return false
        }), case .stall(let seconds, _) = fault {
            faultUsed = true
            stalled = true
            stalledParts = []
            let bounded = seconds.isFinite ? min(max(seconds, 0), 86_400) : 0
            let delay = TimeAmount.nanoseconds(Int64(bounded * 1_000_000_000))
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            stallTask = context.eventLoop.scheduleTask(in: delay) {
                let (handler, context) = loopBound.value
                handler.endStall(head: head, method: method, path: path, context: context)
            }
            return
        }
        decide(head, method: method, path: path, context: context)
    }

    private func endStall(head: HTTPRequestHead, method: String, path: String, context: ChannelHandlerContext) {
        guard stalled else { return }
        stalled = false
        stallTask = nil
        decide(head, method: method, path: path, context: context)
        while !stalled, !stalledParts.isEmpty {
            let part = stalledParts.removeFirst()
            handle(part, context: context)
        }
        if !stalled, readPending {
            readPending = false
            context.read()
        }
    }

    private func effectiveMethod(_ head: HTTPRequestHead) -> String {
        if head.method == .POST, let override = head.headers.first(name: "x-http-method-override"),
            !override.isEmpty
        {
            return override.trimmingCharacters(in: .whitespaces).uppercased()
        }
        return head.method.rawValue.uppercased()
    }

    // MARK: Deciding

    /// Answers the request now (at its end), or starts streaming its body.
    private func decide(_ head: HTTPRequestHead, method: String, path: String, context: ChannelHandlerContext) {
        let outcome = route(head, method: method, path: path)
        switch outcome {
        case .respond(let response):
            let hasBody = requestHasBody(head)
            if hasBody, head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                // The client waits for our word before sending the body:
                // answer now and close, as the body will not follow.
                keepAlive = false
                mode = .dropped
                send(response, context: context)
            } else {
                mode = .discard(response)
            }
        case .stream(let stream):
            mode = .stream(stream)
            if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        }
    }

    private enum Outcome {
        case respond(Response)
        case stream(Stream)
    }

    private func route(_ head: HTTPRequestHead, method: String, path: String) -> Outcome {
        if !faultUsed, let fault = server.takeFault(where: { fault in
            if case .status(_, let m) = fault { return m.uppercased() == method }
            return false
        }), case .status(let code, _) = fault {
            faultUsed = true
            // Only a final status can answer a request.
            let status = (200...999).contains(code) ? code : 500
            return .respond(Response(status: .init(statusCode: status), body: "injected fault: status \(status)\n"))
        }

        if method == "OPTIONS" {
            var headers: [(String, String)] = [
                (TusHeaderName.tusVersion, tusProtocolVersion),
                (TusHeaderName.tusExtension, "creation,creation-defer-length,creation-with-upload,termination,checksum,expiration"),
                (TusHeaderName.tusMaxSize, String(server.maxUploadSize)),
            ]
            if !server.checksumAlgorithms.isEmpty {
                let names = server.checksumAlgorithms.map(\.rawValue).joined(separator: ",")
                headers.append((TusHeaderName.tusChecksumAlgorithm, names))
            }
            return .respond(Response(status: .noContent, headers: headers))
        }

        let version = head.headers.first(name: TusHeaderName.tusResumable)?.trimmingCharacters(in: .whitespaces)
        guard version == tusProtocolVersion else {
            return .respond(
                Response(
                    status: .preconditionFailed, headers: [(TusHeaderName.tusVersion, tusProtocolVersion)],
                    body: "Tus-Resumable: 1.0.0 is required\n"))
        }

        let base = server.basePath
        if path == base || path == String(base.dropLast()) {
            guard method == "POST" else {
                return .respond(
                    Response(status: .methodNotAllowed, headers: [("Allow", "POST, OPTIONS")], body: "method not allowed\n"))
            }
            return create(head)
        }
        guard path.hasPrefix(base) else {
            return .respond(Response(status: .notFound, body: "not found\n"))
        }
        let id = String(path.dropFirst(base.count))
        guard UploadStore.isValidID(id) else {
            return .respond(Response(status: .notFound, body: "upload not found\n"))
        }
        switch method {
        case "HEAD": return headUpload(id)
        case "PATCH": return patch(head, id: id)
        case "DELETE": return deleteUpload(id)
        default:
            return .respond(
                Response(
                    status: .methodNotAllowed, headers: [("Allow", "HEAD, PATCH, DELETE, OPTIONS")],
                    body: "method not allowed\n"))
        }
    }

    private func badRequest(_ message: String) -> Outcome {
        .respond(Response(status: .badRequest, body: message + "\n"))
    }

    private func tooLarge(_ message: String) -> Outcome {
        .respond(
            Response(status: .payloadTooLarge, headers: [(TusHeaderName.tusMaxSize, String(server.maxUploadSize))], body: message + "\n"))
    }

    private func missing(_ lookup: UploadStore.Lookup) -> Outcome {
        switch lookup {
        case .gone: .respond(Response(status: .gone, body: "upload expired\n"))
        case .busy: .respond(Response(status: .locked, body: "upload is busy with another request\n"))
        case .notFound, .found: .respond(Response(status: .notFound, body: "upload not found\n"))
        }
    }

    // MARK: Checksum header

    private enum ChecksumHeader {
        case none
        case valid(UploadChecksum)
        case invalid(String)
    }

    private func checksumHeader(_ head: HTTPRequestHead) -> ChecksumHeader {
        guard let value = head.headers.first(name: TusHeaderName.uploadChecksum) else { return .none }
        do throws(UploadChecksum.ParseError) {
            return .valid(try UploadChecksum(headerValue: value, accepting: server.checksumAlgorithms))
        } catch {
            switch error {
            case .malformed: return .invalid("malformed Upload-Checksum: expected '<algorithm> <base64 digest>'")
            case .unsupportedAlgorithm(let name): return .invalid("unsupported checksum algorithm '\(name)'")
            case .digestNotBase64: return .invalid("malformed Upload-Checksum: the digest is not base64")
            }
        }
    }

    // MARK: Handlers

    private func create(_ head: HTTPRequestHead) -> Outcome {
        let headers = head.headers
        if headers.contains(name: TusHeaderName.uploadConcat) {
            return badRequest("concatenation is not supported")
        }
        let lengthHeader = headers.first(name: TusHeaderName.uploadLength)
        let deferHeader = headers.first(name: TusHeaderName.uploadDeferLength)
        var length: Int64?
        switch (lengthHeader, deferHeader) {
        case (nil, nil):
            return badRequest("Upload-Length or Upload-Defer-Length: 1 is required")
        case (.some, .some):
            return badRequest("send Upload-Length or Upload-Defer-Length, not both")
        case (let value?, nil):
            guard let parsed = NonNegativeInteger.parse(value.trimmingCharacters(in: .whitespaces)) else {
                return badRequest("invalid Upload-Length '\(value)'")
            }
            guard parsed <= server.maxUploadSize else {
                return tooLarge("Upload-Length \(parsed) exceeds the maximum size \(server.maxUploadSize)")
            }
            length = parsed
        case (nil, let value?):
            guard value.trimmingCharacters(in: .whitespaces) == "1" else {
                return badRequest("Upload-Defer-Length must be 1")
            }
        }
        let rawMetadata = headers.first(name: TusHeaderName.uploadMetadata)
        if let rawMetadata, UploadMetadataCodec.decode(rawMetadata) == nil {
            return badRequest("malformed Upload-Metadata")
        }
        let withBody = HeaderParsing.isOffsetOctetStream(headers.first(name: "content-type"))
        var checksum = ChecksumHeader.none
        if withBody {
            checksum = checksumHeader(head)
            if case .invalid(let message) = checksum { return badRequest(message) }
            if let contentLength = contentLength(head) {
                if contentLength < 0 { return badRequest("invalid Content-Length") }
                if contentLength > (length ?? server.maxUploadSize) {
                    return tooLarge("the body (\(contentLength) bytes) is larger than the upload")
                }
            }
        }

        let record: UploadStore.Record
        do {
            record = try server.store.create(length: length, rawMetadata: rawMetadata)
        } catch {
            server.logger.error("\(error)")
            return .respond(Response(status: .internalServerError, body: "cannot create the upload\n"))
        }
        let location = location(for: record.id)
        guard withBody else {
            var responseHeaders = [("Location", location)]
            if let expires = record.expiresAt, !record.isComplete {
                responseHeaders.append((TusHeaderName.uploadExpires, HTTPDate.format(expires)))
            }
            return .respond(Response(status: .created, headers: responseHeaders))
        }
        guard case .found = server.store.acquire(record.id) else {
            return .respond(Response(status: .internalServerError, body: "the new upload vanished\n"))
        }
        return startStream(
            id: record.id, offset: 0, length: length, checksum: checksum, head: head, createdLocation: location)
    }

    private func headUpload(_ id: String) -> Outcome {
        guard case .found(let record) = server.store.lookup(id) else { return missing(server.store.lookup(id)) }
        var headers: [(String, String)] = [
            (TusHeaderName.uploadOffset, String(record.offset)),
            ("Cache-Control", "no-store"),
        ]
        if let length = record.length {
            headers.append((TusHeaderName.uploadLength, String(length)))
        } else {
            headers.append((TusHeaderName.uploadDeferLength, "1"))
        }
        if let metadata = record.rawMetadata {
            headers.append((TusHeaderName.uploadMetadata, metadata))
        }
        return .respond(Response(status: .ok, headers: headers))
    }

    private func deleteUpload(_ id: String) -> Outcome {
        let result = server.store.delete(id)
        guard case .found = result else { return missing(result) }
        return .respond(Response(status: .noContent))
    }

    private func patch(_ head: HTTPRequestHead, id: String) -> Outcome {
        let headers = head.headers
        guard HeaderParsing.isOffsetOctetStream(headers.first(name: "content-type")) else {
            return .respond(
                Response(status: .unsupportedMediaType, body: "Content-Type must be application/offset+octet-stream\n"))
        }
        guard let offsetText = headers.first(name: TusHeaderName.uploadOffset) else {
            return badRequest("Upload-Offset is required")
        }
        guard let offset = NonNegativeInteger.parse(offsetText.trimmingCharacters(in: .whitespaces)) else {
            return badRequest("invalid Upload-Offset '\(offsetText)'")
        }
        var newLength: Int64?
        if let value = headers.first(name: TusHeaderName.uploadLength) {
            guard let parsed = NonNegativeInteger.parse(value.trimmingCharacters(in: .whitespaces)) else {
                return badRequest("invalid Upload-Length '\(value)'")
            }
            newLength = parsed
        }
        let checksum = checksumHeader(head)
        if case .invalid(let message) = checksum { return badRequest(message) }
        let bodyLength = contentLength(head)
        if let bodyLength, bodyLength < 0 { return badRequest("invalid Content-Length") }

        let acquired = server.store.acquire(id)
        guard case .found(let record) = acquired else { return missing(acquired) }
        var keep = false
        defer { if !keep { server.store.release(id) } }

        guard offset == record.offset else {
            return .respond(
                Response(
                    status: .conflict, headers: [(TusHeaderName.uploadOffset, String(record.offset))],
                    body: "Upload-Offset \(offset) does not match the upload's offset \(record.offset)\n"))
        }
        var length = record.length
        if let newLength {
            if let length {
                guard newLength == length else {
                    return badRequest("Upload-Length \(newLength) differs from the upload's length \(length)")
                }
            } else {
                guard newLength >= record.offset else {
                    return badRequest("Upload-Length \(newLength) is smaller than the offset \(record.offset)")
                }
                guard newLength <= server.maxUploadSize else {
                    return tooLarge("Upload-Length \(newLength) exceeds the maximum size \(server.maxUploadSize)")
                }
                length = newLength
                server.store.update(id) { $0.length = newLength }
                server.store.persist(id)
            }
        }
        if let bodyLength, bodyLength > (length ?? server.maxUploadSize) - offset {
            return tooLarge("the body (\(bodyLength) bytes) goes past the end of the upload")
        }
        let outcome = startStream(id: id, offset: offset, length: length, checksum: checksum, head: head, createdLocation: nil)
        if case .stream = outcome { keep = true }
        return outcome
    }

    /// Opens the data file and prepares to write the body at `offset`. The
    /// caller holds the upload; it stays held by the stream.
    private func startStream(
        id: String, offset: Int64, length: Int64?, checksum: ChecksumHeader, head: HTTPRequestHead,
        createdLocation: String?
    ) -> Outcome {
        let file: DataFile
        do {
            file = try DataFile(path: server.store.dataPath(id))
        } catch {
            server.logger.error("\(error)")
            server.store.release(id)
            return .respond(Response(status: .internalServerError, body: "cannot open the upload's data file\n"))
        }
        var hasher: UploadChecksum.Hasher?
        var expected: Data?
        if case .valid(let sent) = checksum {
            hasher = UploadChecksum.Hasher(sent.algorithm)
            expected = sent.digest
        }
        var dropAfter: Int?
        var forceMismatch = false
        if createdLocation == nil, !faultUsed {
            let hasChecksum = expected != nil
            let fault = server.takeFault { fault in
                switch fault {
                case .dropConnectionDuringPatch: true
                case .checksumMismatch: hasChecksum
                case .status, .stall: false
                }
            }
            switch fault {
            case .dropConnectionDuringPatch(let bytes)?:
                faultUsed = true
                dropAfter = max(0, bytes)
            case .checksumMismatch?:
                faultUsed = true
                forceMismatch = true
            default:
                break
            }
        }
        let stream = Stream(
            id: id, file: file, startOffset: offset, limit: length ?? server.maxUploadSize,
            limitIsMaxSize: length == nil, hasher: hasher, expectedDigest: expected, forceMismatch: forceMismatch,
            dropAfter: dropAfter, createdLocation: createdLocation)
        return .stream(stream)
    }

    // MARK: Streaming

    private func write(_ buffer: ByteBuffer, to stream: Stream, context: ChannelHandlerContext) {
        var buffer = buffer
        var drop = false
        if let remaining = stream.dropAfter {
            if buffer.readableBytes >= remaining {
                buffer = buffer.getSlice(at: buffer.readerIndex, length: remaining) ?? ByteBuffer()
                drop = true
            }
            stream.dropAfter = remaining - buffer.readableBytes
        }
        let count = Int64(buffer.readableBytes)
        if count > stream.limit - stream.offset {
            rollBack(stream)
            let message =
                stream.limitIsMaxSize
                ? "the body goes past the maximum size \(stream.limit)" : "the body goes past the end of the upload"
            mode = .discard(
                Response(status: .payloadTooLarge, headers: [(TusHeaderName.tusMaxSize, String(server.maxUploadSize))], body: message + "\n"))
            return
        }
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                guard bytes.count > 0 else { return }
                try stream.file.write(bytes, at: stream.offset)
                stream.hasher?.update(bytes)
            }
        } catch {
            server.logger.error("\(error)")
            rollBack(stream)
            mode = .discard(Response(status: .internalServerError, body: "cannot write the upload's data file\n"))
            return
        }
        stream.offset += count
        if stream.commitsAsItGoes {
            let offset = stream.offset
            server.store.update(stream.id) { $0.offset = offset }
        }
        if drop {
            dropConnection(stream, context: context)
        }
    }

    private func dropConnection(_ stream: Stream, context: ChannelHandlerContext) {
        mode = .dropped
        if stream.commitsAsItGoes {
            commit(stream)
        } else {
            rollBack(stream)
        }
        context.close(promise: nil)
    }

    private func finish(_ stream: Stream, context: ChannelHandlerContext) {
        mode = .none
        if stream.dropAfter != nil {
            // The fault asked for a cut; the body ended first: keep it all
            // and still leave without a word.
            dropConnection(stream, context: context)
            return
        }
        if let expected = stream.expectedDigest, let hasher = stream.hasher {
            if stream.forceMismatch || hasher.finalize().digest != expected {
                rollBack(stream)
                var headers: [(String, String)] = []
                if let location = stream.createdLocation { headers.append(("Location", location)) }
                headers.append((TusHeaderName.uploadOffset, String(stream.startOffset)))
                send(
                    Response(
                        status: .init(statusCode: TusStatus.checksumMismatch, reasonPhrase: TusStatus.checksumMismatchReason),
                        headers: headers, body: "checksum mismatch: the chunk was discarded\n"),
                    context: context)
                return
            }
        }
        let record = commit(stream)
        var headers: [(String, String)] = []
        if let location = stream.createdLocation { headers.append(("Location", location)) }
        headers.append((TusHeaderName.uploadOffset, String(stream.offset)))
        if let record, !record.isComplete, let expires = record.expiresAt {
            headers.append((TusHeaderName.uploadExpires, HTTPDate.format(expires)))
        }
        send(
            Response(status: stream.createdLocation == nil ? .noContent : .created, headers: headers),
            context: context)
    }

    /// Keeps the bytes written, refreshes the expiry and lets the upload go.
    ///
    /// Nothing but the data file is written: after a restart the offset is
    /// the data file's size and the expiry its modification time plus the
    /// expiration, which is what the record gets here too.
    @discardableResult
    private func commit(_ stream: Stream) -> UploadStore.Record? {
        let modified = stream.file.modificationDate()
        stream.file.close()
        let offset = stream.offset
        let expiration = server.expiration
        var result: UploadStore.Record?
        server.store.update(stream.id) { record in
            record.offset = offset
            if record.isComplete {
                record.expiresAt = nil
            } else if let expiration {
                record.expiresAt = (modified ?? Date()).addingTimeInterval(expiration)
            }
            result = record
        }
        server.store.release(stream.id)
        return result
    }

    /// Drops the bytes this request wrote and lets the upload go. Cutting
    /// the file changes it, so the expiry follows, as after a restart.
    private func rollBack(_ stream: Stream) {
        do {
            try stream.file.truncate(to: stream.startOffset)
        } catch {
            server.logger.error("\(error)")
        }
        stream.offset = stream.startOffset
        commit(stream)
    }

    /// The connection ended (or the handler went away) mid-body.
    private func abort(_ stream: Stream) {
        if stream.commitsAsItGoes {
            commit(stream)
        } else {
            rollBack(stream)
        }
    }

    // MARK: Responses

    private func send(_ response: Response, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: TusHeaderName.tusResumable, value: tusProtocolVersion)
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        var body: ByteBuffer?
        if response.status != .noContent {
            let text = response.body ?? ""
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            if !text.isEmpty {
                headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
                body = context.channel.allocator.buffer(string: text)
            }
        }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
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

    private func location(for id: String) -> String {
        var authority = hostHeader?.trimmingCharacters(in: .whitespaces) ?? ""
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_")
        if authority.isEmpty || !authority.allSatisfy({ allowed.contains($0) }) {
            authority = localAuthority
        }
        return "http://\(authority)\(server.basePath)\(id)"
    }

    private func requestHasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers[canonicalForm: "transfer-encoding"].contains(where: { $0.lowercased() == "chunked" }) {
            return true
        }
        return (contentLength(head) ?? 0) > 0
    }

    private func contentLength(_ head: HTTPRequestHead) -> Int64? {
        guard let value = head.headers.first(name: "content-length") else { return nil }
        return NonNegativeInteger.parse(value.trimmingCharacters(in: .whitespaces)) ?? -1
    }
}
