import Foundation
public import TusCore
import TusFingerprints

/// How an upload is made: chunks, metadata, retries, and where its URL is
/// kept for resuming.
///
/// ```swift
/// var options = UploadOptions()
/// options.chunkSize = 8 << 20
/// options.metadata = ["filename": "movie.mp4", "filetype": "video/mp4"]
/// options.storage = try FileStorage(path: "uploads.json")
/// ```
public struct UploadOptions: Sendable {
    /// The most bytes sent in one PATCH request. A file is read in small
    /// pieces whatever this is; for a stream it bounds the bytes kept for
    /// sending again. Default: 5 MiB.
    public var chunkSize: Int = 5 * 1024 * 1024

    /// `Upload-Metadata` sent when the upload is created. Keys must be
    /// non-empty printable ASCII with no spaces or commas; values are any
    /// text (sent base64-encoded). Many servers expect `filename` and
    /// `filetype`.
    public var metadata: [String: String] = [:]

    /// Headers added to every request of this upload, after the client's.
    public var headers: [String: String] = [:]

    /// How many times a failed request is tried again before the upload
    /// fails: network errors, 5xx answers, 423, 409 and 460. The count starts
    /// again each time the server's offset moves forward. Default: 5.
    public var retries: Int = 5

    /// The delay before the first retry; each further retry waits twice as
    /// long, up to ``maximumRetryDelay``. Default: 0.5 s.
    public var retryDelay: Duration = .milliseconds(500)

    /// The longest delay between two tries. Default: 15 s.
    public var maximumRetryDelay: Duration = .seconds(15)

    /// The longest one request may take, from sending its first byte to
    /// receiving the whole answer. Default: 5 minutes, room for a 5 MiB chunk
    /// at 20 KB/s.
    public var requestTimeout: Duration = .seconds(300)

    /// Where the upload URL is kept so a later run resumes the upload. `nil`
    /// (the default) keeps nothing: every run starts a new upload.
    public var storage: (any Storage)?

    /// The key the upload URL is stored under. Default: tuspy's
    /// ``TusFingerprints/MD5Fingerprint``.
    public var fingerprint: any Fingerprint = MD5Fingerprint()

    /// Keep the stored URL after the upload has finished. By default it is
    /// removed, so the store does not grow forever.
    public var keepsURLAfterSuccess = false

    /// A checksum sent with every chunk, when the server announces the
    /// checksum extension with this algorithm; a server that does not gets no
    /// checksum. Default: none.
    public var checksum: ChecksumAlgorithm?

    /// Send the first chunk in the creation request (creation-with-upload),
    /// when the server announces it: one round trip fewer. Default: true.
    public var uploadsDuringCreation = true

    /// Creates the default options.
    public init() {}
}
