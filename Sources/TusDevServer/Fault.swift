/// A misbehaviour the development server plays once, so client tests can see
/// how a client copes with a failing network or server.
///
/// Queue faults with ``TusDevServer/inject(_:)``. Faults wait in a queue;
/// each request consumes at most one, the first queued fault that matches it,
/// and a consumed fault is gone. Methods are matched case-insensitively
/// against the effective method, so a `POST` carrying
/// `X-HTTP-Method-Override: PATCH` counts as a `PATCH`.
///
/// ```swift
/// server.inject(.status(500, method: "PATCH"))      // next PATCH fails with 500
/// server.inject(.dropConnectionDuringPatch(afterBytes: 1024))
/// ```
public enum Fault: Sendable, Equatable, CustomStringConvertible {
    /// The next valid `PATCH` (one that would otherwise be accepted) keeps the
    /// first `afterBytes` bytes of its body, as a real server would, and then
    /// the connection is closed with no response.
    ///
    /// The upload's offset advances by the bytes kept. If the body is shorter
    /// than `afterBytes`, all of it is kept and the connection is closed when
    /// it ends, still with no response. A `PATCH` that carries
    /// `Upload-Checksum` cannot be verified once cut, so its bytes are
    /// discarded instead, and the offset does not move.
    case dropConnectionDuringPatch(afterBytes: Int)

    /// The next request with `method` is answered with `status` and nothing
    /// else happens: no upload is created, changed or deleted, and the
    /// request's body is read and thrown away. Checked before any other
    /// validation, so it applies even to a request that lacks
    /// `Tus-Resumable`. Use it for `500` on `PATCH`, `409` on `PATCH`, `423` or
    /// `500` on `HEAD`, `503` on `POST`.
    case status(Int, method: String)

    /// The next valid `PATCH` that carries a supported `Upload-Checksum` is
    /// answered with `460 Checksum Mismatch` whatever its digest, and its
    /// bytes are discarded: the offset does not move.
    case checksumMismatch

    /// The next request with `method` waits `seconds` before the server
    /// starts handling it; then it is handled as usual. The server reads
    /// nothing more from that connection while it waits, and a request whose
    /// client gives up (closes the connection) during the wait is dropped
    /// without any effect.
    case stall(seconds: Double, method: String)

    /// A short description, such as `status(500, PATCH)`.
    public var description: String {
        switch self {
        case .dropConnectionDuringPatch(let n): "dropConnectionDuringPatch(afterBytes: \(n))"
        case .status(let code, let method): "status(\(code), \(method.uppercased()))"
        case .checksumMismatch: "checksumMismatch"
        case .stall(let seconds, let method): "stall(\(seconds) s, \(method.uppercased()))"
        }
    }
}
