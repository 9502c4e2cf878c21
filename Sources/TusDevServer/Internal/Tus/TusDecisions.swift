import Foundation
import TusProtocol

/// The tus semantics of the development server: given a request's head
/// (method, path, headers), the answer, or what the request's body may do.
///
/// No SwiftNIO and no socket: tests call ``decide(_:)`` directly. The answers
/// a request with a body gets at its end are made here too
/// (``bodyStored(_:offset:record:)`` and its siblings), from what the
/// ``UploadBodySink`` reports. Faults are not played here: see
/// ``FaultInjection``.
///
/// A decision to write a body or to join parts holds the uploads concerned
/// (``UploadStore/acquire(_:for:now:)``), so no other request changes them
/// meanwhile: whoever carries the decision out lets them go (the sink, or
/// ``concatenate(_:)``).
///
/// A request for an upload another request holds is not refused at once:
/// the decision is ``Decision/takeOver(_:)``, and ``TusResponder`` asks the
/// holder to stop, waits for it to let go, and asks again. Only once that
/// wait is over (``decide(_:mayTakeOver:)`` with `mayTakeOver` false) is a
/// held upload answered `423 Locked`.
struct TusDecisions: UploadDecisions {
    let server: ServerContext

    /// What to do with a request: shared with the draft's decisions.
    typealias Decision = UploadDecision

    /// The extensions announced in `Tus-Extension`.
    static let extensions = [
        "creation", "creation-defer-length", "creation-with-upload", "termination", "checksum", "expiration",
        "concatenation",
    ]

    // MARK: Routing

    /// The answer to the request whose head is `request`, or the body work
    /// it may do.
    ///
    /// - Parameter mayTakeOver: whether an upload another request holds
    ///   gets ``Decision/takeOver(_:)``; when false (the wait for the holder
    ///   is over) a `PATCH`, a `DELETE` or a final `POST` is answered 423,
    ///   and a `HEAD` with the upload as it stands.
    func decide(_ request: Request, mayTakeOver: Bool = true) -> Decision {
        let method = request.effectiveMethod
        if method == "OPTIONS" {
            return .respond(options())
        }

        let version = request.headers.first(TusHeaderName.tusResumable)?.trimmingCharacters(in: .whitespaces)
        guard version == tusProtocolVersion else {
            return .respond(
                Response(
                    status: 412, headers: [(TusHeaderName.tusVersion, tusProtocolVersion)],
                    body: "Tus-Resumable: 1.0.0 is required\n"))
        }

        let base = server.basePath
        let path = request.path
        if path == base || path == String(base.dropLast()) {
            guard method == "POST" else {
                return .respond(
                    Response(status: 405, headers: [("Allow", "POST, OPTIONS")], body: "method not allowed\n"))
            }
            return create(request, mayTakeOver: mayTakeOver)
        }
        guard path.hasPrefix(base) else {
            return .respond(Response(status: 404, body: "not found\n"))
        }
        let id = String(path.dropFirst(base.count))
        guard UploadStore.isValidID(id) else {
            return .respond(Response(status: 404, body: "upload not found\n"))
        }
        switch method {
        case "HEAD": return head(id, mayTakeOver: mayTakeOver)
        case "PATCH": return patch(request, id: id, mayTakeOver: mayTakeOver)
        case "DELETE": return delete(id, mayTakeOver: mayTakeOver)
        default:
            return .respond(
                Response(
                    status: 405, headers: [("Allow", "HEAD, PATCH, DELETE, OPTIONS")], body: "method not allowed\n"))
        }
    }

    private func options() -> Response {
        let announcement = ServerAnnouncement(
            versions: [tusProtocolVersion],
            extensions: Self.extensions.filter { server.concatenation || $0 != "concatenation" },
            maxSize: server.maxUploadSize,
            checksumAlgorithms: server.checksumAlgorithms.map(\.rawValue))
        return Response(status: 204, headers: announcement.headers)
    }

    // MARK: Creation

    private func create(_ request: Request, mayTakeOver: Bool) -> Decision {
        let headers = request.headers
        var partial = false
        if server.concatenation, let value = headers.first(TusHeaderName.uploadConcat) {
            switch UploadConcat(headerValue: value) {
            case nil:
                return badRequest(
                    "malformed Upload-Concat '\(value)': expected 'partial' or 'final;<url> <url> …'")
            case .partial:
                partial = true
            case .final(let urls):
                return createFinal(request, partURLs: urls, mayTakeOver: mayTakeOver)
            }
        }
        let lengthHeader = headers.first(TusHeaderName.uploadLength)
        let deferHeader = headers.first(TusHeaderName.uploadDeferLength)
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
        let rawMetadata = headers.first(TusHeaderName.uploadMetadata)
        if let rawMetadata, UploadMetadataCodec.decode(rawMetadata) == nil {
            return badRequest("malformed Upload-Metadata")
        }
        let withBody = HeaderParsing.isOffsetOctetStream(headers.first("Content-Type"))
        var checksum: UploadChecksum?
        if withBody {
            switch checksumHeader(request) {
            case .failure(let message): return badRequest(message.text)
            case .success(let value): checksum = value
            }
            if let contentLength = request.contentLength {
                if contentLength < 0 { return badRequest("invalid Content-Length") }
                if contentLength > (length ?? server.maxUploadSize) {
                    return tooLarge("the body (\(contentLength) bytes) is larger than the upload")
                }
            }
        }

        let record: UploadStore.Record
        do {
            record = try server.store.create(length: length, rawMetadata: rawMetadata, partial: partial)
        } catch {
            server.logger.error("\(error)")
            return .respond(Response(status: 500, body: "cannot create the upload\n"))
        }
        let location = location(for: record.id, request: request)
        guard withBody else {
            var responseHeaders: [(name: String, value: String)] = [("Location", location)]
            if let expires = record.expiresAt, !record.isComplete {
                responseHeaders.append((TusHeaderName.uploadExpires, HTTPDate.format(expires)))
            }
            return .respond(Response(status: 201, headers: responseHeaders))
        }
        guard case .found = server.store.acquire(record.id, for: .writing) else {
            return .respond(Response(status: 500, body: "the new upload vanished\n"))
        }
        return .writeBody(
            BodyPlan(
                uploadID: record.id, offset: 0, limit: length ?? server.maxUploadSize, lengthIsDeferred: length == nil,
                checksum: checksum, createdLocation: location))
    }

    // MARK: HEAD, DELETE

    /// The upload as it stands. While a request writes to it, that request
    /// is stopped first (its bytes kept as if its body ended there), so the
    /// offset answered is where the next `PATCH` must start; a join, which
    /// does not change its parts, is not waited for.
    private func head(_ id: String, mayTakeOver: Bool) -> Decision {
        let lookup = server.store.lookup(id)
        guard case .found(let record) = lookup else { return .respond(missing(lookup)) }
        if mayTakeOver, server.store.isHeld(id, for: .writing) {
            return .takeOver(id)
        }
        var headers: [(name: String, value: String)] = [
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
        if let concat = record.concat {
            headers.append((TusHeaderName.uploadConcat, concat.header.headerValue))
        }
        return .respond(Response(status: 200, headers: headers))
    }

    private func delete(_ id: String, mayTakeOver: Bool) -> Decision {
        let result = server.store.delete(id)
        if case .busy = result, mayTakeOver { return .takeOver(id) }
        guard case .found = result else { return .respond(missing(result)) }
        return .respond(Response(status: 204))
    }

    // MARK: PATCH

    private func patch(_ request: Request, id: String, mayTakeOver: Bool) -> Decision {
        let headers = request.headers
        guard HeaderParsing.isOffsetOctetStream(headers.first("Content-Type")) else {
            return .respond(Response(status: 415, body: "Content-Type must be application/offset+octet-stream\n"))
        }
        guard let offsetText = headers.first(TusHeaderName.uploadOffset) else {
            return badRequest("Upload-Offset is required")
        }
        guard let offset = NonNegativeInteger.parse(offsetText.trimmingCharacters(in: .whitespaces)) else {
            return badRequest("invalid Upload-Offset '\(offsetText)'")
        }
        var newLength: Int64?
        if let value = headers.first(TusHeaderName.uploadLength) {
            guard let parsed = NonNegativeInteger.parse(value.trimmingCharacters(in: .whitespaces)) else {
                return badRequest("invalid Upload-Length '\(value)'")
            }
            newLength = parsed
        }
        var checksum: UploadChecksum?
        switch checksumHeader(request) {
        case .failure(let message): return badRequest(message.text)
        case .success(let value): checksum = value
        }
        let bodyLength = request.contentLength
        if let bodyLength, bodyLength < 0 { return badRequest("invalid Content-Length") }

        let acquired = server.store.acquire(id, for: .writing)
        if case .busy = acquired, mayTakeOver { return .takeOver(id) }
        guard case .found(let record) = acquired else { return .respond(missing(acquired)) }
        var keep = false
        defer { if !keep { server.store.release(id) } }

        if record.isFinal {
            return .respond(
                Response(status: 403, body: "a final upload cannot be changed: it is made of its parts\n"))
        }
        guard offset == record.offset else {
            return .respond(
                Response(
                    status: 409, headers: [(TusHeaderName.uploadOffset, String(record.offset))],
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
        keep = true
        return .writeBody(
            BodyPlan(
                uploadID: id, offset: offset, limit: length ?? server.maxUploadSize, lengthIsDeferred: length == nil,
                checksum: checksum, createdLocation: nil))
    }

    // MARK: Answers after a body

    /// The body was kept: the upload is at `offset` now. `record` is the
    /// upload after the commit.
    func bodyStored(_ plan: BodyPlan, offset: Int64, record: UploadStore.Record?) -> Response {
        var headers: [(name: String, value: String)] = []
        if let location = plan.createdLocation { headers.append(("Location", location)) }
        headers.append((TusHeaderName.uploadOffset, String(offset)))
        if let record, !record.isComplete, let expires = record.expiresAt {
            headers.append((TusHeaderName.uploadExpires, HTTPDate.format(expires)))
        }
        return Response(status: plan.createdLocation == nil ? 204 : 201, headers: headers)
    }

    /// The body's digest differs from its `Upload-Checksum` (or a fault said
    /// so): it was discarded.
    func checksumMismatch(_ plan: BodyPlan) -> Response {
        var headers: [(name: String, value: String)] = []
        if let location = plan.createdLocation { headers.append(("Location", location)) }
        headers.append((TusHeaderName.uploadOffset, String(plan.offset)))
        return Response(
            status: TusStatus.checksumMismatch, reasonPhrase: TusStatus.checksumMismatchReason, headers: headers,
            body: "checksum mismatch: the chunk was discarded\n")
    }

    /// The body went past the upload's length (or the maximum size while
    /// the length is deferred): it was discarded.
    func bodyPastLimit(_ plan: BodyPlan) -> Response {
        tooLargeResponse(
            plan.lengthIsDeferred
                ? "the body goes past the maximum size \(plan.limit)" : "the body goes past the end of the upload")
    }

    /// The data file could not be written: the body was discarded.
    func bodyNotWritten(_ plan: BodyPlan) -> Response {
        Response(status: 500, body: "cannot write the upload's data file\n")
    }

    // MARK: Helpers

    func badRequest(_ message: String) -> Decision {
        .respond(Response(status: 400, body: message + "\n"))
    }

    func tooLarge(_ message: String) -> Decision {
        .respond(tooLargeResponse(message))
    }

    private func tooLargeResponse(_ message: String) -> Response {
        Response(status: 413, headers: [(TusHeaderName.tusMaxSize, String(server.maxUploadSize))], body: message + "\n")
    }

    func missing(_ lookup: UploadStore.Lookup) -> Response {
        switch lookup {
        case .gone: Response(status: 410, body: "upload expired\n")
        case .busy: Response(status: 423, body: "upload is busy with another request\n")
        case .notFound, .found: Response(status: 404, body: "upload not found\n")
        }
    }

    private struct ChecksumHeaderError: Error {
        var text: String
    }

    /// The request's `Upload-Checksum`: `nil` if it has none, an error
    /// message if it is malformed or names an algorithm not accepted.
    private func checksumHeader(_ request: Request) -> Result<UploadChecksum?, ChecksumHeaderError> {
        guard let value = request.headers.first(TusHeaderName.uploadChecksum) else { return .success(nil) }
        do throws(UploadChecksum.ParseError) {
            return .success(try UploadChecksum(headerValue: value, accepting: server.checksumAlgorithms))
        } catch {
            switch error {
            case .malformed:
                return .failure(.init(text: "malformed Upload-Checksum: expected '<algorithm> <base64 digest>'"))
            case .unsupportedAlgorithm(let name):
                return .failure(.init(text: "unsupported checksum algorithm '\(name)'"))
            case .digestNotBase64:
                return .failure(.init(text: "malformed Upload-Checksum: the digest is not base64"))
            }
        }
    }

    private func location(for id: String, request: Request) -> String {
        location(for: id, authority: authority(of: request))
    }
}
