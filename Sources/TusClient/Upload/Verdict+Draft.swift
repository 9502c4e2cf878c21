import Foundation
import NIOHTTP1
import TusCore
import TusProtocol

/// How the IETF draft's answers are read (draft-ietf-httpbis-resumable-
/// upload; "-05" is interop version 6, "-12" version 8). The status codes
/// are read here and in ``Verdict`` alone.
extension Verdict {
    /// Judges the answer to a request that spoke the draft at `version`,
    /// once the rules shared with tus (credentials, a held upload) found
    /// nothing.
    static func draft(_ answer: Exchange, sent: SentRequest, version: DraftInteropVersion) -> Verdict {
        if let refusal = draftVersionRefusal(answer, sent: sent, version: version) { return .stop(refusal) }
        switch sent.kind {
        case .create: return draftCreated(answer, sent: sent, version: version)
        case .append: return draftAppended(answer, sent: sent)
        case .offset: return offset(answer, sent: sent) { expiredByLimit($0, version: version) }
        case .resume: return draftResume(answer, sent: sent, version: version)
        case .terminate: return terminated(answer, sent: sent)
        case .options, .concatenate:
            // Never sent in the draft's dialect.
            return .stop(TusError(.protocolViolation, "\(sent.label): not a request of the IETF draft"))
        }
    }

    /// Whether the answer to the first `POST` of an upload in
    /// ``UploadProtocol/auto`` comes from a server speaking the draft: it
    /// has no `Tus-Resumable` (which tus 1.0 puts in every answer but
    /// `OPTIONS`'s), and a `104`, an `Upload-Draft-Interop-Version` or an
    /// `Upload-Complete` (`Upload-Incomplete` in drafts -00 to -02, which
    /// Apple's server still writes in final answers) says the draft.
    static func answersInDraft(_ answer: Exchange) -> Bool {
        let marked = UploadDialect(
            tusResumable: answer.header(TusHeaderName.tusResumable),
            uploadDraftInteropVersion: answer.header(DraftHeaderName.uploadDraftInteropVersion))
        if let marked { return marked.isDraft }
        return answer.interim.contains { $0.status.code == DraftStatus.uploadResumptionSupported }
            || answer.header(DraftHeaderName.uploadComplete) != nil
            || answer.header("Upload-Incomplete") != nil
    }

    // MARK: Each kind of request

    private static func draftCreated(_ answer: Exchange, sent: SentRequest, version: DraftInteropVersion) -> Verdict {
        let code = answer.code
        // The 104's Location is the upload resource's (-05 §4.2, -12
        // §4.2.2). Once the upload completes, the final answer comes from
        // the resource the upload was for, and its Location, if any, is
        // that resource's own: the 104's wins.
        let early = answer.interim.uploadResource(version: version, relativeTo: sent.url)
        if answer.isSuccess {
            if let url = early ?? answer.location(relativeTo: sent.url) {
                return .created(url: url, offset: takenBytes(answer, sent: sent), dialect: .draft(version))
            }
            // The whole file went with a creation that says so, and the
            // resource it was for took it (-12 §4.2.2): nothing is left to
            // resume, and the upload's URL is the one it was sent to.
            if sent.completes, answer.isComplete != false {
                return .created(url: sent.url, offset: Int64(sent.bodyCount), dialect: .draft(version))
            }
            return .stop(TusError(.protocolViolation, "\(sent.label) answered \(code) with no 104 and no usable Location header: the server did not make the upload resumable"))
        }
        if code == 413, sent.bodyCount > 0, early != nil {
            // The upload exists: ask its offset, then append; an append
            // refused as too large sends less.
            let error = TusError(.invalidArgument, "\(sent.label): the server refused \(sent.bodyCount) bytes in one request (413)")
            return .retry(Failure(statusCode: code, error: error), resync: true)
        }
        // After a 104 the upload exists: a retry goes on at its URL (see
        // UploadState.willRetry).
        return creationRefused(answer, sent: sent)
    }

    private static func draftAppended(_ answer: Exchange, sent: SentRequest) -> Verdict {
        let code = answer.code
        if answer.isSuccess {
            let offset = takenBytes(answer, sent: sent) + sent.offset
            if offset == sent.offset && sent.bodyCount > 0 {
                let error = TusError(.protocolViolation, "\(sent.label): the server took none of the \(sent.bodyCount) bytes sent at \(sent.offset)")
                return .retry(Failure(statusCode: code, error: error), resync: true)
            }
            return .moved(to: offset)
        }
        switch code {
        case 409:
            // The server's offset differs (-05 §6, -12 §4.4.2): go on from
            // the one the answer gives (UploadState.willRetry), else ask.
            let error = TusError(.protocolViolation, "\(sent.label): the server's offset is not \(sent.offset) (409)")
            return .retry(Failure(statusCode: code, error: error), resync: true)
        case 413 where sent.bodyCount > 0:
            return .sendSmaller
        default:
            return refused(answer, sent: sent, resync: true)
        }
    }

    private static func draftResume(_ answer: Exchange, sent: SentRequest, version: DraftInteropVersion) -> Verdict {
        guard answer.isSuccess else { return refused(answer, sent: sent, resync: false) }
        let offset: Int64
        switch answer.offset(sent.label) {
        case .success(let value): offset = value
        case .failure(let error): return .stop(error)
        }
        if let reason = anotherFilesUpload(answer, sent: sent, offset: offset) { return .forget(reason: reason) }
        if let size = sent.size, offset < size, answer.isComplete == true {
            return .forget(reason: "it is another file's: the server holds a complete upload of \(offset) bytes, the file has \(size)")
        }
        if let reason = expiredByLimit(answer, version: version) { return .forget(reason: reason) }
        return .resumable(offset: offset, lengthDeferred: false)
    }

    // MARK: Rules shared by several kinds

    /// How many of the bytes sent the server took: its `Upload-Offset` less
    /// where the request started, when it says (and not more than was
    /// sent); else all of them, as a `2xx` means the content was processed
    /// (Apple's server, and the resource that answers once an upload
    /// completes, send no `Upload-Offset`).
    private static func takenBytes(_ answer: Exchange, sent: SentRequest) -> Int64 {
        guard let text = answer.header(DraftHeaderName.uploadOffset),
              let offset = try? DraftByteCountField.uploadOffset.parse(text) else { return Int64(sent.bodyCount) }
        let taken = offset - sent.offset
        return taken < 0 || taken > Int64(sent.bodyCount) ? 0 : taken
    }

    /// The `Upload-Limit` the answer carries says the upload resource has
    /// no time left.
    private static func expiredByLimit(_ answer: Exchange, version: DraftInteropVersion) -> String? {
        guard let limit = answer.uploadLimit(version: version), let age = limit.maxAge, age <= 0 else { return nil }
        return "it expired: the server's Upload-Limit gives it \(age) seconds left"
    }

    /// A `400` naming another interop version: the server does not speak
    /// the one sent (-12 Appendix B).
    private static func draftVersionRefusal(_ answer: Exchange, sent: SentRequest, version: DraftInteropVersion) -> TusError? {
        guard answer.code == 400, let named = answer.header(DraftHeaderName.uploadDraftInteropVersion),
              named.trimmingCharacters(in: .whitespaces) != version.headerValue else { return nil }
        return TusError(.unsupported, "\(sent.label): the server speaks interop version \(named) of the IETF draft, not \(version.rawValue) (400); set the draft interop version to \(named), or upload with tus")
    }
}

extension Attempt {
    /// The server's offset in a draft `409` answer to an append, when it
    /// gives a well-formed one within the upload's size.
    var conflictOffset: Int64? {
        guard case .answer(let answer) = outcome, answer.code == DraftStatus.conflict,
              let text = answer.header(DraftHeaderName.uploadOffset),
              let offset = try? DraftByteCountField.uploadOffset.parse(text) else { return nil }
        if let size = sent.size, offset > size { return nil }
        return offset
    }
}

extension Exchange {
    /// The answer's `Upload-Complete`, if present and well formed.
    var isComplete: Bool? {
        header(DraftHeaderName.uploadComplete).flatMap { try? UploadCompleteField.parse($0) }
    }

    /// The answer's `Upload-Limit` in `version`, if present and well formed.
    func uploadLimit(version: DraftInteropVersion) -> UploadLimit? {
        header(DraftHeaderName.uploadLimit).flatMap { try? UploadLimit(headerValue: $0, version: version) }
    }
}

extension Array where Element == HTTPResponseHead {
    /// The upload resource a `104 (Upload Resumption Supported)` named,
    /// resolved against `base`: the first `104` with a `Location` and the
    /// interop version `version` (or none named). A `104` of another
    /// version is ignored (-12 §4.2.2).
    func uploadResource(version: DraftInteropVersion, relativeTo base: URL) -> URL? {
        for head in self where head.status.code == DraftStatus.uploadResumptionSupported {
            if let named = head.headers.first(name: DraftHeaderName.uploadDraftInteropVersion),
               named.trimmingCharacters(in: .whitespaces) != version.headerValue { continue }
            if let location = head.headers.first(name: "Location"), let url = TusLocation.resolve(location, against: base) {
                return url
            }
        }
        return nil
    }
}
