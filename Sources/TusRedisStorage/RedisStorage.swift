public import Foundation
public import TusCore
public import Logging
import TusThreads

/// The Redis store: upload URLs in a Redis server, shared by every process
/// and machine that reaches it, with an optional time to live per entry.
///
/// ```swift
/// let store = try RedisStorage(url: "redis://:s3cret@cache.internal:6379/0?prefix=uploader:&ttl=604800")
/// try await store.setURL("https://tus.example/files/24e5", forKey: key)
/// let url = try await store.url(forKey: key)
/// try await store.close()
/// ```
///
/// ## Key layout
/// With the default prefix `tus:`, an entry with key `K` is
/// - the string `tus:url:K`, holding the upload URL (with an expiry when a
///   ``Configuration/ttl`` is set), and
/// - the member `K` of the sorted set `tus:stored_at`, scored with the time it
///   was stored, in milliseconds since 1970 (the clock of the process that
///   stored it).
///
/// A set or remove changes both in one `MULTI`/`EXEC` transaction, sent in
/// one write (one round trip); pruning runs Lua scripts. Either way Redis
/// changes both atomically. Listing and pruning read the sorted set, never
/// `KEYS`, and drop the members whose URL has expired.
///
/// On a Redis Cluster (``Configuration/cluster(_:username:password:keyPrefix:ttl:connectTimeout:commandTimeout:failoverTimeout:)``,
/// `redis-cluster://` URLs) the prefix is a hash tag, `{tus:}url:K` and
/// `{tus:}stored_at`, so that every key of the store is in one slot and each
/// operation stays one atomic transaction or script; each command goes to
/// the master of that slot, following `MOVED` and `ASK`, and a master that
/// dies is routed around once a replica has taken over (see the Redis store
/// article).
///
/// ## Connection
/// The store connects lazily, on its first operation (or on ``connect()``),
/// sends `AUTH` when a password is set and `SELECT` when the database is not
/// 0. It keeps one connection, used by one operation at a time.
///
/// With a ``Configuration/sentinel`` (a `redis-sentinel://` URL), it asks the
/// sentinels where the master is, checks with `ROLE` that it is, and follows
/// a failover: see ``Configuration/Sentinel``. With
/// ``Configuration/waitReplicas``, each set and remove returns once that many
/// replicas acknowledged it (`WAIT`).
///
/// ## Threads
/// No call blocks the thread of its caller. The instance has one thread of
/// its own, started on first use, that runs its calls one at a time, in the
/// order they were called: connecting and every round trip to the server
/// happen there while the calling task is suspended, so the threads of
/// Swift concurrency's pool stay free for other tasks. A call whose task is
/// cancelled still runs to its end and returns its result. ``close()`` ends
/// the thread. Open several instances to send commands in parallel.
///
/// Every wait is bounded: the connection by ``Configuration/connectTimeout``, each
/// command by ``Configuration/commandTimeout``. When the server closes the
/// connection or an I/O error breaks it, the store reconnects once and sends
/// the command once more; every command it sends can safely be repeated.
///
/// ## Errors
/// Every method throws `TusError`, naming the server as ``address``
/// (never with the password), with a ``RedisError`` as its `cause`:
/// - `TusError.Code.connectionFailed`: the server cannot be reached,
///   refuses the connection, or dropped it twice in a row.
/// - `TusError.Code.authenticationFailed`: a wrong password, or
///   none given to a server that requires one.
/// - `TusError.Code.timeout`: a command got no answer in time.
/// - `TusError.Code.corruptStore`: a key under the prefix holds
///   another kind of value (`WRONGTYPE`).
/// - `TusError.Code.invalidArgument`: the server has no database
///   of the configured number.
/// - `TusError.Code.unavailable`: a server that refuses writes
///   because it is out of memory (`OOM`, `maxmemory` reached with the
///   `noeviction` policy) or is a read-only replica (`READONLY`), each said
///   in so many words; any other error reply, such as a server that is
///   loading its data. What was stored before is kept, and reads go on
///   working. Also: fewer replicas than ``Configuration/waitReplicas``
///   acknowledged a change in time; under Sentinel, the master could not be
///   reached again within ``Configuration/Sentinel/failoverTimeout``.
/// - `TusError.Code.closed`: the store was closed.
///
/// No TLS: hiredis 0.14 has none. Reach a remote server through a TLS tunnel
/// or a private network.
public final class RedisStorage: ListableStorage, Sendable {
    /// The settings the store was made with.
    public let configuration: Configuration

    /// The server's address, `redis://host:port/db`, or
    /// `redis-sentinel://host:port,host:port/MASTER/db` under Sentinel,
    /// without credentials.
    public var address: String { configuration.address }

    private let session: Session
    // Runs every call, one at a time: the only thread that touches `session`.
    private let executor = ThreadExecutor(name: "tus-redis")

    /// Makes a store from its settings. Nothing is sent to the server until
    /// the first operation or ``connect()``.
    ///
    /// ```swift
    /// let store = try RedisStorage(configuration: .init(host: "127.0.0.1", port: 6380, keyPrefix: "test:"))
    /// ```
    ///
    /// - Parameters:
    ///   - configuration: The server, or the sentinels or cluster nodes,
    ///     and the store's settings.
    ///   - logger: Where the store logs, at `debug`: a broken connection it
    ///     opens again, and the waits for a failover (Sentinel, Cluster).
    ///     Nil (the default) is the creating task's `Logger.current`.
    /// - Throws: `TusError` with
    ///   `TusError.Code.invalidArgument` when a setting cannot be
    ///   used: an empty host, a port outside 1...65535, a negative database, a
    ///   ttl or timeout that is not greater than zero, a user name without a
    ///   password; under Sentinel, no sentinel or an empty master name; a
    ///   wait timeout not shorter than the command timeout.
    public init(configuration: Configuration, logger: Logger? = nil) throws {
        self.configuration = try configuration.validated()
        self.session = Session(configuration: self.configuration, logger: logger ?? Logger.current)
    }

    /// Makes a store from a Redis URL:
    /// `redis://[[username]:password@]host[:port][/db][?prefix=P&ttl=SECONDS]`,
    /// or `redis-sentinel://[[username]:password@]host[:port][,host[:port]...]/MASTER[/db][?options]`
    /// for a master found through Redis Sentinel.
    /// Nothing is sent to the server until the first operation or
    /// ``connect()``.
    ///
    /// ```swift
    /// let store = try RedisStorage(url: "redis://127.0.0.1:6379/0?prefix=tus:")
    /// let replicated = try RedisStorage(url: "redis-sentinel://10.0.0.5,10.0.0.6,10.0.0.7/uploads?wait=1")
    /// ```
    ///
    /// - Parameters:
    ///   - url: The store's URL.
    ///   - logger: Where the store logs, as for ``init(configuration:logger:)``.
    /// - Throws: `TusError` with
    ///   `TusError.Code.invalidArgument` naming the URL (its
    ///   credentials masked) when it is malformed; see
    ///   ``Configuration/init(url:)``.
    public convenience init(url: String, logger: Logger? = nil) throws {
        try self.init(configuration: Configuration(url: url), logger: logger)
    }

    /// Connects now, if not connected yet, and checks that the server
    /// answers, so that a wrong address or password shows at once rather
    /// than at the first operation.
    ///
    /// - Throws: `TusError` as every operation does.
    public func connect() async throws {
        try await perform("open the store") { session, operation in
            _ = try session.run(["PING"], operation)
        }
    }

    // MARK: Storage

    /// Returns the URL stored under `key` (`GET <prefix>url:<key>`), or `nil`
    /// when there is none or it has expired.
    public func url(forKey key: String) async throws -> String? {
        try await perform("read the URL of \(Self.shown(key))") { session, operation in
            let reply = try session.run([Array("GET".utf8), session.urlKey(key)], operation)
            switch reply {
            case .null: return nil
            case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
            default: throw session.unexpected(reply, from: "GET", expected: "a string", operation)
            }
        }
    }

    /// Stores `url` under `key` and records the time, replacing any URL
    /// stored there before. With a ``Configuration/ttl``, the entry expires
    /// that long after this call.
    public func setURL(_ url: String, forKey key: String) async throws {
        try await setURL(url, forKey: key, storedAt: nil)
    }

    /// Stores `url` under `key` with `storedAt` as its time; `nil` records
    /// the present time, since the index needs one. A ``Configuration/ttl``
    /// counts from this call, not from `storedAt`.
    public func setURL(_ url: String, forKey key: String, storedAt: Date?) async throws {
        let milliseconds = Self.milliseconds(storedAt ?? Date())
        try await perform("store the URL of \(Self.shown(key))") { session, operation in
            var set = [Array("SET".utf8), session.urlKey(key), Array(url.utf8)]
            if let ttl = session.configuration.ttl {
                set += [Array("PX".utf8), Array(String(max(1, Int64((ttl * 1000).rounded(.up)))).utf8)]
            }
            _ = try session.transaction(
                [set, [Array("ZADD".utf8), session.indexKey, Array(milliseconds.utf8), Array(key.utf8)]], operation
            )
        }
    }

    /// Removes the URL stored under `key` and its index member. Removing an
    /// absent key is not an error.
    public func removeURL(forKey key: String) async throws {
        try await perform("remove the URL of \(Self.shown(key))") { session, operation in
            _ = try session.transaction(
                [[Array("ZREM".utf8), session.indexKey, Array(key.utf8)], [Array("DEL".utf8), session.urlKey(key)]],
                operation
            )
        }
    }

    /// Closes the connection, after the calls already made, and ends the
    /// store's thread. Later calls throw `TusError.Code.closed`;
    /// closing twice is harmless.
    public func close() async throws {
        _ = try await executor.finish { [session] in session.close() }
    }

    // MARK: ListableStorage

    /// Every entry, read from the `stored_at` index and the URL keys, in
    /// batches of ``batchSize``.
    ///
    /// Index members whose URL key has expired are not listed, and are
    /// removed from the index.
    public func entries() async throws -> [StoredUpload] {
        try await perform("list the entries") { session, operation in
            let members = try session.indexMembers(
                [Array("ZRANGE".utf8), session.indexKey, Array("0".utf8), Array("-1".utf8), Array("WITHSCORES".utf8)],
                operation
            )
            var entries: [StoredUpload] = []
            var expired: [[UInt8]] = []
            for batch in members.batches(of: Self.batchSize) {
                let reply = try session.run([Array("MGET".utf8)] + batch.map { session.urlKey(bytes: $0.member) }, operation)
                guard case .array(let values) = reply, values.count == batch.count else {
                    throw session.unexpected(reply, from: "MGET", expected: "an array of \(batch.count)", operation)
                }
                for (member, value) in zip(batch, values) {
                    switch value {
                    case .string(let url):
                        entries.append(StoredUpload(
                            key: String(decoding: member.member, as: UTF8.self),
                            url: String(decoding: url, as: UTF8.self),
                            storedAt: Date(timeIntervalSince1970: member.score / 1000)
                        ))
                    default:
                        expired.append(member.member)
                    }
                }
            }
            for batch in expired.batches(of: Self.batchSize) {
                let urlKeys = batch.map { session.urlKey(bytes: $0) }
                _ = try session.eval(Scripts.forgetExpired, keys: [session.indexKey] + urlKeys, arguments: Array(batch), operation)
            }
            return entries
        }
    }

    /// Removes every entry stored strictly before `date`, by the clock of the
    /// process that stored it, and returns how many were removed. Entries
    /// that had already expired are dropped from the index but not counted.
    @discardableResult
    public func removeEntries(storedBefore date: Date) async throws -> Int {
        let cutoff = Self.milliseconds(date)
        return try await perform("remove the entries stored before \(date)") { session, operation in
            let members = try session.indexMembers(
                [Array("ZRANGEBYSCORE".utf8), session.indexKey, Array("-inf".utf8), Array("(\(cutoff)".utf8),
                 Array("WITHSCORES".utf8)],
                operation
            )
            var removed = 0
            for batch in members.batches(of: Self.batchSize) {
                let urlKeys: [[UInt8]] = batch.map { session.urlKey(bytes: $0.member) }
                let arguments: [[UInt8]] = [Array(cutoff.utf8)] + batch.map(\.member)
                let reply = try session.eval(Scripts.removeOlder, keys: [session.indexKey] + urlKeys, arguments: arguments, operation)
                guard case .integer(let count) = reply else {
                    throw session.unexpected(reply, from: "EVAL", expected: "an integer", operation)
                }
                removed += Int(count)
            }
            return removed
        }
    }

    /// How many entries ``entries()`` and ``removeEntries(storedBefore:)``
    /// read or change per command, so that no single command keeps the
    /// server busy for long.
    public static let batchSize = 500

    // MARK: Running on the store's thread

    /// Runs `body` on the store's thread, which gives the connection to one
    /// operation at a time, and waits for it.
    private func perform<Result: Sendable>(
        _ operation: @autoclosure @escaping @Sendable () -> String,
        _ body: @escaping @Sendable (Session, Operation) throws -> Result
    ) async throws -> Result {
        let session = session
        let closed: @Sendable () -> TusError = {
            TusError(.closed, "cannot \(operation()): the Redis store at \(session.configuration.address) is closed")
        }
        return try await executor.run({
            if session.isClosed { throw closed() }
            return try body(session, Operation(describe: operation))
        }, ifStopped: closed)
    }

    /// Milliseconds since 1970, as Redis and Lua parse them.
    private static func milliseconds(_ date: Date) -> String {
        String(date.timeIntervalSince1970 * 1000)
    }

    /// A key as messages show it: quoted, and cut when long.
    private static func shown(_ key: String) -> String {
        key.count <= 80 ? key.debugDescription : (String(key.prefix(80)) + "…").debugDescription
    }
}
