public import Foundation
public import TusCore

/// A request an upload is about to send, as
/// ``UploadOptions/beforeRequest`` sees it and may change it.
///
/// ```swift
/// var options = UploadOptions()
/// options.beforeRequest = { request in
///     request.setHeader("Authorization", "Bearer \(try await tokens.current())")
/// }
/// ```
public struct UploadRequest: Sendable {
    /// `OPTIONS`, `POST`, `HEAD`, `PATCH` or `DELETE`.
    public let method: String
    /// Where it goes.
    public let url: URL
    /// Its headers, in order; names as they were set.
    public private(set) var headers: [(name: String, value: String)]
    /// How many body bytes it carries.
    public let bodyCount: Int

    init(method: String, url: URL, headers: [(String, String)], bodyCount: Int) {
        self.method = method
        self.url = url
        self.headers = headers.map { (name: $0.0, value: $0.1) }
        self.bodyCount = bodyCount
    }

    /// The value of the header `name` (any case), if set.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// Sets the header `name` (any case) to `value`, replacing every value
    /// it had; nil removes it. The headers the protocol needs
    /// (`Upload-Offset`, `Content-Type`, `Tus-Resumable` …) are better left
    /// alone.
    public mutating func setHeader(_ name: String, _ value: String?) {
        let index = headers.firstIndex { $0.name.caseInsensitiveCompare(name) == .orderedSame }
        headers.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
        guard let value else { return }
        headers.insert((name: name, value: value), at: min(index ?? headers.count, headers.count))
    }
}

/// An answer the server gave, as ``UploadOptions/afterResponse`` sees it.
public struct UploadResponse: Sendable {
    /// The request it answers, as sent.
    public let request: UploadRequest
    /// The status code, such as 204.
    public let statusCode: Int
    /// Its headers, in order.
    public let headers: [(name: String, value: String)]

    /// The value of the header `name` (any case), if present.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// Something an upload tells as it goes, for a progress display or a log
/// (``UploadOptions/onEvent``).
public enum UploadEvent: Sendable {
    /// Requests carry fewer bytes from now on: the server or a proxy refused
    /// a body this large (413), or the link failed during one.
    case chunkSizeReduced(from: Int, to: Int, reason: ChunkSizeReason)
    /// A request failed and is tried again after `delay`.
    case retrying(RequestFailure, delay: Duration)
    /// After a request of this upload was abandoned (it stalled, or its
    /// connection broke with bytes on their way), the server still holds
    /// the upload for it (423, or 503) and the upload waits `delay` for the
    /// server to let go. Such waits do not count as failures, for up to two
    /// minutes past ``UploadOptions/stallTimeout``.
    case waitingForRelease(RequestFailure, delay: Duration)
    /// The URL stored under the file's key was not this upload's any more,
    /// and was removed before a new upload starts: the server says it is
    /// gone, its clock says it expired, or it holds another file (another
    /// length, or, where the server echoes metadata, another end of the
    /// file). `url` is as stored, any password in it masked.
    case storedUploadForgotten(url: String, reason: String)
    /// Parallel uploads were asked for, but the server does not announce
    /// concatenation: the file goes up in one upload.
    case parallelUploadsUnsupported
    /// A part of a parallel upload that the server no longer has is
    /// created again, from its first byte.
    case partCreatedAgain(index: Int)
    /// The store cannot be reached (the error says why: a refused or
    /// broken connection, a timeout, a busy, full or read-only disk), and
    /// the upload goes on without it: if this run is interrupted, a later
    /// one may not be able to resume it. Told once per upload; the store
    /// is tried once more when the upload ends. See
    /// ``UploadOptions/requiresStore``.
    case storeUnreachable(TusError)

    /// Why requests got smaller.
    public enum ChunkSizeReason: Sendable, Equatable {
        /// The server or a proxy in front of it answered 413.
        case bodyTooLarge
        /// The link failed or stalled in the middle of a request.
        case interrupted
        /// The server said how many bytes it takes in one request (the IETF
        /// draft's `Upload-Limit`, `max-append-size`).
        case serverLimit
    }
}
