extension Relay {
    /// What a ``Relay`` does to the bytes it forwards. The parts combine: a
    /// slow link that also cuts every 4 MB is
    /// `Behaviour(roundTripLatency: .milliseconds(40), cut: Cut(afterBytes: 4_000_000))`.
    ///
    /// Byte counts for ``cut`` and ``stall`` are of bytes from the client
    /// toward the server, counted on the whole link (across connections, as
    /// the relay reads them), and start again from zero after each cut or
    /// stall.
    public struct Behaviour: Sendable {
        /// The time a byte takes there and back: each direction is delayed
        /// by half of it. Zero forwards at once.
        public var roundTripLatency: Duration
        /// When to cut a connection, if ever.
        public var cut: Cut?
        /// When to stall a connection, if ever.
        public var stall: Stall?
        /// A steady cap on the bytes from the client toward the server, if
        /// any.
        public var rate: Rate?

        /// A behaviour with the given parts; with none, the relay forwards
        /// every byte at once and never interferes.
        public init(roundTripLatency: Duration = .zero, cut: Cut? = nil, stall: Stall? = nil, rate: Rate? = nil) {
            self.roundTripLatency = roundTripLatency
            self.cut = cut
            self.stall = stall
            self.rate = rate
        }

        /// Forwards every byte at once, in order, and never interferes.
        public static let passThrough = Behaviour()

        /// Only a delay of `roundTrip` (half of it each way).
        public static func latency(roundTrip: Duration) -> Behaviour {
            Behaviour(roundTripLatency: roundTrip)
        }

        /// Only a steady cap of `bytesPerSecond` from the client toward the
        /// server: a slow link that never stops.
        public static func rate(bytesPerSecond: Int) -> Behaviour {
            Behaviour(rate: Rate(bytesPerSecond: bytesPerSecond))
        }
    }

    /// A slow but steady link from the client toward the server: each
    /// connection forwards at most ``bytesPerSecond`` of the client's bytes,
    /// evenly (a piece of `n` bytes reaches the server `n / bytesPerSecond`
    /// after the one before it, plus the latency), for as long as it lives.
    ///
    /// The cap is per connection, as a link's bandwidth shared by one
    /// transfer at a time, or a network that shapes each flow; a test with
    /// parallel connections gets the cap on each, and n connections at once
    /// carry up to n times the rate. With a round trip as well, each
    /// connection still carries the whole rate: the bytes on their way
    /// through the latency do not count against the window the relay reads
    /// ahead. Bytes from the server toward the client are not capped: in
    /// tus they are headers of a few hundred bytes, and delaying them would
    /// only add latency, which ``Behaviour/roundTripLatency`` gives already.
    ///
    /// The client's writes are paced by the cap, as on a real slow link,
    /// not absorbed by buffers: the relay reads the client in pieces of
    /// about a tenth of a second's worth and only once the bytes before
    /// them have left; its socket toward the client has a small receive
    /// buffer (``receiveBuffer``); and it announces an Ethernet-sized
    /// segment (``maximumSegmentSize``), so the client's kernel sizes its
    /// send buffer as it would for a network path rather than for
    /// loopback's 64 KiB segments (which would let it take megabytes at
    /// once). What the client has written runs ahead of what the server has
    /// received by at most its own send buffer, a few hundred KB at most.
    public struct Rate: Sendable {
        /// The most client bytes forwarded per second. At least 1.
        public var bytesPerSecond: Int

        /// The receive buffer (`SO_RCVBUF`) of the relay's socket toward
        /// the client; Linux doubles it for its own bookkeeping. About 2 ms
        /// worth, between 4 KiB and 64 KiB: small enough that the client
        /// cannot run ahead, large enough that a fast cap (25 MB/s, say)
        /// is not read 8 KiB at a time, a wake-up of the relay each, whose
        /// CPU time would then bound the link rather than the cap.
        public var receiveBuffer: Int { min(64 << 10, max(4096, bytesPerSecond / 500)) }
        /// The segment size (`TCP_MAXSEG`) the relay announces to the client.
        public static let maximumSegmentSize = 1400

        /// A cap of `bytesPerSecond` client bytes per second.
        public init(bytesPerSecond: Int) {
            precondition(bytesPerSecond >= 1, "a rate needs at least one byte per second")
            self.bytesPerSecond = bytesPerSecond
        }

        /// The most bytes the relay reads from the client at once, and
        /// holds before it reads more (beside those on their way, below):
        /// about 100 ms worth, between 512 B and 64 KiB.
        var window: Int { min(64 << 10, max(512, bytesPerSecond / 10)) }

        /// The bytes the link carries during `latency`: those it has sent
        /// on and the latency still holds, which the relay does not count
        /// against ``window``, so that a link with both a rate and a round
        /// trip still carries the rate, as a network path whose window
        /// covers its bandwidth times its delay does.
        func inFlight(over latency: Duration) -> Int {
            let (seconds, attoseconds) = latency.components
            return Int((Double(bytesPerSecond) * (Double(seconds) + Double(attoseconds) / 1e18)).rounded(.up))
        }
    }

    /// Cutting the link: once ``afterBytes`` bytes from the client have
    /// passed, the connection carrying the last of them ends. The client's
    /// side is reset (it sees `ECONNRESET`, as when a network drops a
    /// connection); the server's side is closed once exactly those bytes
    /// have reached it, so what the server holds is what passed the link.
    /// Bytes the client sent after them, and bytes still on their way to the
    /// client, are lost.
    public struct Cut: Sendable {
        /// How many client bytes pass before each cut. At least 1.
        public var afterBytes: Int
        /// How many cuts to make; `nil` cuts every ``afterBytes`` bytes for
        /// as long as the relay runs.
        public var times: Int?

        /// Cuts after every `afterBytes` bytes from the client, or only the
        /// first `times` times.
        public init(afterBytes: Int, times: Int? = nil) {
            precondition(afterBytes >= 1, "a cut needs at least one byte before it")
            self.afterBytes = afterBytes
            self.times = times
        }
    }

    /// Stalling the link: once ``afterBytes`` bytes from the client have
    /// passed, the connection carrying the last of them stops forwarding in
    /// both directions — its sockets stay open and nothing more is read from
    /// either — until ``duration`` passes or the test calls
    /// ``Relay/releaseStalls()``. Then what was held (bytes, and a close by
    /// either side) goes on, in order.
    public struct Stall: Sendable {
        /// How many client bytes pass before each stall. At least 1.
        public var afterBytes: Int
        /// How long each stall lasts; `nil` until ``Relay/releaseStalls()``.
        public var duration: Duration?
        /// How many stalls to make; `nil` stalls every ``afterBytes`` bytes.
        public var times: Int?

        /// Stalls after every `afterBytes` bytes from the client (or only the
        /// first `times` times), for `duration` or until released.
        public init(afterBytes: Int, duration: Duration? = nil, times: Int? = nil) {
            precondition(afterBytes >= 1, "a stall needs at least one byte before it")
            self.afterBytes = afterBytes
            self.duration = duration
            self.times = times
        }

        /// One stall only, after `afterBytes` bytes.
        public static func once(afterBytes: Int, duration: Duration? = nil) -> Stall {
            Stall(afterBytes: afterBytes, duration: duration, times: 1)
        }
    }

    /// What the relay has done so far. Tests wait on these with
    /// ``Relay/waitUntil(timeout:_:)`` instead of sleeping.
    public struct Counters: Sendable, Equatable, CustomStringConvertible {
        /// Connections accepted from clients.
        public var connectionsAccepted = 0
        /// Connections (client and server side both) that have ended.
        public var connectionsClosed = 0
        /// Bytes written toward the server (accepted by the kernel).
        public var bytesToServer = 0
        /// Bytes written toward the client (accepted by the kernel).
        public var bytesToClient = 0
        /// Connections cut (after the cut was carried out, not decided).
        public var cuts = 0
        /// Stalls begun.
        public var stallsBegun = 0
        /// Stalls ended, by their duration or ``Relay/releaseStalls()``.
        public var stallsEnded = 0
        /// The most bytes one direction of one connection ever held (read
        /// but not yet written): what backpressure keeps bounded.
        public var largestBacklog = 0

        /// All zero.
        public init() {}

        /// The counters on one line, for test output.
        public var description: String {
            "accepted \(connectionsAccepted), closed \(connectionsClosed), "
                + "to server \(bytesToServer) B, to client \(bytesToClient) B, cuts \(cuts), "
                + "stalls \(stallsBegun) begun / \(stallsEnded) ended, largest backlog \(largestBacklog) B"
        }
    }
}
