import Foundation
import TusProtocol

/// The stage that picks the protocol of each request, inside fault
/// injection: a request carrying `Upload-Draft-Interop-Version` and no
/// `Tus-Resumable` goes to the IETF draft's stage, every other request to
/// tus 1.0's, as before the draft was spoken (``UploadDialect``). A request
/// carrying both is tus: a client that does not know which protocol the
/// server speaks sends both, and must get plain tus from a tus server.
///
/// It also says which headers mark the answers to a request
/// (``answerHeaders(for:)``), so every answer carries them, whoever makes
/// it: a fault, a refusal, a `104`.
struct ProtocolChoice: Responder {
    let tus: any Responder
    let draft: any Responder

    func respond(to request: Request) -> Outcome {
        Self.dialect(of: request)?.isDraft == true ? draft.respond(to: request) : tus.respond(to: request)
    }

    /// The dialect `request` speaks; `nil` when it carries neither marker
    /// (tus's decisions answer it `412`).
    static func dialect(of request: Request) -> UploadDialect? {
        UploadDialect(
            tusResumable: request.headers.first(TusHeaderName.tusResumable),
            uploadDraftInteropVersion: request.headers.first(DraftHeaderName.uploadDraftInteropVersion))
    }

    /// The headers every answer to `request` carries: the draft's
    /// `Upload-Draft-Interop-Version` of the request for a draft request in
    /// a version spoken here, nothing for one in another version (its `400`
    /// names the newest itself), `Tus-Resumable: 1.0.0` for any other
    /// request.
    static func answerHeaders(for request: Request) -> [(name: String, value: String)] {
        switch dialect(of: request) {
        case .draft(let version)?:
            [(DraftHeaderName.uploadDraftInteropVersion, version.headerValue)]
        case .unsupportedDraft?:
            []
        case .tus?, nil:
            [(TusHeaderName.tusResumable, tusProtocolVersion)]
        }
    }
}
