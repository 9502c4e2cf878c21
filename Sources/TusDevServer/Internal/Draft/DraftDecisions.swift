import Foundation
import TusProtocol

/// The IETF draft "Resumable Uploads for HTTP" on the development server,
/// beside ``TusDecisions`` and over the same store, holds, sinks and
/// limits: given a draft request's head, the answer, or what its body may
/// do. ``ProtocolChoice`` sends it the requests that carry
/// `Upload-Draft-Interop-Version` and no `Tus-Resumable`; it speaks interop
/// versions 6 (drafts -04, -05) and 8 (drafts -09 to -12), and answers in
/// the version of the request. The wire rules are `TusProtocol`'s.
///
/// - Creation: `POST` to the endpoint with `Upload-Complete`. The upload
///   exists, and the `104 (Upload Resumption Supported)` with its
///   `Location` goes out (``interimAnswer(_:)``), before a byte of the
///   body is read; the body is then kept as it comes, a cut one too.
/// - Offset retrieval: `HEAD` of the upload.
/// - Append: `PATCH` with `application/partial-upload`, `Upload-Offset`
///   and `Upload-Complete`. A wrong offset is a `409` carrying the right
///   one, and the upload is kept.
/// - Cancellation: `DELETE`.
/// - `OPTIONS`: `Accept-Patch` and `Upload-Limit`.
///
/// Section numbers are those of draft -12 (interop version 8) unless said
/// otherwise; version 6 (draft -05) has the same rules here but for the
/// name of `Upload-Limit`'s lifetime key, which `UploadLimit` writes.
struct DraftDecisions: UploadDecisions {
    let server: ServerContext

    /// The largest structured-field Integer (RFC 9651 §3.3.1): a limit or a
    /// count past it cannot be sent.
    private static let largestInteger: Int64 = 999_999_999_999_999

    // MARK: Routing

    func decide(_ request: Request, mayTakeOver: Bool) -> UploadDecision {
        let version: DraftInteropVersion
        switch ProtocolChoice.dialect(of: request) {
        case .draft(let spoken)?:
            version = spoken
        case .unsupportedDraft(let error)?:
            return unsupportedVersion(error)
        case .tus?, nil:
            return .respond(Response(status: 500, body: "a tus request reached the draft's decisions\n"))
        }
        let method = request.effectiveMethod
        if method == "OPTIONS" {
            return .respond(options(version))
        }
        let base = server.basePath
        let path = request.path
        if path == base || path == String(base.dropLast()) {
            guard method == "POST" else {
                return .respond(
                    Response(
                        status: 405, headers: [("Allow", "POST, OPTIONS")],
                        body: "\(method) is not allowed on \(endpointURL(request)): create an upload with POST\n"))
            }
            return create(request, version)
        }
        let id = String(path.dropFirst(base.count))
        guard path.hasPrefix(base), UploadStore.isValidID(id) else {
            return .respond(
                Response(
                    status: 404,
                    body: "there is no upload at \(request.path): uploads live under \(endpointURL(request))\n"))
        }
        let url = location(for: id, authority: authority(of: request))
        switch method {
        case "HEAD": return head(id, url: url, version, mayTakeOver: mayTakeOver)
        case "PATCH": return append(request, id: id, url: url, version, mayTakeOver: mayTakeOver)
        case "DELETE": return cancel(id, url: url, request, mayTakeOver: mayTakeOver)
        default:
            return .respond(
                Response(
                    status: 405, headers: [("Allow", "HEAD, PATCH, DELETE, OPTIONS")],
                    body: "\(method) is not allowed on \(url): use HEAD, PATCH or DELETE\n"))
        }
    }

    /// A draft request in a version not spoken here: `400` naming the
    /// versions spoken, with the newest in `Upload-Draft-Interop-Version`
    /// (draft -12 Appendix B: an implementation answers only in the
    /// version a request names, and this endpoint takes nothing else).
    private func unsupportedVersion(_ error: DraftHeaderError) -> UploadDecision {
        let spoken = DraftInteropVersion.allCases.map(\.headerValue).joined(separator: " and ")
        return .respond(
            Response(
                status: 400,
                headers: [(DraftHeaderName.uploadDraftInteropVersion, DraftInteropVersion.newest.headerValue)],
                body: "\(error). This server speaks the draft's interop versions \(spoken), and tus 1.0"
                    + " (Tus-Resumable: 1.0.0): send one of them.\n"))
    }

    /// `OPTIONS`: the media type appends take, and the limits (draft -12
    /// §4.1.4: `Accept-Patch` must name `application/partial-upload`,
    /// `Upload-Limit` should be sent when limits apply).
    private func options(_ version: DraftInteropVersion) -> Response {
        Response(
            status: 204,
            headers: [("Accept-Patch", PartialUploadMediaType.contentType), limitHeader(for: nil, version)])
    }

    // MARK: Creation

    /// `POST` to the endpoint (draft -12 §4.2). `Upload-Complete` is
    /// required: this endpoint takes only uploads. The length is
    /// `Upload-Length`, or the `Content-Length` of a request that says
    /// `Upload-Complete: ?1`; the two must agree (§4.1.3).
    private func create(_ request: Request, _ version: DraftInteropVersion) -> UploadDecision {
        let headers = request.headers
        let endpoint = endpointURL(request)
        guard let completeText = headers.first(DraftHeaderName.uploadComplete) else {
            return badRequest(
                "Upload-Complete is required to create an upload at \(endpoint): send Upload-Complete: ?1 when this"
                    + " request carries the whole file, ?0 when more will follow")
        }
        let complete: Bool
        do throws(DraftHeaderError) {
            complete = try UploadCompleteField.parse(completeText)
        } catch {
            return badRequest("\(error)")
        }
        var length: Int64?
        if let text = headers.first(DraftHeaderName.uploadLength) {
            do throws(DraftHeaderError) {
                length = try DraftByteCountField.uploadLength.parse(text)
            } catch {
                return badRequest("\(error)")
            }
        }
        let contentLength = request.contentLength
        if let contentLength, contentLength < 0 {
            return badRequest("Content-Length \"\(headers.first("Content-Length") ?? "")\" is not a byte count")
        }
        if complete, let contentLength {
            if let length, length != contentLength {
                return inconsistentLength(
                    "Upload-Length \(length) and Content-Length \(contentLength) differ, yet Upload-Complete: ?1"
                        + " says this request carries the whole upload", version)
            }
            length = contentLength
        }
        if let length, length > server.maxUploadSize {
            return tooLarge(
                "the upload (\(length) bytes) is larger than this server takes (\(server.maxUploadSize) bytes)", version)
        }
        if let contentLength, contentLength > (length ?? server.maxUploadSize) {
            guard let length else {
                return tooLarge(
                    "the body (\(contentLength) bytes) is larger than this server takes (\(server.maxUploadSize) bytes)",
                    version)
            }
            return inconsistentLength(
                "the body (\(contentLength) bytes) is longer than Upload-Length \(length)", version)
        }

        let record: UploadStore.Record
        do {
            record = try server.store.create(length: length, rawMetadata: nil, draft: version)
        } catch {
            server.logger.error("\(error)")
            return .respond(Response(status: 500, body: "cannot create the upload: the server cannot write its files\n"))
        }
        guard case .found = server.store.acquire(record.id, for: .writing) else {
            return .respond(Response(status: 500, body: "the new upload vanished before its body could be written\n"))
        }
        // Even a creation without a body goes through the sink, so the 104
        // goes out before the answer as for any other.
        return .writeBody(
            BodyPlan(
                uploadID: record.id, offset: 0, limit: length ?? server.maxUploadSize, lengthIsDeferred: length == nil,
                checksum: nil, createdLocation: location(for: record.id, authority: authority(of: request)),
                completesUpload: complete, draftVersion: version))
    }

    /// The `104 (Upload Resumption Supported)` of a creation, sent before
    /// its body is read: the upload's `Location` and `Upload-Limit` (draft
    /// -12 §4.2.2; the channel handler adds `Upload-Draft-Interop-Version`,
    /// without which a client ignores it, Appendix B). Appends get none:
    /// the draft's progress `104`s are optional (§4.4.2).
    func interimAnswer(_ plan: BodyPlan) -> Response? {
        guard let version = plan.draftVersion, let location = plan.createdLocation else { return nil }
        var record: UploadStore.Record?
        if case .found(let found) = server.store.lookup(plan.uploadID) { record = found }
        return Response(
            status: DraftStatus.uploadResumptionSupported, reasonPhrase: DraftStatus.uploadResumptionSupportedReason,
            headers: [("Location", location), limitHeader(for: record, version)])
    }

    // MARK: Offset retrieval, cancellation

    /// `HEAD` (draft -12 §4.3.2): `204` with the offset, completeness,
    /// length when known, limits, and `Cache-Control: no-store`. While a
    /// request writes to the upload, that request is stopped first, so the
    /// offset answered is where the next append must start (§4.6).
    private func head(_ id: String, url: String, _ version: DraftInteropVersion, mayTakeOver: Bool) -> UploadDecision {
        let lookup = server.store.lookup(id)
        guard case .found(let record) = lookup else { return .respond(missing(lookup, url: url)) }
        if mayTakeOver, server.store.isHeld(id, for: .writing) {
            return .takeOver(id)
        }
        var headers = state(record.offset, complete: record.isComplete)
        if let length = record.length {
            headers.append((DraftHeaderName.uploadLength, byteCount(.uploadLength, length)))
        }
        headers.append(limitHeader(for: record, version))
        headers.append(("Cache-Control", "no-store"))
        return .respond(Response(status: 204, headers: headers))
    }

    /// `DELETE` (draft -12 §4.5): `204`, and the upload is gone. A request
    /// writing to it is stopped first.
    private func cancel(_ id: String, url: String, _ request: Request, mayTakeOver: Bool) -> UploadDecision {
        let result = server.store.delete(id)
        if case .busy = result, mayTakeOver { return .takeOver(id) }
        guard case .found = result else { return .respond(missing(result, url: url)) }
        return .respond(Response(status: 204))
    }

    // MARK: Append

    /// `PATCH` with `application/partial-upload` (draft -12 §4.4).
    private func append(
        _ request: Request, id: String, url: String, _ version: DraftInteropVersion, mayTakeOver: Bool
    ) -> UploadDecision {
        let headers = request.headers
        guard let contentType = headers.first("Content-Type"), PartialUploadMediaType.matches(contentType: contentType)
        else {
            return .respond(
                Response(
                    status: 415,
                    body: "an append to \(url) must have Content-Type: \(PartialUploadMediaType.contentType)\n"))
        }
        guard let offsetText = headers.first(DraftHeaderName.uploadOffset) else {
            return badRequest("Upload-Offset is required to append to \(url): send the offset a HEAD of it answers")
        }
        let offset: Int64
        do throws(DraftHeaderError) {
            offset = try DraftByteCountField.uploadOffset.parse(offsetText)
        } catch {
            return badRequest("\(error)")
        }
        guard let completeText = headers.first(DraftHeaderName.uploadComplete) else {
            return badRequest(
                "Upload-Complete is required to append to \(url): send ?1 with the last bytes, ?0 while more will"
                    + " follow")
        }
        let complete: Bool
        var declaredLength: Int64?
        do throws(DraftHeaderError) {
            complete = try UploadCompleteField.parse(completeText)
            if let text = headers.first(DraftHeaderName.uploadLength) {
                declaredLength = try DraftByteCountField.uploadLength.parse(text)
            }
        } catch {
            return badRequest("\(error)")
        }
        let contentLength = request.contentLength
        if let contentLength, contentLength < 0 {
            return badRequest("Content-Length \"\(headers.first("Content-Length") ?? "")\" is not a byte count")
        }

        let acquired = server.store.acquire(id, for: .writing)
        if case .busy = acquired, mayTakeOver { return .takeOver(id) }
        guard case .found(let record) = acquired else { return .respond(missing(acquired, url: url)) }
        var keep = false
        defer { if !keep { server.store.release(id) } }

        if record.isFinal {
            return .respond(
                Response(status: 403, body: "the upload at \(url) was joined from parts and cannot be appended to\n"))
        }
        if record.isComplete {
            // The draft's working copy after -12 says so (Upload Append,
            // server behaviour): a complete upload is not changed, and an
            // append to it is refused, as inconsistent length when it
            // carries bytes; the problem type "completed-upload" is a 400.
            return .respond(
                Response(
                    status: 400, headers: state(record.offset, complete: true),
                    body: "the upload at \(url) is complete (\(record.offset) bytes): nothing more can be appended\n"))
        }
        guard offset == record.offset else {
            // §4.4.2: 409 with the right offset. The upload is kept, so the
            // client resumes from that offset at once.
            return .respond(
                Response(
                    status: DraftStatus.conflict, headers: state(record.offset, complete: false),
                    body: "Upload-Offset \(offset) is not the offset of the upload at \(url), which holds"
                        + " \(record.offset) bytes: send the bytes from \(record.offset) on with Upload-Offset:"
                        + " \(record.offset)\n"))
        }
        // The length from this request (§4.1.3): Upload-Length, or the
        // offset plus Content-Length of the last bytes. Each must agree
        // with the other and with a length given before.
        var length = record.length
        var indicated: [(what: String, value: Int64)] = []
        if let declaredLength { indicated.append(("Upload-Length", declaredLength)) }
        if complete, let contentLength {
            indicated.append(("Upload-Offset plus Content-Length with Upload-Complete: ?1", offset + contentLength))
        }
        for (what, value) in indicated {
            if let known = length, known != value {
                return inconsistentLength(
                    "\(what) says the upload at \(url) has \(value) bytes, but it has \(known)", version)
            }
            length = value
        }
        if let length, length < record.offset {
            return inconsistentLength(
                "the length \(length) is less than the \(record.offset) bytes the upload at \(url) holds", version)
        }
        if let length, length > server.maxUploadSize {
            return tooLarge(
                "the upload (\(length) bytes) is larger than this server takes (\(server.maxUploadSize) bytes)", version)
        }
        if let contentLength, contentLength > (length ?? server.maxUploadSize) - offset {
            guard let length else {
                return tooLarge(
                    "the body (\(contentLength) bytes) would take the upload at \(url) past the largest this server"
                        + " takes (\(server.maxUploadSize) bytes)", version)
            }
            return inconsistentLength(
                "the body (\(contentLength) bytes) goes past the upload's length \(length), from offset \(offset)",
                version)
        }
        if record.length == nil, let length {
            server.store.update(id) { $0.length = length }
            server.store.persist(id)
        }
        keep = true
        return .writeBody(
            BodyPlan(
                uploadID: id, offset: offset, limit: length ?? server.maxUploadSize, lengthIsDeferred: length == nil,
                checksum: nil, createdLocation: nil, completesUpload: complete, draftVersion: version))
    }

    // MARK: Answers after a body

    /// The body was kept. A creation is answered `201 Created` with its
    /// `Location` and limits (§4.2.2); an append `204` while the upload is
    /// incomplete, `200` for the one that completes it (§4.4.2). Both carry
    /// `Upload-Offset` and `Upload-Complete`: `?1` once a request said
    /// `Upload-Complete: ?1` and all of its body arrived (§4.1.2).
    func bodyStored(_ plan: BodyPlan, offset: Int64, record: UploadStore.Record?) -> Response {
        let version = plan.draftVersion ?? .newest
        let complete = record?.isComplete ?? false
        var headers: [(name: String, value: String)] = []
        if let location = plan.createdLocation { headers.append(("Location", location)) }
        headers += state(offset, complete: complete)
        if plan.completesUpload, !complete, let length = record?.length, length != offset {
            // A body sent without Content-Length ended short of the length
            // (§4.1.3): the bytes are kept, the upload is not complete.
            return Response(
                status: 400, headers: headers,
                body: "the body ended at \(offset) bytes, but the upload has \(length) and the request said"
                    + " Upload-Complete: ?1: send the rest from \(offset) on\n")
        }
        if plan.createdLocation != nil {
            headers.append(limitHeader(for: record, version))
            return Response(status: 201, headers: headers)
        }
        return Response(status: complete ? 200 : 204, headers: headers)
    }

    /// Draft requests carry no `Upload-Checksum`, so no checksum fault
    /// matches them; answered as tus would, for completeness.
    func checksumMismatch(_ plan: BodyPlan) -> Response {
        Response(
            status: TusStatus.checksumMismatch, reasonPhrase: TusStatus.checksumMismatchReason,
            headers: state(plan.offset, complete: false), body: "the body's checksum did not match: it was discarded\n")
    }

    /// The body went past the upload's length (a `400`, as lengths that
    /// disagree, §4.1.3) or past the largest upload the server takes (a
    /// `413` with `Upload-Limit`, §4.1.4). Its bytes were discarded.
    func bodyPastLimit(_ plan: BodyPlan) -> Response {
        let version = plan.draftVersion ?? .newest
        var headers: [(name: String, value: String)] = []
        if let location = plan.createdLocation { headers.append(("Location", location)) }
        headers += state(plan.offset, complete: false)
        if plan.lengthIsDeferred {
            headers.append(limitHeader(for: nil, version))
            return Response(
                status: 413, headers: headers,
                body: "the body goes past the largest upload this server takes (\(plan.limit) bytes): it was"
                    + " discarded\n")
        }
        return Response(
            status: 400, headers: headers,
            body: "the body goes past the upload's length (\(plan.limit) bytes): it was discarded\n")
    }

    /// The data file could not be written: the body was discarded.
    func bodyNotWritten(_ plan: BodyPlan) -> Response {
        var headers: [(name: String, value: String)] = []
        if let location = plan.createdLocation { headers.append(("Location", location)) }
        headers += state(plan.offset, complete: false)
        return Response(
            status: 500, headers: headers,
            body: "the server cannot write the upload's data file: the body was discarded; try again later\n")
    }

    // MARK: Helpers

    /// `Upload-Offset` and `Upload-Complete`.
    private func state(_ offset: Int64, complete: Bool) -> [(name: String, value: String)] {
        [
            (DraftHeaderName.uploadOffset, byteCount(.uploadOffset, offset)),
            (DraftHeaderName.uploadComplete, UploadCompleteField.headerValue(complete)),
        ]
    }

    /// A byte count as the draft writes it; never more than the largest
    /// upload, so always within a structured-field Integer in practice.
    private func byteCount(_ field: DraftByteCountField, _ count: Int64) -> String {
        (try? field.headerValue(count)) ?? String(count)
    }

    /// `Upload-Limit` for `record` (the server's, for `nil`): `max-size`,
    /// the largest upload taken, and the lifetime key of `version` with the
    /// seconds the upload has left (the expiration, for `nil`), none for a
    /// complete upload or a server without expiration (§4.1.4). Rounded
    /// down, so the end it implies never comes later than the real one.
    private func limitHeader(
        for record: UploadStore.Record?, _ version: DraftInteropVersion
    ) -> (name: String, value: String) {
        var limit = UploadLimit(maxSize: min(server.maxUploadSize, Self.largestInteger))
        if let record {
            if !record.isComplete, let expiresAt = record.expiresAt {
                let left = expiresAt.timeIntervalSince(server.store.clock())
                limit.maxAge = min(Int64(max(left, 0).rounded(.down)), Self.largestInteger)
            }
        } else if let expiration = server.expiration {
            limit.maxAge = min(Int64(expiration.rounded(.down)), Self.largestInteger)
        }
        return (DraftHeaderName.uploadLimit, (try? limit.headerValue(version: version)) ?? "min-size=0")
    }

    private func badRequest(_ message: String) -> UploadDecision {
        .respond(Response(status: 400, body: message + "\n"))
    }

    /// Lengths that disagree (§4.1.3, the problem type
    /// ``DraftStatus/inconsistentLengthProblemType``): `400`.
    private func inconsistentLength(_ message: String, _ version: DraftInteropVersion) -> UploadDecision {
        .respond(Response(status: 400, body: "inconsistent upload length: " + message + "\n"))
    }

    /// Past the server's limits: `413` with `Upload-Limit` (§4.1.4).
    private func tooLarge(_ message: String, _ version: DraftInteropVersion) -> UploadDecision {
        .respond(Response(status: 413, headers: [limitHeader(for: nil, version)], body: message + "\n"))
    }

    private func missing(_ lookup: UploadStore.Lookup, url: String) -> Response {
        switch lookup {
        case .gone:
            Response(status: 410, body: "the upload at \(url) expired and was removed: start a new upload\n")
        case .busy:
            Response(
                status: 423,
                body: "the upload at \(url) is busy with another request that did not let go: try again in a moment\n")
        case .notFound, .found:
            Response(
                status: 404,
                body: "there is no upload at \(url): it was never created here, or it was cancelled; start a new"
                    + " upload\n")
        }
    }
}
