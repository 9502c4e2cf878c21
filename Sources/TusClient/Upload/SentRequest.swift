import Foundation
import NIOHTTP1

/// What a request of an upload is for. Each kind has its own reading of
/// the server's answers (see ``Verdict/decide(_:_:)``).
enum RequestKind: Sendable, Equatable {
    /// `OPTIONS` of the endpoint: what the server supports.
    case options
    /// `POST` of a new upload, or of one part of a parallel upload.
    case create
    /// `PATCH`: bytes appended at an offset.
    case append
    /// `HEAD` of the upload while it runs: how many bytes the server holds.
    case offset
    /// `HEAD` of a stored URL before resuming: is it still this file's
    /// upload, and where does it go on.
    case resume
    /// `POST` of the final upload that joins a parallel upload's parts.
    case concatenate
    /// `DELETE` of an upload (the termination extension).
    case terminate

    /// The request's method.
    var method: String {
        switch self {
        case .options: "OPTIONS"
        case .create, .concatenate: "POST"
        case .append: "PATCH"
        case .offset, .resume: "HEAD"
        case .terminate: "DELETE"
        }
    }
}

/// What was sent, as far as judging its answer needs: the verdict function
/// reads this and the outcome, nothing else.
struct SentRequest: Sendable {
    var kind: RequestKind
    /// The URL the request went to.
    var url: URL
    /// For `PATCH`: the `Upload-Offset` sent.
    var offset: Int64 = 0
    /// How many body bytes the request carried.
    var bodyCount = 0
    /// For `POST`: the bytes went with it without knowing whether the server
    /// takes them (creation-with-upload not announced yet).
    var unasked = false
    /// The size of what is uploaded (of the part, for a part), when known.
    var size: Int64?
    /// For `HEAD` of a stored URL: the file check the upload was created
    /// with, when this file has one (see ``FileCheck``).
    var fileCheck: String?
    /// An earlier request of this upload was abandoned (stalled or cut
    /// with bytes on their way), and the server may still hold it.
    var afterAbandoned = false
    /// The proxy the request went through, if any.
    var proxy: Proxy?
    /// What is uploaded, for messages: the file's path, and which part.
    var name: String?
    /// The protocol the request speaks: tus 1.0, the IETF draft, or (the
    /// first `POST` of an upload in ``UploadProtocol/auto``) both.
    var speech: Speech = .only(.tus)
    /// For the draft: the request said `Upload-Complete: ?1` (its body
    /// ends the upload).
    var completes = false

    /// A proxy, as messages name it.
    struct Proxy: Sendable {
        /// `host:port`.
        var address: String
        /// Its URL holds a user name (and password) it was sent.
        var hasCredentials: Bool
    }

    /// "PATCH http://…", for messages (no password).
    var label: String { "\(kind.method) \(url.forMessages)" }
}

/// How a request ended: an answer, or none.
enum Outcome: Sendable {
    case answer(Exchange)
    case noAnswer(TransportFailure)

    /// The interim (1xx) answers that came, whatever the end.
    var interim: [HTTPResponseHead] {
        switch self {
        case .answer(let exchange): exchange.interim
        case .noAnswer(let failure): failure.interim
        }
    }
}
