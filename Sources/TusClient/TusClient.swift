public import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import TusCore

/// A client of one tus 1.0 server endpoint: it makes uploaders, which create,
/// resume and finish uploads.
///
/// ```swift
/// let client = TusClient(url: URL(string: "https://tus.example/files/")!)
/// var options = UploadOptions()
/// options.storage = try FileStorage(path: "uploads.json")
/// let uploader = try await client.uploader(forFileAtPath: "movie.mp4", options: options)
/// if uploader.offset > 0 {
///     print("resuming from byte \(uploader.offset)")
/// }
/// let url = try await uploader.upload()
/// ```
///
/// Requests go through AsyncHTTPClient, which reuses connections; by default
/// ``sharedHTTPClient``, which lives as long as the process and needs no
/// shutting down.
public struct TusClient: Sendable {
    /// The creation endpoint, where new uploads are POSTed.
    public var url: URL
    /// Headers sent with every request (for example `Authorization`).
    public var headers: [String: String]

    let httpClient: HTTPClient
    let logger: Logger
    private let capabilitiesCache = CapabilitiesCache()

    /// Creates a client of the tus endpoint at `url`.
    ///
    /// - Parameters:
    ///   - url: The creation endpoint, such as `https://tus.example/files/`.
    ///   - headers: Headers sent with every request.
    ///   - httpClient: The HTTP client to use; by default ``sharedHTTPClient``.
    ///     One of your own should not retry failed connection attempts by
    ///     itself (`connectionPool.retryConnectionEstablishment = false`):
    ///     the uploader retries with its own delays, and otherwise a server
    ///     that is down is only reported when the request times out.
    ///   - logger: Where the client logs what it does, at `debug` level.
    public init(
        url: URL,
        headers: [String: String] = [:],
        httpClient: HTTPClient = TusClient.sharedHTTPClient,
        logger: Logger = Logger(label: "swift-tus.client")
    ) {
        self.url = url
        self.headers = headers
        self.httpClient = httpClient
        self.logger = logger
    }

    /// The HTTP client every ``TusClient`` uses unless given another: one
    /// per process, never shut down. A refused connection fails at once
    /// (the uploader retries it), and connecting times out after 10 seconds.
    ///
    /// It runs on one event loop thread of its own. An upload's requests
    /// and the upload's own code between them then run on that one thread,
    /// so a chunk's answer is read, and the next chunk sent, without waking
    /// another thread; one thread moves several gigabytes a second, and
    /// blocking work (stores, checksums) is done elsewhere. A client of your
    /// own with more threads works too, with a thread hop per request when a
    /// connection lives on another loop than the upload.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup(numberOfThreads: 1), configuration: configuration)
    }()

    /// Asks the server what it supports, with an OPTIONS request.
    ///
    /// The answer is kept: later calls on this client (and its copies) do not
    /// ask again.
    ///
    /// - Throws: ``TusCore/TusError`` when the server cannot be reached or
    ///   does not answer OPTIONS with a 2xx status.
    public func capabilities() async throws -> ServerCapabilities {
        try await capabilities(options: nil)
    }

    func capabilities(options: UploadOptions?) async throws -> ServerCapabilities {
        if let known = capabilitiesCache.value { return known }
        let answer = try await httpClient.exchange(.OPTIONS, url, headers: requestHeaders([], options: options), timeout: .seconds(30))
        guard (200..<300).contains(answer.code) else {
            throw TusError(.unsupported, "OPTIONS \(url.absoluteString) \(answer.statusDescription)")
        }
        func list(_ name: String) -> [String] {
            answer.headers[name].flatMap { $0.split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let capabilities = ServerCapabilities(
            versions: list("Tus-Version"),
            extensions: Set(list("Tus-Extension")),
            maxSize: answer.headers.first(name: "Tus-Max-Size").flatMap { Int64($0) },
            checksumAlgorithms: Set(list("Tus-Checksum-Algorithm").map { $0.lowercased() })
        )
        capabilitiesCache.value = capabilities
        return capabilities
    }

    /// What the server supports, or ``ServerCapabilities/assumed`` when it
    /// does not answer OPTIONS.
    func capabilitiesOrAssumed(options: UploadOptions) async throws -> ServerCapabilities {
        do {
            return try await capabilities(options: options)
        } catch let error as TusError {
            // Not kept: the next upload asks again.
            logger.debug("OPTIONS failed; assuming core and creation only", metadata: ["error": "\(error.message)"])
            return .assumed
        }
    }

    /// The headers of a request: `Tus-Resumable`, the client's, the upload's,
    /// then `extra`.
    func requestHeaders(_ extra: [(String, String)], options: UploadOptions? = nil) -> [(String, String)] {
        var result = [("Tus-Resumable", tusVersion)]
        result += headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let options { result += options.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
        return result + extra
    }

    /// Deletes the upload at `url` on the server (the termination
    /// extension). An upload the server no longer has counts as deleted.
    ///
    /// This does not touch any store; ``TusUploader/terminate()`` also
    /// forgets the stored URL.
    ///
    /// - Throws: ``TusCore/TusError`` when the server cannot be reached or
    ///   refuses, for example because it does not support termination.
    public func terminateUpload(at url: URL) async throws {
        try await terminateUpload(at: url, options: nil)
    }

    func terminateUpload(at url: URL, options: UploadOptions?) async throws {
        let label = "DELETE \(url.absoluteString)"
        let answer = try await httpClient.exchange(
            .DELETE, url, headers: requestHeaders([], options: options), timeout: options?.requestTimeout ?? .seconds(60))
        guard (200..<300).contains(answer.code) || answer.code == 404 || answer.code == 410 else {
            throw TusError(.unavailable, "cannot terminate the upload: \(label) \(answer.statusDescription)")
        }
    }

    // MARK: Uploaders

    /// An uploader for the file at `path`.
    ///
    /// With ``UploadOptions/storage`` set, it looks up the URL stored under
    /// the file's fingerprint and asks the server (HEAD) how much it holds;
    /// ``TusUploader/offset`` then tells where the upload resumes. See
    /// ``TusUploader`` for what happens to stale URLs.
    ///
    /// - Throws: ``TusCore/TusError`` naming the file when it is missing or
    ///   unreadable, for invalid metadata, and when the store or the server
    ///   (5xx, network) fails while resuming — the stored URL is then kept.
    public func uploader(forFileAtPath path: String, options: UploadOptions = UploadOptions()) async throws -> TusUploader {
        try await TusUploader.make(client: self, source: try UploadSource(path: path), options: options)
    }

    /// An uploader for the file at `url`; see ``uploader(forFileAtPath:options:)``.
    public func uploader(forFileAt url: URL, options: UploadOptions = UploadOptions()) async throws -> TusUploader {
        try await uploader(forFileAtPath: url.path, options: options)
    }

    /// An uploader for the content behind `handle`.
    ///
    /// A handle that can seek (a file) is uploaded from its first byte to its
    /// end and can be resumed like a file. One that cannot (a pipe, standard
    /// input) is a stream of unknown length: it is sent with
    /// `Upload-Defer-Length`, its length is told once its end is reached, and
    /// it is never stored, since it cannot be read again. The handle is not
    /// closed.
    public func uploader(for handle: FileHandle, options: UploadOptions = UploadOptions()) async throws -> TusUploader {
        try await TusUploader.make(client: self, source: UploadSource(handle: handle), options: options)
    }

    /// An uploader for bytes in memory.
    public func uploader(for data: Data, options: UploadOptions = UploadOptions()) async throws -> TusUploader {
        try await TusUploader.make(client: self, source: UploadSource(data: data), options: options)
    }
}

/// The server's capabilities, once known; shared by a client's copies.
private final class CapabilitiesCache: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: ServerCapabilities?
    var value: ServerCapabilities? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
