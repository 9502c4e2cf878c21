/// How many bytes the next request carries: one mechanism for body limits,
/// links that cut, and fast links.
///
/// - It starts at the size the user chose, or at ``start`` (or the
///   ceiling, if smaller) when the uploader chooses.
/// - After a request succeeds it grows towards the size at which the time
///   between two requests — one round trip, measured as the shortest
///   request without a body — is at most ``roundTripShare`` of the time,
///   given the throughput the last request reached. It grows at most
///   ``maximumGrowth``-fold at once, and only twofold once the link has
///   failed, so a size that just failed is approached with care.
/// - After a 413 it halves, and the halved size becomes the ceiling for the
///   rest of the upload.
/// - After the link fails in the middle of a request it halves, so a link
///   that cuts every few megabytes still moves the offset.
/// - It never goes below ``floor`` (or the server's least, see
///   ``keepAtLeast(_:)``) nor above the ceiling.
struct ChunkSizer {
    /// The first size, when the ceiling allows: 5 MiB, small enough to fail
    /// fast on a bad link, and grown from there on a good one. (tuspy and
    /// tus-js-client send a whole file in one PATCH unless told a chunk
    /// size.)
    static let start = 5 << 20
    /// The smallest size halving reaches.
    static let floor = 64 << 10
    /// The largest share of the time the round trips between requests may
    /// take once the size has grown.
    static let roundTripShare = 0.05
    /// The most a size grows after one success.
    static let maximumGrowth = 16

    /// The size of the next request.
    private(set) var size: Int
    /// The largest size ever sent.
    private(set) var ceiling: Int
    /// The shortest request without a body, in seconds: the round trip.
    private(set) var roundTrip: Double?
    private var hasFailed = false
    /// The fewest bytes the server takes in a request, when it said so.
    private var least = 1

    /// Sizes up to `ceiling`, from `start` (by default ``start``).
    init(ceiling: Int, start: Int = ChunkSizer.start) {
        self.ceiling = max(1, ceiling)
        size = max(1, min(start, self.ceiling))
    }

    private var floor: Int { min(max(Self.floor, least), ceiling) }

    /// A request without a body took `seconds`.
    mutating func measuredRoundTrip(_ seconds: Double) {
        guard seconds > 0 else { return }
        roundTrip = min(roundTrip ?? seconds, seconds)
    }

    /// A request carrying `bytes` succeeded in `seconds`.
    mutating func succeeded(bytes: Int, seconds: Double) {
        guard bytes > 0, bytes >= size / 2 else { return }   // the file's short last piece says little
        let growth = hasFailed ? 2 : Self.maximumGrowth
        var wanted = size.multipliedReportingOverflow(by: growth).overflow ? Int.max : size * growth
        if let roundTrip {
            // Time spent moving bytes, without the round trip.
            let sending = max(seconds - roundTrip, roundTrip / 10, 0.000_1)
            let throughput = Double(bytes) / sending
            // sending / (sending + roundTrip) >= 1 - share
            let target = throughput * roundTrip * (1 - Self.roundTripShare) / Self.roundTripShare
            wanted = min(wanted, target >= Double(Int.max / 2) ? Int.max / 2 : max(Int(target), size))
        }
        size = min(ceiling, max(size, wanted))
    }

    /// The server or a proxy refused a request of `bytes` as too large.
    /// Returns false when the size cannot shrink further.
    mutating func refusedAsTooLarge(bytes: Int) -> Bool {
        guard bytes > floor else { return false }
        ceiling = max(floor, bytes / 2)
        size = min(size, ceiling)
        return true
    }

    /// The server takes no fewer than `fewest` bytes in a request (but the
    /// last): sizes stay at or above it, within the ceiling.
    mutating func keepAtLeast(_ fewest: Int) {
        least = max(1, fewest)
        size = min(ceiling, max(size, least))
    }

    /// The server takes at most `most` bytes a request: the ceiling comes
    /// down to it (never up).
    mutating func limit(to most: Int) {
        ceiling = max(1, min(ceiling, most))
        size = min(size, ceiling)
    }

    /// The link failed after part of a request of `bytes` went out.
    mutating func interrupted(bytes: Int) {
        hasFailed = true
        size = max(floor, min(size, bytes / 2))
    }
}
