/// The names of the headers of the IETF draft "Resumable Uploads for HTTP"
/// (draft-ietf-httpbis-resumable-upload), spelled as the draft spells them.
/// They are the same in interop versions 6 and 8.
///
/// `Upload-Offset` and `Upload-Length` share their names with tus 1.0's
/// (``TusHeaderName``) but not their syntax: the draft's are
/// structured-field Integers (``DraftByteCountField``), tus's plain digits
/// (``NonNegativeInteger``). HTTP compares header names without regard to
/// case, so these serve for reading as well as writing.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum DraftHeaderName {
    /// `Upload-Draft-Interop-Version`: see ``DraftInteropVersion``.
    package static let uploadDraftInteropVersion = "Upload-Draft-Interop-Version"
    /// `Upload-Complete`: whether a request ends the upload, or whether an
    /// answer comes from the resource that processed the whole upload; see
    /// ``UploadCompleteField``.
    package static let uploadComplete = "Upload-Complete"
    /// `Upload-Offset`: the bytes the upload resource has processed, or
    /// where an append's content starts; see ``DraftByteCountField``.
    package static let uploadOffset = TusHeaderName.uploadOffset
    /// `Upload-Length`: the size of the whole upload, in bytes; see
    /// ``DraftByteCountField``.
    package static let uploadLength = TusHeaderName.uploadLength
    /// `Upload-Limit`: the server's limits on sizes and on the upload
    /// resource's lifetime; see ``UploadLimit``.
    package static let uploadLimit = "Upload-Limit"
}
