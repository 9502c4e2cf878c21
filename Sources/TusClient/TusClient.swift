public import AsyncHTTPClient
public import Foundation
public import Logging
public import CoreMetrics
public import Tracing
import NIOCore
import NIOHTTP1
import NIOPosix
import TusCore
import TusProtocol

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
    /// Whom the client trusts over HTTPS, and the client certificate it
    /// presents, if any.
    public var tls: TLSSettings
    /// The proxies requests go through. Default: those the environment
    /// names (`https_proxy`, `http_proxy`, `no_proxy`, as curl reads them).
    /// Not used with an HTTP client of your own, which has its own.
    public var proxy: ProxySettings

    /// The HTTP client given to ``init(url:headers:tls:proxy:httpClient:logger:metricsFactory:tracer:)``, if any.
    let customHTTPClient: HTTPClient?
    /// The logger given to the initializer, if any.
    private let givenLogger: Logger?
    /// Where the client logs: the logger it was given, else the calling
    /// task's (`Logger.current`, which `withLogger` sets). The client
    /// builds none of its own.
    var logger: Logger { givenLogger ?? Logger.current }
    /// The metrics factory given to the initializer, if any.
    private let givenMetricsFactory: (any MetricsFactory)?
    /// Where the client's metrics go: the factory it was given, else the
    /// one the application bootstrapped.
    var metrics: UploadMetrics { UploadMetrics(factory: givenMetricsFactory ?? MetricsSystem.factory) }
    /// The tracer given to the initializer, if any.
    private let givenTracer: (any Tracer)?
    /// Where the client's spans go: the tracer it was given, else the one
    /// the application bootstrapped (see ``UploadTracing``).
    var tracer: any Tracer { givenTracer ?? InstrumentationSystem.tracer }
    private let capabilitiesCache = CapabilitiesCache()

    /// Creates a client of the tus endpoint at `url`.
    ///
    /// - Parameters:
    ///   - url: The creation endpoint, such as `https://tus.example/files/`.
    ///   - headers: Headers sent with every request.
    ///   - tls: Whom to trust over HTTPS, and a client certificate.
    ///   - proxy: The proxies to go through; by default the environment's.
    ///   - httpClient: An HTTP client of your own, or nil (the default) for
    ///     ``sharedHTTPClient`` and its siblings, one per proxy. One of your
    ///     own brings its own proxy settings (``proxy`` is not used) and
    ///     should not retry failed connection attempts by itself
    ///     (`connectionPool.retryConnectionEstablishment = false`): the
    ///     uploader retries with its own delays, and otherwise a server that
    ///     is down is only reported when the request times out.
    ///   - logger: Where the client logs what it does: a line per request
    ///     at `debug`, its headers at `trace` (see <doc:ObservingUploads>).
    ///     Nil (the default) logs to the calling task's logger,
    ///     `Logger.current`, which `withLogger` sets.
    ///   - metricsFactory: Where the client's metrics go (see
    ///     <doc:ObservingUploads>); nil (the default) for the one the
    ///     application bootstrapped with `MetricsSystem.bootstrap`.
    ///   - tracer: Where the client's spans go (see <doc:ObservingUploads>);
    ///     nil (the default) for the one the application bootstrapped with
    ///     `InstrumentationSystem.bootstrap`.
    public init(
        url: URL,
        headers: [String: String] = [:],
        tls: TLSSettings = TLSSettings(),
        proxy: ProxySettings = .environment(),
        httpClient: HTTPClient? = nil,
        logger: Logger? = nil,
        metricsFactory: (any MetricsFactory)? = nil,
        tracer: (any Tracer)? = nil
    ) {
        self.url = url
        self.headers = headers
        self.tls = tls
        self.proxy = proxy
        self.customHTTPClient = httpClient
        self.givenLogger = logger
        self.givenMetricsFactory = metricsFactory
        self.givenTracer = tracer
    }

    /// The HTTP client every ``TusClient`` uses for requests that go through
    /// no proxy, unless given another: one per process, never shut down. A
    /// refused connection fails at once (the uploader retries it), and
    /// connecting times out after 10 seconds.
    ///
    /// It runs on one event loop thread of its own, shared with the clients
    /// made for proxies. An upload's requests and the upload's own code
    /// between them then run on that one thread, so a chunk's answer is
    /// read, and the next chunk sent, without waking another thread; one
    /// thread moves several gigabytes a second, and blocking work (stores,
    /// checksums) is done elsewhere. A client of your own with more threads
    /// works too, with a thread hop per request when a connection lives on
    /// another loop than the upload.
    public static let sharedHTTPClient: HTTPClient = HTTPClient(
        eventLoopGroup: SharedHTTPClients.eventLoopGroup, configuration: SharedHTTPClients.configuration(proxy: nil))

    /// The event loops the client's requests run on.
    var eventLoopGroup: any EventLoopGroup {
        customHTTPClient?.eventLoopGroup ?? SharedHTTPClients.eventLoopGroup
    }

    /// Asks the server what it supports, with an OPTIONS request.
    ///
    /// The answer is kept: later calls on this client (and its copies with
    /// the same ``url``) do not ask again.
    ///
    /// - Throws: `TusError` when the server cannot be reached or
    ///   does not answer OPTIONS with a 2xx status.
    public func capabilities() async throws -> ServerCapabilities {
        try await capabilities(options: nil).capabilities
    }

    /// The capabilities, and how long asking took (nil when known already).
    func capabilities(options: UploadOptions?) async throws -> (capabilities: ServerCapabilities, seconds: Double?) {
        if let known = capabilitiesCache.value(for: url) { return (known, nil) }
        var retries = RetryLoop(options: options, logger: logger, metrics: metrics)
        let attempt = try await perform(SentRequest(kind: .options, url: url), headers: [], options: options, retries: &retries)
        guard case .capabilities(let capabilities) = attempt.verdict else {
            throw TusError(.protocolViolation, "OPTIONS \(url.forMessages): no capabilities in the answer")
        }
        capabilitiesCache.set(capabilities, for: url)
        return (capabilities, attempt.seconds)
    }

    /// The capabilities an earlier OPTIONS of this client (or a copy with the
    /// same ``url``) found, without asking.
    var knownCapabilities: ServerCapabilities? { capabilitiesCache.value(for: url) }

    /// Whether an earlier upload found that the server ignores or refuses
    /// bytes sent with POST, so creations send none.
    var ignoresBytesWithCreation: Bool { capabilitiesCache.ignoresBytesWithCreation(url) }

    /// Remembers that the server ignores or refuses bytes sent with POST.
    func rememberIgnoresBytesWithCreation() { capabilitiesCache.setIgnoresBytesWithCreation(url) }

    /// The interop version of the IETF draft the endpoint answered an
    /// upload of ``UploadProtocol/auto`` in, if it did: later uploads of
    /// this client speak it from their first request.
    var knownDraftVersion: DraftInteropVersion? { capabilitiesCache.draftVersion(url) }

    func rememberSpeaksDraft(_ version: DraftInteropVersion) { capabilitiesCache.setDraftVersion(version, for: url) }

    /// The endpoint answered an upload of ``UploadProtocol/auto`` in tus:
    /// later uploads of this client speak tus alone.
    var knowsSpeaksTus: Bool { capabilitiesCache.speaksTus(url) }

    func rememberSpeaksTus() { capabilitiesCache.setSpeaksTus(url) }

    /// What the server supports, or ``ServerCapabilities/assumed`` when it
    /// does not answer OPTIONS.
    func capabilitiesOrAssumed(options: UploadOptions) async throws -> (capabilities: ServerCapabilities, seconds: Double?) {
        do {
            return try await capabilities(options: options)
        } catch let error as TusError where error.code != .authenticationFailed {
            // Not kept: the next upload asks again.
            logger.debug("OPTIONS failed; assuming core and creation only", metadata: ["error": "\(error.message)"])
            return (.assumed, nil)
        }
    }

    /// The headers of a request: `Tus-Resumable` and, for a request that
    /// speaks the IETF draft, `Upload-Draft-Interop-Version` (as `speech`
    /// says), the client's, the upload's, then `extra`.
    func requestHeaders(_ extra: [(String, String)], options: UploadOptions? = nil, speech: Speech = .only(.tus)) -> [(String, String)] {
        var result: [(String, String)] = []
        if speech.sendsTus { result.append((TusHeaderName.tusResumable, tusProtocolVersion)) }
        if let version = speech.draftVersion {
            result.append((DraftHeaderName.uploadDraftInteropVersion, version.headerValue))
        }
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
    /// - Throws: `TusError` when the server cannot be reached or
    ///   refuses, for example because it does not support termination.
    public func terminateUpload(at url: URL) async throws {
        // A URL as a store keeps it says which protocol the upload speaks.
        let (plain, dialect) = StoredUploadURL.parse(url.absoluteString) ?? (url, .tus)
        try await terminateUpload(at: plain, options: nil, dialect: dialect)
    }

    func terminateUpload(at url: URL, options: UploadOptions?, dialect: Dialect = .tus) async throws {
        var retries = RetryLoop(options: options, logger: logger, metrics: metrics)
        var sent = SentRequest(kind: .terminate, url: url)
        sent.speech = .only(dialect)
        _ = try await perform(sent, headers: [], options: options, retries: &retries)
    }

    // MARK: Uploaders

    /// An uploader for the file at `path`.
    ///
    /// With ``UploadOptions/storage`` set, it looks up the URL stored under
    /// the file's fingerprint and asks the server (HEAD) how much it holds;
    /// ``TusUploader/offset`` then tells where the upload resumes. See
    /// ``TusUploader`` for what happens to stale URLs.
    ///
    /// - Throws: `TusError` naming the file when it is missing or
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

/// The server's capabilities, once known; shared by a client's copies,
/// and kept for the URL they were asked at, so a copy given another URL
/// asks its own server.
private final class CapabilitiesCache: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (url: URL, capabilities: ServerCapabilities)?
    private var ignoringBytes: URL?

    func value(for url: URL) -> ServerCapabilities? {
        lock.withLock { stored?.url == url ? stored?.capabilities : nil }
    }

    func set(_ capabilities: ServerCapabilities, for url: URL) {
        lock.withLock { stored = (url, capabilities) }
    }

    /// Whether the server at `url` was seen ignoring or refusing bytes sent
    /// with POST.
    func ignoresBytesWithCreation(_ url: URL) -> Bool {
        lock.withLock { ignoringBytes == url }
    }

    func setIgnoresBytesWithCreation(_ url: URL) {
        lock.withLock { ignoringBytes = url }
    }

    private var speakingDraft: (url: URL, version: DraftInteropVersion)?

    func draftVersion(_ url: URL) -> DraftInteropVersion? {
        lock.withLock { speakingDraft?.url == url ? speakingDraft?.version : nil }
    }

    func setDraftVersion(_ version: DraftInteropVersion, for url: URL) {
        lock.withLock { speakingDraft = (url, version) }
    }

    private var speakingTus: URL?

    func speaksTus(_ url: URL) -> Bool { lock.withLock { speakingTus == url } }

    func setSpeaksTus(_ url: URL) { lock.withLock { speakingTus = url } }
}
