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

    /// Whether the length is known and every byte has been received.
    public var isComplete: Bool { length.map { offset == $0 } ?? false }
    /// Whether the upload was created with `Upload-Defer-Length: 1` and has
    /// not been given its length yet.
    public var isLengthDeferred: Bool { length == nil }

    /// Creates a value; the server makes these, tests compare them.
    public init(
        id: String,
        length: Int64?,
        offset: Int64,
        metadata: [String: String] = [:],
        rawMetadata: String? = nil,
        createdAt: Date,
        expiresAt: Date? = nil
    ) {
        self.id = id
        self.length = length
        self.offset = offset
        self.metadata = metadata
        self.rawMetadata = rawMetadata
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}
