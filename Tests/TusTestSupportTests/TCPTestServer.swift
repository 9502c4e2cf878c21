import Foundation
import NIOCore
import NIOPosix
import TusTestSupport

/// A TCP server on a free loopback port for the relay's tests: it echoes
/// what it receives, or swallows it (checking it against a repeating
/// pattern when given one), and keeps a record of each connection that a
/// test can wait on.
final class TCPTestServer: Sendable {
    enum Mode: Sendable {
        /// Sends every byte back.
        case echo
        /// Keeps nothing; with a pattern, checks that the stream is the
        /// pattern repeated, and records the first offset where it is not.
        case sink(pattern: [UInt8]?)
    }

    /// One accepted connection, as the server saw it.
    struct Record: Sendable, CustomStringConvertible {
        var received = 0
        var ended = false
        var mismatchAt: Int?

        var description: String { "\(received) B\(ended ? ", ended" : "")\(mismatchAt.map { ", mismatch at \($0)" } ?? "")" }
    }

    let port: Int
    /// Every connection so far, in the order they were accepted.
    let connections: Watched<[Record]>

    private init(port: Int, connections: Watched<[Record]>) {
        self.port = port
        self.connections = connections
    }

    /// Runs `body` with a server in `mode`, and stops it however `body` ends.
    static func withServer<T>(_ mode: Mode, _ body: (TCPTestServer) async throws -> T) async throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = Watched([Record](), name: "the test server's connections")
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 << 10, maximum: 1 << 20))
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TestServerHandler(mode: mode, connections: connections))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let server = TCPTestServer(port: channel.localAddress!.port!, connections: connections)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(server))
        } catch {
            result = .failure(error)
        }
        try? await channel.close()
        try? await group.shutdownGracefully()
        return try result.get()
    }
}

private final class TestServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let mode: TCPTestServer.Mode
    private let connections: Watched<[TCPTestServer.Record]>
    private var index = 0
    private var received = 0
    private var mismatchAt: Int?

    init(mode: TCPTestServer.Mode, connections: Watched<[TCPTestServer.Record]>) {
        self.mode = mode
        self.connections = connections
    }

    func channelActive(context: ChannelHandlerContext) {
        index = connections.update { records in
            records.append(TCPTestServer.Record())
            return records.count - 1
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        switch mode {
        case .echo:
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        case .sink(let pattern?):
            if mismatchAt == nil { mismatchAt = firstMismatch(bytes, pattern) }
        case .sink(nil):
            break
        }
        received += bytes.readableBytes
        let (index, received, mismatchAt) = (self.index, self.received, self.mismatchAt)
        connections.update { records in
            records[index].received = received
            records[index].mismatchAt = mismatchAt
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let index = self.index
        connections.update { $0[index].ended = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The stream offset of the first byte of `bytes` that differs from the
    /// pattern repeated, compared a run at a time with `memcmp` (a byte loop
    /// over 256 MiB is slow in a debug build).
    private func firstMismatch(_ bytes: ByteBuffer, _ pattern: [UInt8]) -> Int? {
        bytes.withUnsafeReadableBytes { chunk in
            pattern.withUnsafeBytes { expected in
                var index = 0
                while index < chunk.count {
                    let offset = (received + index) % expected.count
                    let length = min(chunk.count - index, expected.count - offset)
                    if memcmp(chunk.baseAddress! + index, expected.baseAddress! + offset, length) != 0 {
                        for i in 0..<length where chunk[index + i] != expected[offset + i] { return received + index + i }
                    }
                    index += length
                }
                return nil
            }
        }
    }
}
