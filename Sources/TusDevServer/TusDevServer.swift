public import Foundation
import Logging
import CoreMetrics
import NIOCore
import NIOHTTP1
import NIOPosix
import TusCore
import TusProtocol

/// A small tus 1.0 server for development and tests, on SwiftNIO.
///
/// It implements the core protocol and the `creation`,
/// `creation-defer-length`, `creation-with-upload`, `termination`,
/// `checksum` (`sha1`, `sha256`, `md5`), `expiration` and `concatenation`
/// extensions, and on the same endpoint the IETF draft "Resumable Uploads
/// for HTTP" (interop versions 6 and 8) for requests that carry
/// `Upload-Draft-Interop-Version` and no `Tus-Resumable`; keeps
/// every upload on disk in ``Configuration/directory`` (so a server started
/// again on the same directory resumes where the last one stopped), streams
/// request bodies straight to disk, and can play ``Fault``s so client tests
/// can watch a client recover.
///
/// It binds the loopback address by default and is not hardened for the
/// internet: no authentication, no rate limits, no TLS.
///
/// ```swift
/// let server = try await TusDevServer.start(.init(directory: tempDir))
/// server.inject(.status(500, method: "PATCH"))   // the first PATCH fails
/// // … POST to server.endpoint, PATCH the Location it answers …
/// let info = server.uploadInfo(for: location)    // offset, length, metadata
/// try await server.shutdown()
/// ```
///
/// Prefer ``withServer(_:_:)`` where a scope fits: it always shuts down.
public final class TusDevServer: Sendable {
    /// The configuration the server was started with.
    public let configuration: Configuration
    /// The creation endpoint clients `POST` to, such as
    /// `http://127.0.0.1:54321/files/`. Upload URLs live under it.
    public let endpoint: URL
    /// The TCP port the server listens on (the one picked by the system when
    /// ``Configuration/port`` was `0`).
    public let port: Int

    private let context: ServerContext
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let threadPool: NIOThreadPool
    private let isShutDown = Locked(false)

    private init(
        configuration: Configuration, endpoint: URL, port: Int, context: ServerContext, channel: any Channel,
        group: MultiThreadedEventLoopGroup, threadPool: NIOThreadPool
    ) {
        self.configuration = configuration
        self.endpoint = endpoint
        self.port = port
        self.context = context
        self.channel = channel
        self.group = group
        self.threadPool = threadPool
    }

    /// Starts a server and returns once it accepts connections.
    ///
    /// ```swift
    /// var configuration = TusDevServer.Configuration(directory: tempDir)
    /// configuration.expiration = nil
    /// let server = try await TusDevServer.start(configuration)
    /// print("tus endpoint: \(server.endpoint)")
    /// ```
    ///
    /// - Throws: `TusError` with code `.io` if the directory cannot be
    ///   created, `.unavailable` if the address cannot be bound (a port in
    ///   use), `.invalidArgument` for a port outside `0...65535`.
    public static func start(_ configuration: Configuration) async throws -> TusDevServer {
        guard (0...65535).contains(configuration.port) else {
            throw TusError(.invalidArgument, "cannot start tus server: port \(configuration.port) is not in 0...65535")
        }
        let context = try ServerContext(configuration: configuration)
        let basePath = context.basePath
        let responder = context.makeResponder()
        let logger = configuration.logger
        let metrics = configuration.metricsFactory ?? MetricsSystem.factory
        // One thread for work that would hold up an event loop: joining
        // the parts of a final upload.
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // Reads of up to 1 MiB: a large body takes fewer reads and writes.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPChannelHandler(
                            responder: responder, threadPool: threadPool,
                            answerHeaders: { ProtocolChoice.answerHeaders(for: $0) }, logger: logger, metrics: metrics))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            try? await group.shutdownGracefully()
            try? await threadPool.shutdownGracefully()
            let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
            throw TusError(
                .unavailable, "cannot start tus server on \(configuration.host):\(configuration.port): \(reason)",
                cause: error)
        }
        let port = channel.localAddress?.port ?? configuration.port
        var host = configuration.host
        if host == "0.0.0.0" { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        if host.contains(":") { host = "[\(host)]" }
        guard let endpoint = URL(string: "http://\(host):\(port)\(basePath)") else {
            try? await channel.close()
            try? await group.shutdownGracefully()
            try? await threadPool.shutdownGracefully()
            throw TusError(.invalidArgument, "cannot start tus server: http://\(host):\(port)\(basePath) is not a URL")
        }
        configuration.logger.info("tus server listening on \(endpoint.absoluteString)")
        return TusDevServer(
            configuration: configuration, endpoint: endpoint, port: port, context: context, channel: channel,
            group: group, threadPool: threadPool)
    }

    /// Starts a server, runs `body` with it, and shuts it down however
    /// `body` ends.
    ///
    /// ```swift
    /// try await TusDevServer.withServer(.init(directory: tempDir)) { server in
    ///     try await upload(file, to: server.endpoint)
    /// }
    /// ```
    public static func withServer<T>(
        _ configuration: Configuration, _ body: (TusDevServer) async throws -> T
    ) async throws -> T {
        let server = try await start(configuration)
        do {
            let result = try await body(server)
            try await server.shutdown()
            return result
        } catch {
            try? await server.shutdown()
            throw error
        }
    }

    /// Stops listening, closes every open connection (a request in progress
    /// keeps the bytes it wrote, as with a client that disconnects) and stops
    /// the server's threads. Calling it again does nothing.
    public func shutdown() async throws {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try? await channel.close()
        // Joins under way finish first, and answer on a running event loop.
        try? await threadPool.shutdownGracefully()
        do {
            try await group.shutdownGracefully()
        } catch {
            throw TusError(.io, "cannot shut down tus server on port \(port)", cause: error)
        }
        configuration.logger.info("tus server on port \(port) stopped")
    }

    // MARK: Inspection

    /// The bytes received so far for the upload at `uploadURL` (an absolute
    /// upload URL, a path such as `/files/abc`, or just the id), or `nil` if
    /// the server knows no such upload. Reads the whole data file: meant for
    /// tests comparing bytes; for large uploads compare
    /// ``uploadedDataFile(for:)`` instead.
    public func uploadedData(for uploadURL: URL) -> Data? {
        guard let file = uploadedDataFile(for: uploadURL) else { return nil }
        guard let data = try? Data(contentsOf: file) else { return nil }
        if let info = uploadInfo(for: uploadURL), Int64(data.count) > info.offset {
            return data.prefix(Int(info.offset))
        }
        return data
    }

    /// The file holding the bytes received so far for the upload at
    /// `uploadURL`, or `nil` if the server knows no such upload. Its first
    /// ``UploadInfo/offset`` bytes are the upload's data; it is the server's
    /// own file, so read it but do not change it.
    public func uploadedDataFile(for uploadURL: URL) -> URL? {
        guard let id = uploadID(for: uploadURL), case .found = context.store.lookup(id) else { return nil }
        return URL(fileURLWithPath: context.store.dataPath(id))
    }

    /// What the server knows about the upload at `uploadURL` (an absolute
    /// upload URL, a path such as `/files/abc`, or just the id): its length
    /// (`nil` while deferred), offset, metadata, expiry, whether it is a
    /// partial or final upload (``UploadInfo/concatenation``), and which
    /// protocol made it (``UploadInfo/madeWith``). `nil` if the
    /// server knows no such upload, or it was terminated or expired.
    public func uploadInfo(for uploadURL: URL) -> UploadInfo? {
        guard let id = uploadID(for: uploadURL), case .found(let record) = context.store.lookup(id) else {
            return nil
        }
        return UploadInfo(
            id: record.id,
            length: record.length,
            offset: record.offset,
            metadata: record.rawMetadata.flatMap(UploadMetadataCodec.decode) ?? [:],
            rawMetadata: record.rawMetadata,
            createdAt: record.createdAt,
            expiresAt: record.isComplete ? nil : record.expiresAt,
            concatenation: record.concat.map { concat in
                switch concat {
                case .partial: .partial
                case .final(let parts): .final(partIDs: parts.map(\.id))
                }
            },
            madeWith: record.draft.map {
                UploadInfo.UploadProtocol.ietfDraft(interopVersion: $0.interopVersion.rawValue, complete: $0.complete)
            } ?? .tus
        )
    }

    /// Queues `fault`; it applies once, to the next request it matches (see
    /// ``Fault`` for what matches and what happens).
    ///
    /// ```swift
    /// server.inject(.dropConnectionDuringPatch(afterBytes: 100))
    /// ```
    public func inject(_ fault: Fault) {
        context.faults.withLock { $0.append(fault) }
    }

    /// The faults queued and not yet played, oldest first.
    public var pendingFaults: [Fault] {
        context.faults.withLock { $0 }
    }

    /// Removes every queued fault.
    public func removeAllFaults() {
        context.faults.withLock { $0.removeAll() }
    }

    /// Every request received, oldest first, as method and path, such as
    /// `POST /files/` or `PATCH /files/5f0c…`. The method is the effective one
    /// (`X-HTTP-Method-Override` applied); the query is left out. Includes
    /// requests answered with an error. It holds at most the last 100,000
    /// or so requests (the oldest half is dropped when it fills up).
    public var requestLog: [String] {
        context.requestLog.withLock { $0 }
    }

    /// Empties ``requestLog``.
    public func clearRequestLog() {
        context.requestLog.withLock { $0.removeAll() }
    }

    private func uploadID(for url: URL) -> String? {
        var path = url.path
        if path.isEmpty { path = url.relativeString }
        if path.hasPrefix(context.basePath) {
            path.removeFirst(context.basePath.count)
        } else if let last = path.split(separator: "/").last {
            path = String(last)
        }
        return UploadStore.isValidID(path) ? path : nil
    }

    static func normalizedBasePath(_ path: String) -> String {
        var path = path
        if !path.hasPrefix("/") { path = "/" + path }
        if !path.hasSuffix("/") { path += "/" }
        return path
    }
}
