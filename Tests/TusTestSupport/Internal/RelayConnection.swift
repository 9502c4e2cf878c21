import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One client connection of a ``Relay`` and its own connection to the
/// server, and the bytes between them.
///
/// Both channels live on one event loop, and every mutable property here is
/// touched only on it (hence `@unchecked Sendable`: the closures NIO runs
/// later are `@Sendable`, but they all run on that loop). Reading is manual
/// (`autoRead` off): a side is read only while the connection is open and
/// the bytes read from it and not yet written stay under ``backlogLimit``,
/// so a fast sender meets a slow link the way it would on a network — its
/// socket fills — and memory stays bounded. Under a ``Relay/Rate`` the
/// client's side is read one window at a time, and each piece it read is
/// written once the link, at that rate, has carried the pieces before it.
final class RelayConnection: @unchecked Sendable {
    enum Side: Sendable {
        case client, server

        var other: Side { self == .client ? .server : .client }
    }

    /// Past this many bytes read from one side and not yet written to the
    /// other, that side is not read. A few MiB: enough to keep a 40 ms link
    /// busy at a few hundred MB/s, small enough not to matter.
    static let backlogLimit = 4 << 20

    /// Bytes waiting for their time to be forwarded.
    private struct Pending {
        var deadline: NIODeadline
        var bytes: ByteBuffer
        /// The cut happens once these bytes are written.
        var cutsAfter: Bool
    }

    /// The bytes travelling from one side to the other.
    private struct Direction {
        var queue = CircularBuffer<Pending>()
        var flush: Scheduled<Void>?
        /// Read and not yet written (queued, or in the channel's buffer).
        var backlog = 0
        var largestBacklog = 0
        /// Bytes that arrived while connecting or during a stall, in order.
        var held: [ByteBuffer] = []
        /// The source closed its output (`fully`: closed altogether).
        var ended: (fully: Bool, held: Bool)?
        /// The end has been passed on to the destination.
        var endForwarded = false
    }

    private enum Phase: Equatable {
        case connecting
        case open
        case stalled(Int)
        case cutting
        case closed
    }

    let eventLoop: any EventLoop
    private let link: RelayLink
    private let client: any Channel
    private var server: (any Channel)?
    private let upstreamHost: String
    private let upstreamPort: Int
    private let oneWay: TimeAmount
    private var phase = Phase.connecting
    private var fromClient = Direction()
    private var fromServer = Direction()
    private var stallCount = 0
    private var inactiveSides = 0
    /// Under a rate cap, when the link has carried every client byte queued
    /// so far.
    private var pacedUntil = NIODeadline.uptimeNanoseconds(0)

    /// The most client bytes read and not yet written: ``backlogLimit``,
    /// or under a rate cap one window plus what the link carries during the
    /// one-way latency. Bytes the link has carried but the latency still
    /// holds are on the wire, not waiting to be read: were they counted
    /// against one window, a 40 ms round trip would cap every connection at
    /// a window per 20 ms (64 KiB: about 3.3 MB/s), whatever its rate.
    private let clientBacklogLimit: Int

    init(client: any Channel, link: RelayLink, upstreamHost: String, upstreamPort: Int, oneWay: TimeAmount) {
        if let rate = link.behaviour.rate {
            clientBacklogLimit = min(Self.backlogLimit, rate.window + rate.inFlight(over: link.behaviour.roundTripLatency / 2))
        } else {
            clientBacklogLimit = Self.backlogLimit
        }
        self.client = client
        self.eventLoop = client.eventLoop
        self.link = link
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.oneWay = oneWay
    }

    // MARK: Events from the handlers

    /// The client's channel is active: connect to the server on the same
    /// event loop.
    func start() {
        link.register(self)
        link.update { $0.connectionsAccepted += 1 }
        ClientBootstrap(group: eventLoop)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.maxMessagesPerRead, value: Relay.readsPerCycle)
            .channelOption(.recvAllocator, value: Relay.readAllocator)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(connection: self, side: .server))
                }
            }
        .connect(host: upstreamHost, port: upstreamPort)
        .whenComplete { result in
            switch result {
            case .success(let channel):
                self.server = channel
                guard self.phase == .connecting else {
                    channel.close(promise: nil)
                    return
                }
                self.phase = .open
                self.releaseHeld()
            case .failure:
                // Nothing listens there: the client sees its connection reset.
                self.phase = .closed
                Self.reset(self.client)
            }
        }
    }

    func received(_ bytes: ByteBuffer, from side: Side) {
        switch phase {
        case .closed, .cutting:
            return
        case .connecting, .stalled:
            // Not read on purpose, but NIO still delivers what it finds
            // when it notices the end of the stream: keep it for later.
            modify(side) { $0.held.append(bytes) }
        case .open:
            if side == .client {
                admitFromClient(bytes)
            } else {
                enqueue(bytes, from: .server, cutsAfter: false)
            }
        }
    }

    func readComplete(_ side: Side) {
        readIfWanted(side)
    }

    /// The side closed its output (a half close), or, with `fully`, its
    /// connection is gone.
    func ended(_ side: Side, fully: Bool) {
        if fully {
            inactiveSides += 1
            if side == .client { link.update { $0.connectionsClosed += 1 } }
            if inactiveSides == 2 || (side == .client && server == nil) { link.unregister(self) }
        }
        switch phase {
        case .closed, .cutting:
            return
        case .connecting, .stalled:
            modify(side) { direction in
                if direction.ended == nil || fully { direction.ended = (fully, true) }
            }
        case .open:
            end(from: side, fully: fully)
        }
    }

    /// Ends the stall, if the connection is in one (and, with `id`, in that
    /// one), and passes on what it held.
    func endStall(_ id: Int? = nil) {
        guard case .stalled(let current) = phase, id == nil || id == current else { return }
        phase = .open
        link.update { $0.stallsEnded += 1 }
        releaseHeld()
    }

    /// Passes on, in order, what arrived while the connection was
    /// connecting or stalled: the client's bytes (which may reach the next
    /// cut or stall), the server's, then the end of either; and reads again.
    private func releaseHeld() {
        var clientBytes = fromClient.held
        fromClient.held = []
        while !clientBytes.isEmpty {
            let bytes = clientBytes.removeFirst()
            switch phase {
            case .open: admitFromClient(bytes)
            case .stalled: fromClient.held.append(bytes)
            default: clientBytes = []
            }
        }
        guard phase == .open else { return }
        let serverBytes = fromServer.held
        fromServer.held = []
        for bytes in serverBytes { enqueue(bytes, from: .server, cutsAfter: false) }
        for side in [Side.client, .server] {
            if let ended = direction(side).ended, ended.held {
                modify(side) { $0.ended?.held = false }
                end(from: side, fully: ended.fully)
            }
        }
        readIfWanted(.client)
        readIfWanted(.server)
    }

    /// Closes both sides now (the relay is shutting down).
    func close() {
        phase = .closed
        cancelFlushes()
        client.close(promise: nil)
        server?.close(promise: nil)
    }

    // MARK: Forwarding

    /// Passes client bytes on up to the next cut or stall, and carries it out.
    private func admitFromClient(_ bytes: ByteBuffer) {
        var rest = bytes
        while rest.readableBytes > 0 {
            let (passing, event) = link.admit(rest.readableBytes)
            guard passing > 0, let slice = rest.readSlice(length: passing) else { return }
            switch event {
            case nil:
                enqueue(slice, from: .client, cutsAfter: false)
            case .cut:
                // What follows the cut byte never reaches the server; the
                // connection is read no more and ends once the slice is out.
                phase = .cutting
                enqueue(slice, from: .client, cutsAfter: true)
                return
            case .stall(let duration):
                enqueue(slice, from: .client, cutsAfter: false)
                beginStall(duration)
                if rest.readableBytes > 0 { fromClient.held.append(rest) }
                return
            }
        }
    }

    private func beginStall(_ duration: Duration?) {
        stallCount += 1
        let id = stallCount
        phase = .stalled(id)
        link.update { $0.stallsBegun += 1 }
        if let duration {
            eventLoop.scheduleTask(in: TimeAmount(duration)) { self.endStall(id) }
        }
    }

    /// Queues bytes read from `side` for the other side, to be written
    /// ``oneWay`` after they arrived (at once without latency).
    private func enqueue(_ bytes: ByteBuffer, from side: Side, cutsAfter: Bool) {
        let count = bytes.readableBytes
        let largest: Int? = modify(side) { direction in
            direction.backlog += count
            guard direction.backlog > direction.largestBacklog else { return nil }
            direction.largestBacklog = direction.backlog
            return direction.backlog
        }
        if let largest { link.update { $0.largestBacklog = max($0.largestBacklog, largest) } }
        let now = NIODeadline.now()
        var deadline = now + oneWay
        if side == .client, let rate = link.behaviour.rate {
            // The piece leaves once the link has carried it after the
            // pieces before it, then takes the latency like any other.
            pacedUntil = max(now, pacedUntil) + Self.time(for: count, at: rate)
            deadline = pacedUntil + oneWay
        } else if oneWay == .zero && direction(side).queue.isEmpty {
            write(bytes, from: side, cutsAfter: cutsAfter)
            channel(side.other)?.flush()
            return
        }
        modify(side) { $0.queue.append(Pending(deadline: deadline, bytes: bytes, cutsAfter: cutsAfter)) }
        scheduleFlush(from: side)
    }

    /// How long `count` bytes take on a link capped at `rate`.
    private static func time(for count: Int, at rate: Relay.Rate) -> TimeAmount {
        .nanoseconds(Int64((Double(count) * 1e9 / Double(rate.bytesPerSecond)).rounded(.up)))
    }

    private func scheduleFlush(from side: Side) {
        guard direction(side).flush == nil, let head = direction(side).queue.first else { return }
        let task = eventLoop.scheduleTask(deadline: head.deadline) { self.flush(from: side) }
        modify(side) { $0.flush = task }
    }

    /// Writes every queued byte whose time has come, in order.
    private func flush(from side: Side) {
        modify(side) { $0.flush = nil }
        guard phase != .closed else { return }
        let now = NIODeadline.now()
        while let head = direction(side).queue.first, head.deadline <= now {
            modify(side) { _ = $0.queue.removeFirst() }
            write(head.bytes, from: side, cutsAfter: head.cutsAfter)
            if head.cutsAfter { break }
        }
        channel(side.other)?.flush()
        scheduleFlush(from: side)
        forwardEndIfDrained(from: side)
    }

    private func write(_ bytes: ByteBuffer, from side: Side, cutsAfter: Bool) {
        guard let destination = channel(side.other) else { return }
        let count = bytes.readableBytes
        let written = destination.write(bytes)
        written.whenComplete { result in
            self.modify(side) { $0.backlog -= count }
            if case .success = result {
                self.link.update { counters in
                    if side == .client { counters.bytesToServer += count } else { counters.bytesToClient += count }
                }
            }
            if cutsAfter { self.carryOutCut() }
            self.readIfWanted(side)
        }
    }

    /// Reads `side` again if the connection is open, the side has not
    /// ended, and its backlog has room: ``backlogLimit``, or under a rate
    /// cap, for the client's side, one window beyond what the link holds on
    /// its way (``Relay/Rate/inFlight(over:)``).
    private func readIfWanted(_ side: Side) {
        let limit = side == .client ? clientBacklogLimit : Self.backlogLimit
        guard phase == .open, direction(side).ended == nil, direction(side).backlog < limit,
            let channel = channel(side)
        else { return }
        channel.read()
    }

    // MARK: Ends

    /// `side` ended: once the bytes it sent are written, the other side ends
    /// the same way. Bytes toward a side that is gone are dropped.
    private func end(from side: Side, fully: Bool) {
        modify(side) { direction in
            if direction.ended == nil || fully { direction.ended = (fully, false) }
        }
        if fully {
            modify(side.other) { direction in
                direction.flush?.cancel()
                direction.flush = nil
                direction.queue.removeAll()
            }
        }
        forwardEndIfDrained(from: side)
    }

    private func forwardEndIfDrained(from side: Side) {
        switch phase {
        case .open, .stalled: break
        case .connecting, .cutting, .closed: return
        }
        guard let ended = direction(side).ended, !ended.held, !direction(side).endForwarded,
            direction(side).queue.isEmpty, let destination = channel(side.other)
        else { return }
        modify(side) { $0.endForwarded = true }
        // Closing the output waits for the writes NIO still holds; a full
        // close would drop them. So the output goes first, then the rest.
        let outputClosed = eventLoop.makePromise(of: Void.self)
        destination.close(mode: .output, promise: outputClosed)
        guard ended.fully || direction(side.other).endForwarded else { return }
        phase = .closed
        cancelFlushes()
        let source = channel(side)
        outputClosed.futureResult.whenComplete { _ in
            destination.close(promise: nil)
            source?.close(promise: nil)
        }
    }

    /// The cut byte is written: the client's side is reset, the server's
    /// side closed (it has every byte that passed, then the end).
    private func carryOutCut() {
        guard phase == .cutting else { return }
        phase = .closed
        cancelFlushes()
        Self.reset(client)
        server?.close(promise: nil)
        link.update { $0.cuts += 1 }
    }

    /// Closes `channel` with a reset (`SO_LINGER` 0) rather than an orderly
    /// end, as a network that drops a connection would.
    static func reset(_ channel: any Channel) {
        if let options = channel as? any SocketOptionProvider {
            options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    // MARK: Helpers

    private func cancelFlushes() {
        fromClient.flush?.cancel()
        fromServer.flush?.cancel()
        fromClient.flush = nil
        fromServer.flush = nil
        fromClient.queue.removeAll()
        fromServer.queue.removeAll()
    }

    private func channel(_ side: Side) -> (any Channel)? {
        side == .client ? client : server
    }

    private func direction(_ side: Side) -> Direction {
        side == .client ? fromClient : fromServer
    }

    @discardableResult
    private func modify<T>(_ side: Side, _ change: (inout Direction) -> T) -> T {
        side == .client ? change(&fromClient) : change(&fromServer)
    }
}

/// Passes one channel's events to its ``RelayConnection``.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: RelayConnection
    private let side: RelayConnection.Side

    init(connection: RelayConnection, side: RelayConnection.Side) {
        self.connection = connection
        self.side = side
    }

    func channelActive(context: ChannelHandlerContext) {
        if side == .client { connection.start() }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data), from: side)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.readComplete(side)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            connection.ended(side, fully: false)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.ended(side, fully: true)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset by the peer, a failed write: the connection is over.
        context.close(promise: nil)
    }
}
