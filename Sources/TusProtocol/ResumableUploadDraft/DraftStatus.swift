/// The status codes the IETF draft "Resumable Uploads for HTTP" adds or
/// gives a meaning, and the problem types (RFC 9457) that go with them.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum DraftStatus {
    /// 104 (Upload Resumption Supported), an interim answer with two uses
    /// (draft -12 §5):
    ///
    /// - During a creation request, it tells the client, before the final
    ///   answer, that the upload can be resumed and where: its `Location`
    ///   is the upload resource (the same in every answer to that request
    ///   that has one), with `Upload-Limit` when the server has limits
    ///   (§4.2.2). A client that lost the connection may resume only if it
    ///   got this `Location` (§4.2.1).
    /// - During a creation or an append, it may report progress in
    ///   `Upload-Offset`; an append's `104` never has a `Location`
    ///   (§4.4.2).
    ///
    /// Draft implementations put `Upload-Draft-Interop-Version` in it, send
    /// it only to a request naming their version, and ignore one naming
    /// another (Appendix B; ``DraftInteropVersion``). It does not stand for
    /// `100 Continue`: a server still sends that when the request expects
    /// it, though a client may start sending content on a `104`.
    package static let uploadResumptionSupported = 104
    /// The reason phrase sent with ``uploadResumptionSupported``.
    package static let uploadResumptionSupportedReason = "Upload Resumption Supported"

    /// 409 (Conflict): the answer to an append whose `Upload-Offset` is not
    /// the upload resource's offset. It carries `Upload-Complete: ?0` and
    /// the resource's offset in `Upload-Offset`, so the client can resume
    /// from there without a `HEAD` (draft -12 §4.4.2), and may carry the
    /// problem type ``mismatchingOffsetProblemType`` with `expected-offset`
    /// and `provided-offset` members (§7.1).
    ///
    /// Apple's NIOResumableUpload answers so, but also drops the upload:
    /// the offset in its 409 cannot be resumed from.
    package static let conflict = 409

    /// The problem type of a ``conflict`` for a mismatched offset (draft
    /// -12 §7.1).
    package static let mismatchingOffsetProblemType =
        "https://iana.org/assignments/http-problem-types#mismatching-upload-offset"
    /// The problem type of a `400 Bad Request` for lengths that disagree:
    /// `Upload-Length` against offset plus `Content-Length` with
    /// `Upload-Complete: ?1`, or against an earlier request's (draft -12
    /// §4.1.3, §7.2).
    package static let inconsistentLengthProblemType =
        "https://iana.org/assignments/http-problem-types#inconsistent-upload-length"
}
