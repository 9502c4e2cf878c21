/// What hiredis or the Redis server reported, kept as the
/// `TusError.cause` of the `TusError` a ``RedisStorage``
/// throws.
///
/// ```swift
/// do {
///     _ = try await store.url(forKey: key)
/// } catch let error as TusError {
///     if let redis = error.cause as? RedisError, redis.code == RedisError.eof {
///         print("the server closed the connection: \(redis.message)")
///     }
/// }
/// ```
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// hiredis's error code (``io``, ``other``, ``eof``, ``protocolError``,
    /// ``outOfMemory``), or ``reply`` when the server answered the command
    /// with an error.
    public var code: Int32
    /// The `errno` of an ``io`` error, otherwise 0.
    public var systemErrno: Int32
    /// hiredis's error text (its context's `errstr`), or the server's error
    /// reply, such as `WRONGPASS invalid username-password pair or user is
    /// disabled.`
    public var message: String
    /// The name of the command that failed, such as `GET` or `AUTH`, or
    /// `connect`. Never its arguments.
    public var command: String

    /// The server answered with an error reply (`-ERR ...`).
    public static let reply: Int32 = 0
    /// hiredis's `REDIS_ERR_IO`: a read or write failed; ``systemErrno`` says
    /// why (`EAGAIN` when a timeout expired).
    public static let io: Int32 = 1
    /// hiredis's `REDIS_ERR_OTHER`, for example a host name that does not
    /// resolve.
    public static let other: Int32 = 2
    /// hiredis's `REDIS_ERR_EOF`: the server closed the connection.
    public static let eof: Int32 = 3
    /// hiredis's `REDIS_ERR_PROTOCOL`: the server's answer was not valid RESP.
    public static let protocolError: Int32 = 4
    /// hiredis's `REDIS_ERR_OOM`: out of memory.
    public static let outOfMemory: Int32 = 5

    /// Creates an error.
    public init(code: Int32, systemErrno: Int32 = 0, message: String, command: String) {
        self.code = code
        self.systemErrno = systemErrno
        self.message = message
        self.command = command
    }

    /// The command, the text and hiredis's code, such as
    /// `GET: Server closed the connection (hiredis error 3)`.
    public var description: String {
        if code == Self.reply { return "\(command): server replied \(message)" }
        var text = "\(command): \(message) (hiredis error \(code)"
        if systemErrno != 0 { text += ", errno \(systemErrno)" }
        return text + ")"
    }
}
