import Foundation
import TusProtocol

/// The semantics of one upload protocol, request head in, answer or plan
/// out: ``TusDecisions`` for tus 1.0, ``DraftDecisions`` for the IETF
/// draft. ``DecisionResponder`` carries either out the same way, over the
/// same store, holds, sinks and limits, so fault injection and takeovers
/// work alike for both.
protocol UploadDecisions: Sendable {
    /// The server's shared state.
    var server: ServerContext { get }

    /// The decisions of the server `server`.
    init(server: ServerContext)

    /// The answer to the request whose head is `request`, or the body work
    /// it may do.
    ///
    /// - Parameter mayTakeOver: whether an upload another request holds
    ///   gets ``UploadDecision/takeOver(_:)``; false once the wait for the
    ///   holder is over.
    func decide(_ request: Request, mayTakeOver: Bool) -> UploadDecision

    /// The interim answer to send before the body of `plan` is read, or
    /// `nil`.
    func interimAnswer(_ plan: BodyPlan) -> Response?

    /// The body was kept: the upload is at `offset` now. `record` is the
    /// upload after the commit.
    func bodyStored(_ plan: BodyPlan, offset: Int64, record: UploadStore.Record?) -> Response

    /// The body's digest differs from its checksum (or a fault said so): it
    /// was discarded.
    func checksumMismatch(_ plan: BodyPlan) -> Response

    /// The body went past `plan.limit`: it was discarded.
    func bodyPastLimit(_ plan: BodyPlan) -> Response

    /// The data file could not be written: the body was discarded.
    func bodyNotWritten(_ plan: BodyPlan) -> Response

    /// Joins the parts of a final upload and answers; only for a protocol
    /// whose decisions return ``UploadDecision/concatenate(_:)``.
    func concatenate(_ plan: FinalUploadPlan) -> Response
}

extension UploadDecisions {
    /// No interim answer.
    func interimAnswer(_ plan: BodyPlan) -> Response? { nil }

    /// The scheme and authority upload URLs are given with: the request's
    /// `Host` if it is usable, else the server's own address.
    func authority(of request: Request) -> String {
        var authority = request.headers.first("Host")?.trimmingCharacters(in: .whitespaces) ?? ""
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_")
        if authority.isEmpty || !authority.allSatisfy({ allowed.contains($0) }) {
            authority = request.localAuthority
        }
        return authority
    }

    /// The absolute URL of upload `id`.
    func location(for id: String, authority: String) -> String {
        "http://\(authority)\(server.basePath)\(id)"
    }

    /// The absolute URL of the creation endpoint, for messages.
    func endpointURL(_ request: Request) -> String {
        "http://\(authority(of: request))\(server.basePath)"
    }

    /// A protocol without concatenation never decides to join parts.
    func concatenate(_ plan: FinalUploadPlan) -> Response {
        for id in plan.heldIDs { server.store.release(id) }
        return Response(status: 501, body: "this protocol does not join uploads\n")
    }
}

/// What to do with a request, as ``UploadDecisions/decide(_:mayTakeOver:)``
/// says.
enum UploadDecision {
    /// Answer with this (the body, if any, is thrown away).
    case respond(Response)
    /// Write the body into an upload: see ``BodyPlan``.
    case writeBody(BodyPlan)
    /// Join partial uploads into a new final upload, then answer: see
    /// ``FinalUploadPlan`` and ``TusDecisions/concatenate(_:)``.
    case concatenate(FinalUploadPlan)
    /// Another request holds this upload: ask it to stop, wait until it
    /// lets go (at most ``ServerContext/takeoverTimeout`` in all), then
    /// decide again. Nothing is held for the request meanwhile.
    case takeOver(String)
}

/// What a request whose body goes into an upload may do: "expect a body of
/// at most `limit - offset` bytes at `offset` for upload `uploadID`",
/// checked against `checksum` if set.
///
/// Both protocols make them; the draft's say, besides, whether the body
/// completes the upload (``completesUpload``) and which interop version
/// the request speaks (``draftVersion``).
///
/// The upload is held for the request (``UploadStore/acquire(_:for:now:)``);
/// the ``UploadBodySink`` that carries the plan out lets it go, when the
/// body ends or a newer request for the upload stops it.
struct BodyPlan: Sendable, Equatable {
    /// The upload the bytes go to.
    var uploadID: String
    /// Where the body starts: the upload's offset.
    var offset: Int64
    /// Where the body must stop: the upload's length, or the maximum size
    /// while the length is deferred.
    var limit: Int64
    /// Whether `limit` is the maximum size, the length being deferred.
    var lengthIsDeferred: Bool
    /// The request's `Upload-Checksum`, if any.
    var checksum: UploadChecksum?
    /// The new upload's URL when the body came with the creation `POST`
    /// (`creation-with-upload`); `nil` for a `PATCH`.
    var createdLocation: String?
    /// The draft's `Upload-Complete: ?1`: once the body has ended (not
    /// when it is cut or stopped), the upload is complete, its length the
    /// offset reached if it had none (draft -12 §4.1.2, §4.1.3). Always
    /// false for tus.
    var completesUpload = false
    /// The interop version of a draft request; `nil` for tus.
    var draftVersion: DraftInteropVersion? = nil

    /// The most bytes the body may have.
    var maxBytes: Int64 { limit - offset }
}
