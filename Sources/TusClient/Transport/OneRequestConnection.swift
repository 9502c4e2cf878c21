import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TusCore

/// One request on a SwiftNIO HTTP/1.1 connection of its own, closed once
/// the answer came, for the two things AsyncHTTPClient cannot do:
/// - a plain `http://` request through a proxy in absolute form (see
///   ``AbsoluteFormProxy``);
/// - showing interim answers: AsyncHTTPClient's connections drop every
///   1xx but `101`, and the IETF draft's upload creation gives the
///   upload's URL in a `104 (Upload Resumption Supported)` before its body
///   ends. The creation request of an upload that may speak the draft goes
///   this way, straight to the server (over TLS for `https://`) or to an
///   `http://` proxy in absolute form.
///
/// The body goes out a piece at a time on `loop` (``OneRequestHandler``);
/// the stall watch, the deadline and cancellation work as for
/// AsyncHTTPClient's requests.
enum OneRequestConnection {
    /// Where the connection goes.
    struct Peer {
        var host: String
        var port: Int
        /// For `https://` straight to the server: the TLS context, and the
        /// name to ask for (nil for an IP address).
        var tls: NIOSSLContext?
        var serverName: String?
    }

    /// How long connecting may take, as for AsyncHTTPClient's shared
    /// clients.
    static let connectTimeout = TimeAmount.seconds(10)

    /// Sends `head` and `body` to `peer` and reads the whole answer (at
    /// most 1 MiB of body), handing each interim answer to `onInterim` as
    /// it comes.
    ///
    /// - Throws: `CancellationError` when the task is cancelled (the
    ///   connection is closed); ``TusCore/TusError`` when a file range
    ///   cannot be read, or (`.timeout`) when no whole answer came within
    ///   `timeout`; ``NoAnswer`` for every other failure, wrapping
    ///   ``Stalled`` when neither a byte went out nor one came in for
    ///   `stallTimeout`.
    static func exchange(
        _ head: HTTPRequestHead,
        label: String,
        body: RequestBody?,
        to peer: Peer,
        fromFile: Bool,
        on loop: any EventLoop,
        timeout: Duration,
        stallTimeout: Duration?,
        peerPort: Int?,
        onBodySent: (@Sendable (Int) -> Void)? = nil,
        onInterim: (@Sendable (HTTPResponseHead) -> Void)? = nil
    ) async throws -> Exchange {
        let progress = RequestProgress(loop: loop, peerPort: peerPort, onBodySent: onBodySent)
        let outcome = loop.makePromise(of: Exchange.self)
        let deadline = loop.scheduleTask(in: TimeAmount(timeout)) { outcome.fail(DeadlinePassed()) }
        progress.watch(stallTimeout: stallTimeout) { outcome.fail(Stalled(seconds: stallTimeout ?? .zero)) }
        defer {
            deadline.cancel()
            progress.stopWatching()
        }
        ClientBootstrap(group: loop)
            .connectTimeout(min(Self.connectTimeout, TimeAmount(timeout)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let context = peer.tls {
                        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: peer.serverName))
                    }
                    try pipeline.addHandler(HTTPRequestEncoder())
                    try pipeline.addHandler(ByteToMessageHandler(HTTPResponseDecoder(
                        leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)))
                    try pipeline.addHandler(OneRequestHandler(
                        head: head, body: body, fromFile: fromFile, progress: progress, outcome: outcome, onInterim: onInterim))
                }
            }
            .connect(host: peer.host, port: peer.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    // Whatever ends the request (its answer, a failure, the
                    // deadline, a cancellation) closes its connection.
                    outcome.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure(let error):
                    outcome.fail(error)
                }
            }
        do {
            return try await withTaskCancellationHandler {
                try await outcome.futureResult.get()
            } onCancel: {
                outcome.fail(CancellationError())
            }
        } catch {
            throw RequestEnd.failure(error, label: label, timeout: timeout, deadlinePassed: error is DeadlinePassed, bytesSent: progress.bytesSent)
        }
    }

    /// The request in origin form (`POST /files HTTP/1.1`), framed as
    /// AsyncHTTPClient frames it, with `Host` and one request per
    /// connection. Nil for a URL without a host.
    static func originFormHead(_ method: HTTPMethod, _ url: URL, headers: [(String, String)], bodyCount: Int) -> HTTPRequestHead? {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: true),
              let host = components.host, !host.isEmpty else { return nil }
        var target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?\(query)" }
        var fields = HTTPHeaders(headers)
        fields.remove(name: "Content-Length")
        fields.remove(name: "Transfer-Encoding")
        if !fields.contains(name: "Host") {
            let name = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            let isDefault = components.port == nil || components.port == (url.scheme?.lowercased() == "https" ? 443 : 80)
            fields.add(name: "Host", value: isDefault ? name : "\(name):\(components.port!)")
        }
        if bodyCount > 0 || ![HTTPMethod.GET, .HEAD, .DELETE, .TRACE].contains(method) {
            fields.add(name: "Content-Length", value: String(bodyCount))
        }
        fields.replaceOrAdd(name: "Connection", value: "close")
        return HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: fields)
    }

    /// The peer for `url` straight to its server: TLS with `configuration`
    /// for `https://`.
    ///
    /// - Throws: ``TusCore/TusError`` when the TLS settings cannot be used.
    static func server(of url: URL, tls configuration: TLSConfiguration?) async throws -> Peer? {
        guard let host = url.host?.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), !host.isEmpty else { return nil }
        let isHTTPS = url.scheme?.lowercased() == "https"
        var peer = Peer(host: host, port: url.port ?? (isHTTPS ? 443 : 80))
        if isHTTPS {
            do {
                peer.tls = try await TLSContexts.context(for: configuration ?? .makeClientConfiguration())
            } catch {
                throw TusError(.invalidArgument, "cannot set up TLS for \(url.forMessages): \(error)", cause: error)
            }
            // Server Name Indication names a host, never an address.
            let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { Int($0) != nil }
            peer.serverName = isAddress ? nil : host
        }
        return peer
    }
}

/// The request's deadline passed before its whole answer came.
struct DeadlinePassed: Error {}

/// The TLS contexts of ``OneRequestConnection``'s connections, one per TLS
/// configuration, made once: making one reads the trusted certificates
/// (and a client key) from disk, which is done on NIO's blocking pool, not
/// on a task's thread.
enum TLSContexts {
    private static let known = LockedValue<[(configuration: TLSConfiguration, context: NIOSSLContext)]>([])

    static func context(for configuration: TLSConfiguration) async throws -> NIOSSLContext {
        if let found = known.value.first(where: { $0.configuration.bestEffortEquals(configuration) }) { return found.context }
        let context = try await NIOThreadPool.singleton.runIfActive { try NIOSSLContext(configuration: configuration) }
        known.value.append((configuration, context))
        return context
    }
}
