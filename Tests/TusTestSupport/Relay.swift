public import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP relay on a free loopback port that forwards every connection to a
/// server and plays a bad network on the way: latency, cuts, stalls, a slow
/// but steady rate.
///
/// Point the client at the relay instead of the server (``url(for:)``
/// rewrites a URL's host and port) and it meets the network the test asked
/// for; the server sees the relay's connections.
///
/// ```swift
/// try await withDevServer { server, _ in
///     let link = Relay.Behaviour(roundTripLatency: .milliseconds(40), cut: .init(afterBytes: 4_000_000))
///     try await Relay.withRelay(to: server.endpoint, link) { relay in
///         let endpoint = relay.url(for: server.endpoint)   // http://127.0.0.1:<relay>/files/
///         // … upload to endpoint …
///         try await relay.waitUntil { $0.cuts >= 1 }
///     }
/// }
/// ```
///
/// Counts of bytes are of bytes written to the kernel: what the relay has
/// passed on, whether or not the other end has read it yet.
public final class Relay: Sendable {
    /// The address the relay listens on: always the loopback address.
    public let host = "127.0.0.1"
    /// The port the relay listens on, picked by the system.
    public let port: Int
    /// The server every connection is forwarded to.
    public let upstreamHost: String
    /// The server's port.
    public let upstreamPort: Int
    /// What the relay does to the bytes.
    public let behaviour: Behaviour

    private let link: RelayLink
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// Reads of up to 256 KiB, a few per wake-up: large enough to move
    /// hundreds of MB/s, small enough that "one read's worth" stays small.
    static let readAllocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 << 10, maximum: 256 << 10)
    static let readsPerCycle: UInt = 4

    private init(
        port: Int, upstreamHost: String, upstreamPort: Int, behaviour: Behaviour, link: RelayLink,
        group: MultiThreadedEventLoopGroup, channel: any Channel
    ) {
        self.port = port
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.behaviour = behaviour
        self.link = link
        self.group = group
        self.channel = channel
    }

    /// Starts a relay to `host`:`port` on a free loopback port. Call
    /// ``shutdown()`` when done; ``withRelay(to:port:_:_:)`` does it for you.
    public static func start(to host: String, port: Int, _ behaviour: Behaviour = .passThrough) async throws -> Relay {
        let link = RelayLink(behaviour: behaviour)
        let oneWay = TimeAmount(behaviour.roundTripLatency / 2)
        // One thread: both channels of a connection share it (so a
        // connection's state needs no lock), and a relay is rarely the
        // bottleneck of a test.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: readsPerCycle)
        if let rate = behaviour.rate {
            // Set on the listening socket, so that the handshake already
            // announces the small window and segment size; accepted
            // sockets inherit both.
            bootstrap = bootstrap
                .serverChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(rate.receiveBuffer))
                .serverChannelOption(
                    ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_MAXSEG)),
                    value: SocketOptionValue(Rate.maximumSegmentSize))
                .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: rate.window))
                .childChannelOption(.maxMessagesPerRead, value: 1)
        } else {
            bootstrap = bootstrap.childChannelOption(.recvAllocator, value: readAllocator)
        }
        bootstrap = bootstrap
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = RelayConnection(
                        client: channel, link: link, upstreamHost: host, upstreamPort: port, oneWay: oneWay)
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(connection: connection, side: .client))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        guard let boundPort = channel.localAddress?.port else {
            try? await channel.close()
            try? await group.shutdownGracefully()
            throw TestError.missing("the relay's listening socket has no port")
        }
        return Relay(
            port: boundPort, upstreamHost: host, upstreamPort: port, behaviour: behaviour, link: link, group: group,
            channel: channel)
    }

    /// Runs `body` with a relay to `host`:`port`, and shuts the relay down
    /// however `body` ends.
    ///
    /// ```swift
    /// try await Relay.withRelay(to: "127.0.0.1", port: server.port, .latency(roundTrip: .milliseconds(40))) { relay in
    ///     try await upload(to: relay.url(for: server.endpoint))
    /// }
    /// ```
    public static func withRelay<T>(
        to host: String, port: Int, _ behaviour: Behaviour = .passThrough, _ body: (Relay) async throws -> T
    ) async throws -> T {
        try await withStarted(try await start(to: host, port: port, behaviour), stop: { await $0.shutdown() }, body)
    }

    /// Runs `body` with a relay to the host and port of `upstream` (80 or
    /// 443 when the URL names none).
    public static func withRelay<T>(
        to upstream: URL, _ behaviour: Behaviour = .passThrough, _ body: (Relay) async throws -> T
    ) async throws -> T {
        guard let host = upstream.host else { throw TestError.missing("\(upstream) names no host") }
        let port = upstream.port ?? (upstream.scheme == "https" ? 443 : 80)
        return try await withRelay(to: host, port: port, behaviour, body)
    }

    /// `url` with its host and port replaced by the relay's; scheme, path,
    /// query and fragment are kept.
    public func url(for url: URL) -> URL {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: true) else { return url }
        components.host = host
        components.port = port
        return components.url ?? url
    }

    /// `http://127.0.0.1:<port><path>`.
    public func url(path: String = "/") -> URL {
        URL(string: "http://\(host):\(port)\(path.hasPrefix("/") ? path : "/" + path)")!
    }

    /// The counters now.
    public var counters: Counters { link.counters.value }

    /// Returns the counters as soon as `condition` holds for them — at once
    /// if it already does — without polling: every change of the counters
    /// checks the waiting conditions.
    ///
    /// ```swift
    /// try await relay.waitUntil { $0.stallsBegun >= 1 }
    /// ```
    ///
    /// - Throws: ``TestError/timedOut(_:)`` (naming the counters) after
    ///   `timeout`, or when the relay shuts down first; `CancellationError`
    ///   if the task is cancelled.
    @discardableResult
    public func waitUntil(
        timeout: Duration = .seconds(30), _ condition: @escaping @Sendable (Counters) -> Bool
    ) async throws -> Counters {
        try await link.counters.waitUntil(timeout: timeout, condition)
    }

    /// Ends every stall now in progress; what each held goes on. Stalls
    /// that begin later are not affected.
    public func releaseStalls() {
        for connection in link.connections {
            connection.eventLoop.execute { connection.endStall() }
        }
    }

    /// Stops listening and closes every connection. Waits still pending fail.
    public func shutdown() async {
        try? await channel.close()
        for connection in link.connections {
            connection.eventLoop.execute { connection.close() }
        }
        try? await group.shutdownGracefully()
        link.counters.finish("the relay shut down")
    }
}
