public import Foundation

/// What the development server knows about one upload, as returned by
/// ``TusDevServer/uploadInfo(for:)``.
///
/// ```swift
/// let info = try #require(server.uploadInfo(for: location))
/// #expect(info.offset == 1024)
/// #expect(info.metadata["filename"] == "photo.jpg")
/// ```
public struct UploadInfo: Sendable, Equatable {
    /// The upload's id: the last path component of its URL.
    public var id: String
    /// The announced total size in bytes, or `nil` while the length is
    /// deferred (`Upload-Defer-Length: 1` and no `Upload-Length` yet).
    public var length: Int64?
    /// The bytes received and kept so far.
    public var offset: Int64
    /// `Upload-Metadata` decoded: each key with its value as UTF-8 text
    /// (invalid UTF-8 is replaced with U+FFFD; a key sent alone maps to "").
    public var metadata: [String: String]
    /// `Upload-Metadata` exactly as the client sent it, or `nil` if it sent none.
    public var rawMetadata: String?
    /// When the upload was created.
    public var createdAt: Date
    /// When the upload expires if it is not finished by then; `nil` when the
    /// server has no expiration or the upload is complete.
    public var expiresAt: Date?
    /// The upload's part in the `concatenation` extension: ``Concatenation/partial``
    /// for one created with `Upload-Concat: partial`,
    /// ``Concatenation/final(partIDs:)`` for one made by joining partial
    /// uploads, `nil` for an ordinary upload.
    public var concatenation: Concatenation?
    /// The protocol whose request created the upload: ``UploadProtocol/tus``
    /// or ``UploadProtocol/ietfDraft(interopVersion:complete:)``.
    public var madeWith: UploadProtocol

    /// The protocol that created an upload. Both kinds live side by side on
    /// one endpoint, in the same folder, and are inspected alike.
    ///
    /// ```swift
    /// let info = try #require(server.uploadInfo(for: location))
    /// #expect(info.madeWith == .ietfDraft(interopVersion: 8, complete: true))
    /// ```
    public enum UploadProtocol: Sendable, Equatable {
        /// tus 1.0: the creation `POST` carried `Tus-Resumable`.
        case tus
        /// The IETF draft "Resumable Uploads for HTTP", in this interop
        /// version (6 or 8). `complete` is true once a request with
        /// `Upload-Complete: ?1` was processed whole: from then on no byte
        /// may be appended, and the length is the offset.
        case ietfDraft(interopVersion: Int, complete: Bool)
    }

    /// How an upload takes part in concatenation (the tus `concatenation`
    /// extension).
    ///
    /// ```swift
    /// let final = try #require(server.uploadInfo(for: finalURL))
    /// #expect(final.concatenation == .final(partIDs: [first.lastPathComponent, second.lastPathComponent]))
    /// #expect(final.length == Int64(firstBytes.count + secondBytes.count))
    /// ```
    public enum Concatenation: Sendable, Equatable {
        /// Created with `Upload-Concat: partial`: an ordinary upload otherwise,
        /// meant to be joined into a final one. It stays after the join.
        case partial
        /// Created with `Upload-Concat: final;…`: the bytes of the partial
        /// uploads with these ids, in the order the request named them
        /// (an id appears twice if the request named a part twice). Complete
        /// from its creation; it takes no `PATCH`.
        case final(partIDs: [String])
    }

    /// Whether every byte has been received: for tus, the length is known
    /// and the offset has reached it; for the draft, a request said
    /// `Upload-Complete: ?1` and all of it arrived (the draft's uploads may
    /// hold as many bytes as their length and still wait for that word).
    public var isComplete: Bool {
        if case .ietfDraft(_, let complete) = madeWith { return complete }
        return length.map { offset == $0 } ?? false
    }
    /// Whether the upload was created with `Upload-Defer-Length: 1` and has
    /// not been given its length yet.
    public var isLengthDeferred: Bool { length == nil }
    /// Whether the upload was created with `Upload-Concat: partial`.
    public var isPartial: Bool { concatenation == .partial }
    /// Whether the upload was made by joining partial uploads.
    public var isFinal: Bool {
        if case .final = concatenation { return true }
        return false
    }
    /// The ids of a final upload's parts, in order; empty for any other
    /// upload.
    public var partIDs: [String] {
        if case .final(let ids) = concatenation { return ids }
        return []
    }

    /// Creates a value; the server makes these, tests compare them.
    public init(
        id: String,
        length: Int64?,
        offset: Int64,
        metadata: [String: String] = [:],
        rawMetadata: String? = nil,
        createdAt: Date,
        expiresAt: Date? = nil,
        concatenation: Concatenation? = nil,
        madeWith: UploadProtocol = .tus
    ) {
        self.id = id
        self.length = length
        self.offset = offset
        self.metadata = metadata
        self.rawMetadata = rawMetadata
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.concatenation = concatenation
        self.madeWith = madeWith
    }
}
