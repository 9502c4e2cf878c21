import Foundation
public import TusCore
import TusFingerprints

/// How an upload is made: chunks, metadata, retries, and where its URL is
/// kept for resuming.
///
/// ```swift
/// var options = UploadOptions()
/// options.chunkSize = 8 << 20   // at most 8 MiB per request
/// options.metadata = ["filename": "movie.mp4", "filetype": "video/mp4"]
/// options.storage = try FileStorage(path: "uploads.json")
/// ```
public struct UploadOptions: Sendable {
    /// The most bytes sent in one request, or nil (the default) to let the
    /// uploader choose.
    ///
    /// Requests start at this size, or at 5 MiB when the uploader chooses.
    /// Below this ceiling the size adapts: requests grow while they succeed,
    /// until the round trip between two requests costs a small part of the
    /// time (measured, not guessed); they halve after a 413 (a proxy's or
    /// the server's body limit, and the size that passed is kept) and after
    /// the link fails in the middle of one. A file is read in small pieces
    /// whatever the size, so memory stays small; a stream keeps the bytes of
    /// one request for sending again, so its requests stay at most 16 MiB
    /// unless this says otherwise.
    public var chunkSize: Int?

    /// `Upload-Metadata` sent when the upload is created. Keys must be
    /// non-empty printable ASCII with no spaces or commas; values are any
    /// text (sent base64-encoded). Many servers expect `filename` and
    /// `filetype`.
    public var metadata: [String: String] = [:]

    /// Headers added to every request of this upload, after the client's.
    public var headers: [String: String] = [:]

    /// When and how soon a failed request is tried again.
    public var retryPolicy = RetryPolicy()

    /// The longest one request may take, from sending its first byte to
    /// receiving the whole answer. Default: 1 hour; a request whose bytes
    /// stop moving is caught much sooner by ``stallTimeout``.
    public var requestTimeout: Duration = .seconds(3600)

    /// How long a request may go without the connection accepting a byte of
    /// its body or receiving one of the answer before it is abandoned as
    /// stalled. The upload then goes on from the server's offset on a new
    /// connection, and the stall counts as a failure for ``retryPolicy``.
    /// nil never abandons a request for this. Default: 30 s.
    ///
    /// A body goes out in pieces sized so that a link, however slow, takes
    /// each well within this time while it moves, and bytes the system
    /// holds count as moving while its send queue to the server shrinks (on
    /// Linux, read from the kernel's TCP table): a steady link is never a
    /// stall, however slow. Once every byte has crossed, an answer that
    /// does not start within this time is one. Where the send queue cannot
    /// be read, waiting once the body is out is not a stall, and
    /// ``requestTimeout`` bounds it. A server that still holds an abandoned
    /// request (423, or 503) is waited out for up to two minutes past this
    /// time.
    public var stallTimeout: Duration? = .seconds(30)

    /// Called before each request is sent, with the request to change: a
    /// fresh bearer token for a long upload, a signature. Throwing fails the
    /// upload with that error.
    public var beforeRequest: (@Sendable (inout UploadRequest) async throws -> Void)?

    /// Called with each answer the server gives, before the uploader acts
    /// on it. Throwing fails the upload with that error.
    public var afterResponse: (@Sendable (UploadResponse) async throws -> Void)?

    /// Called when the upload changes course: smaller requests, a retry.
    /// It runs on the thread that sends the requests: keep it short.
    public var onEvent: (@Sendable (UploadEvent) -> Void)?

    /// Where the upload URL is kept so a later run resumes the upload. `nil`
    /// (the default) keeps nothing: every run starts a new upload.
    public var storage: (any Storage)?

    /// The key the upload URL is stored under. Default: tuspy's
    /// `MD5Fingerprint`.
    public var fingerprint: any Fingerprint = MD5Fingerprint()

    /// Make a store that cannot be reached stop the upload. By default
    /// (`false`) an upload goes on while its store is out of reach (a
    /// refused or broken connection, a timeout, a busy, full or read-only
    /// disk): it is told once with ``UploadEvent/storeUnreachable(_:)``,
    /// reads find nothing, changes wait, and the store is tried once more
    /// when the upload ends, to keep an unfinished upload's URL or remove a
    /// finished one's. Set it for uploads that should not run unless a later
    /// run can resume them. Other store errors (a corrupt store, refused
    /// credentials) stop the upload either way.
    public var requiresStore = false

    /// Keep the stored URL after the upload has finished. By default it is
    /// removed, so the store does not grow forever.
    public var keepsURLAfterSuccess = false

    /// A checksum sent with every chunk, when the server announces the
    /// checksum extension with this algorithm; a server that does not gets no
    /// checksum. Default: none.
    public var checksum: ChecksumAlgorithm?

    /// How many parts of a file are uploaded at once, each on its own
    /// connection, then joined on the server (the concatenation
    /// extension). Every part's URL is kept in ``storage`` (under the
    /// file's key followed by `#partials`), so each part resumes from its
    /// own offset after a crash (parts stored by an earlier run go on
    /// whatever this says now). A server that does not announce
    /// concatenation gets one ordinary upload. Streams and `Data` smaller
    /// than this many bytes are always sent whole. Default: 1.
    public var parallelUploads = 1

    /// Send the first chunk in the creation request (creation-with-upload):
    /// one round trip fewer.
    ///
    /// Without a ``checksum``, the client does not wait for the server's
    /// answer to OPTIONS (a round trip too): the POST carries the first
    /// chunk at once, with an OPTIONS sent beside it whose answer later
    /// uploads of the same ``TusClient`` use. A server without the
    /// extension, which ignores the bytes and answers without
    /// `Upload-Offset`, gets them again with PATCH, and later uploads send
    /// it none with POST. A server that refuses a POST with a body (400 or
    /// 415) gets the POST again without one. With a checksum, the client
    /// asks first, and sends bytes with POST only when the server announces
    /// the extension.
    /// Default: true.
    public var uploadsDuringCreation = true

    /// Which protocol a new upload speaks (see ``UploadProtocol``):
    /// ``UploadProtocol/auto`` by default, which lets the server's first
    /// answer decide. A stored upload resumes in the protocol it was
    /// created with.
    public var uploadProtocol: UploadProtocol = .auto

    /// The `Upload-Draft-Interop-Version` sent when the upload speaks the
    /// IETF draft: 6 (drafts -04 and -05, what Apple's URLSession and
    /// NIOResumableUpload, tusd and tus-js-client speak; the default) or 8
    /// (drafts -09 to -12).
    public var draftInteropVersion = 6

    /// Creates the default options.
    public init() {}
}
