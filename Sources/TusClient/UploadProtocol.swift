/// Which protocol an upload speaks: tus 1.0, the IETF draft "Resumable
/// Uploads for HTTP" (draft-ietf-httpbis-resumable-upload), or whichever
/// the server answers in.
///
/// Set it in ``UploadOptions/uploadProtocol``. It decides how a new upload
/// is created; an upload resumed from a `Storage` goes on in the protocol
/// it was created with, whatever this says.
public enum UploadProtocol: String, Sendable, Hashable, CaseIterable {
    /// tus 1.0 (`Tus-Resumable: 1.0.0`), with its creation,
    /// creation-with-upload, checksum, termination and concatenation
    /// extensions where the server announces them.
    case tus
    /// The IETF draft, at ``UploadOptions/draftInteropVersion``: creation
    /// with `Upload-Complete`, the upload's URL from the `104 (Upload
    /// Resumption Supported)` interim answer, `HEAD` for the offset, `PATCH`
    /// with `application/partial-upload` to append, `DELETE` to cancel. No
    /// parallel parts (the draft has no concatenation) and no checksums.
    case ietfDraft = "ietf"
    /// The first `POST` carries the headers of both; the server's answer
    /// decides: `Tus-Resumable` in it means tus 1.0, a `104` or the draft's
    /// headers without it mean the draft. The default.
    case auto
}
