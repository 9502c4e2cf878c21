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
/// No call blocks the thread of its caller. The instance has a thread of
/// its own, `tus-redis`, started on first use, that runs its calls one at a
/// time, in the order they were called: connecting, reconnecting, following
/// a failover, listing and pruning happen there while the calling task is
/// suspended, so the threads of Swift concurrency's pool stay free for
/// other tasks. On Linux, a get, set, remove or ``connect()`` that finds the
/// connection open and no other call in flight skips that hop: its commands
/// are written on the caller's thread without waiting, and its replies read
/// there without waiting when they have come; when they have not, the task
/// suspends until a second thread, `tus-redis-wait`, sees the socket
/// readable (`epoll`) or ``Configuration/commandTimeout`` pass. A call whose
/// task is cancelled still runs to its end and returns its result.
/// ``close()`` ends both threads. Open several instances to send commands
/// in parallel.
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

    /// The store's own thread, as a task executor.
    ///
    /// A task that prefers it runs on that thread, and its calls to the store
    /// send their commands and wait for the replies there, as a blocking
    /// client does: no other thread is woken to hand a reply over. For a
    /// task that makes many calls in a row:
    ///
    /// ```swift
    /// let store = try RedisStorage(url: "redis://127.0.0.1:6379/0?prefix=uploader:")
    /// let uploads = [("size:1048576--md5:9e107d9d372bb6826bd81d3542a419d6", "https://tus.example/files/24e5")]
    /// try await withTaskExecutorPreference(store.taskExecutor) {
    ///     for (key, url) in uploads { try await store.setURL(url, forKey: key) }
    /// }
    /// ```
    ///
    /// Everything else the task does runs on the store's thread too, and
    /// holds up the store's other callers meanwhile. A call the task makes
    /// waits, as a call on the store's thread does, for a call of another
    /// task that holds the connection, then for Redis at most the command
    /// timeout; when calls of other tasks are queued for the store's thread,
    /// it goes behind them, so that changes keep the order they were made
    /// in. Tasks that do not prefer it are not affected: no thread of Swift
    /// concurrency's pool waits on Redis either way.
    public var taskExecutor: any TaskExecutor { executor }

    /// How many calls wait for the store's thread, not counting the one it
    /// runs (for tests).
    package var queuedCalls: Int { executor.waitingJobs }

    private let session: Session
    // Runs every call that does not go on its caller's thread, one at a time.
    private let executor = ThreadExecutor(name: "tus-redis")
    // Gives `session` to one call on its caller's thread or to the
    // executor's thread; nil where calls never go on their caller's thread
    // (a cluster, whose connections follow redirections and failovers on
    // the store's thread, and systems without `epoll`).
    private let lane: CallerLane?
    #if os(Linux)
    // Resumes the calls whose replies had not come when they were written.
    private let waiter: ReplyWaiter
    #endif

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
        #if os(Linux)
        self.lane = self.configuration.clusterNodes == nil ? CallerLane() : nil
        self.waiter = ReplyWaiter(name: "tus-redis-wait", idle: self.configuration.commandTimeout)
        #else
        self.lane = nil
        #endif
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
        _ = try await call(session.command([Array("PING".utf8)])) { "open the store" }
    }

    // MARK: Storage

    /// Returns the URL stored under `key` (`GET <prefix>url:<key>`), or `nil`
    /// when there is none or it has expired.
    public func url(forKey key: String) async throws -> String? {
        let session = session
        let request = session.command([CommandWords.get, session.urlKey(key)], name: "GET").map { reply, operation -> String? in
            switch reply {
            case .null: return nil
            case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
            default: throw session.unexpected(reply, from: "GET", expected: "a string", operation)
            }
        }
        return try await call(request) { "read the URL of \(Self.shown(key))" }
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
        var set = [CommandWords.set, session.urlKey(key), Array(url.utf8)]
        if let ttl = configuration.ttl {
            set += [Array("PX".utf8), Array(String(max(1, Int64((ttl * 1000).rounded(.up)))).utf8)]
        }
        let request = session.transactionRequest(
            [set, [CommandWords.zadd, session.indexKey, Array(milliseconds.utf8), Array(key.utf8)]]
        )
        _ = try await call(request) { "store the URL of \(Self.shown(key))" }
    }

    /// Removes the URL stored under `key` and its index member. Removing an
    /// absent key is not an error.
    public func removeURL(forKey key: String) async throws {
        let request = session.transactionRequest(
            [[CommandWords.zrem, session.indexKey, Array(key.utf8)], [CommandWords.del, session.urlKey(key)]]
        )
        _ = try await call(request) { "remove the URL of \(Self.shown(key))" }
    }

    /// Closes the connection, after the calls already made, and ends the
    /// store's thread. Later calls throw `TusError.Code.closed`;
    /// closing twice is harmless.
    public func close() async throws {
        lane?.jobSubmitted(closing: true)
        let closed: Void? = try await executor.finish { [session, lane] in
            lane?.jobStarts()
            session.close()
            lane?.jobEnded()
        }
        if closed == nil { lane?.jobEnded() }
        #if os(Linux)
        waiter.stop()
        #endif
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

    // MARK: Running on the caller's thread or the store's

    /// Sends `request` on the caller's thread when the lane is free and the
    /// connection open, otherwise on the store's thread, and returns its
    /// result.
    ///
    /// On the caller's thread the commands are written without waiting and
    /// the replies read without waiting; when they have not all come, the
    /// task suspends until the ``ReplyWaiter`` sees the socket readable (or
    /// the command timeout passes). Nothing there waits on the network. A
    /// socket that takes nothing, or a connection that breaks, sends the
    /// call to the store's thread, which connects again as it always does.
    private func call<Result: Sendable>(
        _ request: Session.Request<Result>, _ operation: @escaping @Sendable () -> String
    ) async throws -> Result {
        if executor.isCurrent {
            // The caller's task prefers the store's executor. Calls already
            // queued for the store's thread go first, to keep the order of
            // changes: this call then queues behind them.
            if executor.waitingJobs == 0 { return try performHere(request, operation) }
            return try await perform(operation()) { session, operation in try session.perform(request, operation) }
        }
        #if os(Linux)
        // Not from another store's thread (a task that prefers another
        // store's executor): the lane would stay held until that thread is
        // free to resume the task, and this store's thread would wait for it.
        if let lane, !ThreadExecutor.isOnExecutorThread, lane.tryTake() {
            switch await sendOnCallersThread(request, lane, operation) {
            case .done(let result):
                return try result.get()
            case .toThread(let afterBreak):
                return try await perform(operation()) { session, operation in
                    try session.perform(request, operation, afterBreak: afterBreak)
                }
            }
        }
        #endif
        return try await perform(operation()) { session, operation in try session.perform(request, operation) }
    }

    #if os(Linux)
    /// How a call on the caller's thread ended.
    private enum LaneEnd<Result: Sendable>: Sendable {
        /// With its result.
        case done(Swift.Result<Result, any Error>)
        /// Not done: the store's thread is to send it, after this failure
        /// of the connection when there was one (the connection is dropped).
        case toThread(RedisError?)
    }

    /// Sends `request` on the caller's thread, holding `lane`, which it
    /// lets go before it returns.
    private func sendOnCallersThread<Result: Sendable>(
        _ request: Session.Request<Result>, _ lane: CallerLane, _ operation: @escaping @Sendable () -> String
    ) async -> LaneEnd<Result> {
        let session = session
        defer { lane.release() }
        guard let connection = session.connection else { return .toThread(nil) }
        let (sent, pending) = connection.sendNow(request.commands, name: request.name)
        var progress = sent
        let timeout = UInt64(configuration.commandTimeout * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        while case .waiting = progress {
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            switch await waiter.wait(for: connection.socket, timeout: elapsed < timeout ? timeout - elapsed : 0) {
            case .readable:
                progress = connection.readNow(pending)
            case .timedOut:
                progress = .failed(RedisError(
                    code: RedisError.io, systemErrno: EAGAIN, message: String(cString: strerror(EAGAIN)), command: request.name
                ))
            case .unavailable(let number):
                progress = .failed(RedisError(
                    code: RedisError.io, systemErrno: number,
                    message: "cannot wait for the reply: \(String(cString: strerror(number)))", command: request.name
                ))
            }
        }
        switch progress {
        case .replies(let replies):
            // A replica refusing a write: following the failover is the
            // store thread's work.
            if configuration.sentinel != nil, Session.readOnlyRefusal(in: replies) != nil { return .toThread(nil) }
            return .done(Swift.Result { try request.interpret(replies, Operation(describe: operation)) })
        case .notSent:
            return .toThread(nil)
        case .partlySent:
            session.connection = nil
            return .toThread(nil)
        case .failed(let error):
            session.connection = nil
            let unrecoverable = configuration.sentinel != nil
                ? error.code == RedisError.protocolError
                : !session.isBroken(error)
            if unrecoverable {
                return .done(.failure(session.failure(error, Operation(describe: operation), lostTwice: false)))
            }
            return .toThread(error)
        case .waiting:
            preconditionFailure("the loop above reads until the replies come or the connection fails")
        }
    }
    #endif

    /// Sends `request` and waits for its replies on the calling thread, which
    /// is the store's own: the caller's task prefers ``taskExecutor``. It
    /// takes the connection as a job of the store's thread does.
    private func performHere<Result: Sendable>(
        _ request: Session.Request<Result>, _ operation: @escaping @Sendable () -> String
    ) throws -> Result {
        lane?.jobSubmitted()
        return try Self.runAsJob(session, lane, operation) { session, operation in
            try session.perform(request, operation)
        }
    }

    /// Runs `body` on the store's thread, which gives the connection to one
    /// operation at a time, and waits for it.
    private func perform<Result: Sendable>(
        _ operation: @autoclosure @escaping @Sendable () -> String,
        _ body: @escaping @Sendable (Session, Operation) throws -> Result
    ) async throws -> Result {
        let session = session
        let lane = lane
        lane?.jobSubmitted()
        return try await executor.run({
            try Self.runAsJob(session, lane, operation, body)
        }, ifStopped: {
            lane?.jobEnded()
            return Self.closedError(operation(), session)
        })
    }

    /// A call's work on the store's thread, once `lane` has counted it as
    /// submitted: waits until no call on its caller's thread holds the
    /// connection, then runs `body`, unless the store is closed.
    private static func runAsJob<Result>(
        _ session: Session, _ lane: CallerLane?, _ operation: @escaping @Sendable () -> String,
        _ body: (Session, Operation) throws -> Result
    ) throws -> Result {
        lane?.jobStarts()
        defer { lane?.jobEnded() }
        if session.isClosed { throw closedError(operation(), session) }
        return try body(session, Operation(describe: operation))
    }

    /// What a call made after ``close()`` throws.
    private static func closedError(_ operation: String, _ session: Session) -> TusError {
        TusError(.closed, "cannot \(operation): the Redis store at \(session.configuration.address) is closed")
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
