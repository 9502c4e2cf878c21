import Foundation
import NIOCore
import NIOPosix
import TusTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP client for the relay's tests, on NIO: sends bytes, collects what
/// comes back, and tells how the connection ended (an orderly close or a
/// reset), all awaitable without sleeping.
final class TCPTestClient: Sendable {
    /// How the connection ended.
    enum End: Sendable, Equatable {
        /// The peer closed it in order (or this client did).
        case closed
        /// The peer reset it (`ECONNRESET`).
        case reset
        /// Another error.
        case failed(String)
    }

    struct State: Sendable, CustomStringConvertible {
        var received = Data()
        var end: End?

        var description: String { "\(received.count) B received\(end.map { ", ended: \($0)" } ?? "")" }
    }

    /// What came back so far, and how the connection ended, if it has.
    let state: Watched<State>
    private let channel: any Channel
    /// How many received bytes ``receive(_:)`` has handed out.
    private let consumed = Watched(0)

    private init(channel: any Channel, state: Watched<State>) {
        self.channel = channel
        self.state = state
    }

    /// Connects to 127.0.0.1:`port`, runs `body`, and closes however it ends.
    static func withConnection<T>(to port: Int, _ body: (TCPTestClient) async throws -> T) async throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = Watched(State(), name: "the test client's connection")
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TestClientHandler(state: state))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(TCPTestClient(channel: channel, state: state)))
        } catch {
            result = .failure(error)
        }
        try? await channel.close()
        try? await group.shutdownGracefully()
        return try result.get()
    }

    /// Sends `bytes` and returns once the kernel has taken them all.
    func send(_ bytes: Data) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Sends `bytes` (a buffer, which repeated sends share without copying).
    func send(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    /// The next `count` bytes received, once they have all arrived.
    func receive(_ count: Int, timeout: Duration = .seconds(30)) async throws -> Data {
        let start = consumed.value
        let state = try await self.state.waitUntil(timeout: timeout) { $0.received.count >= start + count || $0.end != nil }
        guard state.received.count >= start + count else {
            throw TestError.timedOut("the connection ended after \(state.received.count - start) of \(count) bytes: \(state)")
        }
        consumed.update { $0 = start + count }
        return state.received.subdata(in: start..<start + count)
    }

    /// How the connection ended, once it has.
    func end(timeout: Duration = .seconds(30)) async throws -> End {
        try await state.waitUntil(timeout: timeout) { $0.end != nil }.end!
    }

    /// Closes the sending half (a TCP half close): the peer reads the end
    /// of the stream and may still answer.
    func closeOutput() async throws {
        try await channel.close(mode: .output)
    }

    /// Closes the connection in order.
    func close() async {
        try? await channel.close()
    }
}

/// Records what arrives and how the connection ends. Writes pass through it
/// so that a failed write (the peer reset the connection while the client
/// was still sending) is recorded before NIO reports the channel inactive.
private final class TestClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let state: Watched<TCPTestClient.State>

    init(state: Watched<TCPTestClient.State>) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let data = Data(unwrapInboundIn(data).readableBytesView)
        state.update { $0.received.append(data) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let written = context.eventLoop.makePromise(of: Void.self)
        let state = self.state
        written.futureResult.whenComplete { result in
            if case .failure(let error) = result { Self.record(error, in: state) }
            promise?.completeWith(result)
        }
        context.write(data, promise: written)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        Self.record(error, in: state)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.update { if $0.end == nil { $0.end = .closed } }
        context.fireChannelInactive()
    }

    /// A reset, or a write after one (`EPIPE`), counts as a reset.
    private static func record(_ error: any Error, in state: Watched<TCPTestClient.State>) {
        let end: TCPTestClient.End
        if let error = error as? IOError, error.errnoCode == ECONNRESET || error.errnoCode == EPIPE {
            end = .reset
        } else if error is ChannelError {
            // A write cancelled because the channel closed for another reason.
            return
        } else {
            end = .failed("\(error)")
        }
        state.update { if $0.end == nil { $0.end = end } }
    }
}
