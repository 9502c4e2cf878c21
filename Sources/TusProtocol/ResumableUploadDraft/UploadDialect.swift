/// Which of the two protocols a message speaks, told from the two headers
/// that mark them: `Tus-Resumable` (tus 1.0) and
/// `Upload-Draft-Interop-Version` (the IETF draft "Resumable Uploads for
/// HTTP").
///
/// `Tus-Resumable` wins: a message carrying both is tus. A client that
/// does not know which protocol a server speaks sends both on its first
/// request: a tus 1.0 server ignores the draft's headers and answers in
/// tus, while tusd with its experimental draft support answers in the
/// draft. The development server takes a request as a draft request only when it
/// carries `Upload-Draft-Interop-Version` and no `Tus-Resumable`, and its
/// answers mark themselves the same way: a tus answer carries
/// `Tus-Resumable` and never `Upload-Draft-Interop-Version`, a draft
/// answer the other way round. A client reads an answer's dialect with the
/// same rule.
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package enum UploadDialect: Equatable, Sendable {
    /// tus 1.0: the message carries `Tus-Resumable`, whatever its value.
    case tus
    /// The draft, in an interop version spoken here.
    case draft(DraftInteropVersion)
    /// The draft, in an interop version not spoken here, or with a value
    /// that is not a version at all: the error says which, in words
    /// (``DraftHeaderError/isUnsupportedVersion`` tells the two apart).
    case unsupportedDraft(DraftHeaderError)

    /// The dialect of a message whose `Tus-Resumable` and
    /// `Upload-Draft-Interop-Version` values are these (`nil` for a header
    /// it lacks); `nil` when it carries neither.
    package init?(tusResumable: String?, uploadDraftInteropVersion: String?) {
        if tusResumable != nil {
            self = .tus
            return
        }
        guard let version = uploadDraftInteropVersion else { return nil }
        do throws(DraftHeaderError) {
            self = .draft(try DraftInteropVersion(headerValue: version))
        } catch {
            self = .unsupportedDraft(error)
        }
    }

    /// Whether the message speaks the draft, in a version spoken here or not.
    package var isDraft: Bool {
        switch self {
        case .tus: false
        case .draft, .unsupportedDraft: true
        }
    }
}
