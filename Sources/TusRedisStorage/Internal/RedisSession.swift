import Foundation
import Logging
import TusCore

/// What a call was doing, as its error message says it; only worked out when
/// an error needs it.
struct Operation: CustomStringConvertible {
    let describe: () -> String
    var description: String { describe() }
}

/// The connection and its state. Only the store's thread touches it, which
/// is what makes the unchecked `Sendable` sound.
///
/// With a ``RedisStorage/Configuration/sentinel``, where it connects and how
/// it follows a failover is in `RedisSession+Sentinel.swift`.
///
/// On a cluster, the session keeps a connection per node (``RedisCluster``)
/// and writes its prefix as a hash tag, `{prefix}url:K` and
/// `{prefix}stored_at`, so that every key of the store is in one slot.
final class Session: @unchecked Sendable {
    let configuration: RedisStorage.Configuration
    let indexKey: [UInt8]
    private let urlKeyPrefix: [UInt8]
    /// The open connection, if any; dropped after any failure.
    var connection: RedisConnection?
    /// The nodes of a cluster, or `nil` for a single server.
    private var cluster: RedisCluster?
    /// The slot of every key of the store, on a cluster.
    private let slot: Int
    private(set) var isClosed = false
    /// Asks the sentinels where the master is; `nil` for a single server.
    var sentinelResolver: SentinelResolver?
    /// The master the sentinels named last, as messages show it.
    var master: String?

    /// Where the session logs, at `debug`: reconnections, and waits for a
    /// failover.
    let logger: Logger

    init(configuration: RedisStorage.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let prefix = configuration.clusterNodes == nil ? configuration.keyPrefix : "{\(configuration.keyPrefix)}"
        self.indexKey = Array((prefix + "stored_at").utf8)
        self.urlKeyPrefix = Array((prefix + "url:").utf8)
        self.slot = ClusterSlots.slot(of: indexKey)
        self.sentinelResolver = configuration.sentinel.map { SentinelResolver(configuration: configuration, sentinel: $0) }
        if let nodes = configuration.clusterNodes {
            cluster = RedisCluster(
                seeds: nodes,
                retryWindow: configuration.failoverTimeout,
                address: configuration.address,
                logger: logger,
                open: { [unowned self] node, operation in
                    try self.login(host: node.host, port: node.port, shownAs: node.description, operation)
                }
            )
        }
    }

    /// The server as messages name it: its address, and under Sentinel the
    /// master the sentinels named.
    var address: String {
        guard let master else { return configuration.address }
        return "\(configuration.address) (master \(master))"
    }

    func urlKey(_ key: String) -> [UInt8] { urlKeyPrefix + Array(key.utf8) }
    func urlKey(bytes key: [UInt8]) -> [UInt8] { urlKeyPrefix + key }

    func close() {
        connection = nil
        cluster?.close()
        isClosed = true
    }

    private static let multi = [Array("MULTI".utf8)]
    private static let exec = [Array("EXEC".utf8)]

    /// A call's commands, sent in one write, and what to make of their
    /// replies: sent by the store's thread (``perform(_:_:afterBreak:)``) or,
    /// by `RedisStorage`, on the caller's thread.
    struct Request<Result>: Sendable {
        /// The commands, in the order they are written.
        let commands: [[[UInt8]]]
        /// What an error says was being sent.
        let name: String
        /// The call's result, from the replies of `commands`; an error reply
        /// is thrown as a ``TusError``. Reads nothing from the connection.
        let interpret: @Sendable ([RedisReply], Operation) throws -> Result
    }

    /// Sends a command given as text words.
    func run(_ words: [String], _ operation: Operation) throws -> RedisReply {
        try run(words.map { Array($0.utf8) }, operation)
    }

    /// Sends a command, connecting first when needed. When the connection
    /// breaks (EOF or an I/O error other than a timeout), reconnects once and
    /// sends the command once more. An error reply is thrown as a
    /// ``TusError``.
    func run(_ arguments: [[UInt8]], _ operation: Operation) throws -> RedisReply {
        try perform(command(arguments), operation)
    }

    /// One command, whose error reply is thrown as a ``TusError``; `name`
    /// is what messages call it (by default its first word, in capitals).
    func command(_ arguments: [[UInt8]], name: String? = nil) -> Request<RedisReply> {
        let name = name ?? Self.name(of: arguments)
        return Request(commands: [arguments], name: name) { replies, operation in
            if case .error(let text) = replies[0] {
                throw self.replyFailure(text, from: name, operation)
            }
            return replies[0]
        }
    }

    /// Sends `request`'s commands, connecting first when needed (see
    /// ``send(_:name:_:afterBreak:)``), and reads its result.
    func perform<Result>(_ request: Request<Result>, _ operation: Operation, afterBreak: RedisError? = nil) throws -> Result {
        try request.interpret(send(request.commands, name: request.name, operation, afterBreak: afterBreak), operation)
    }

    /// A command's name, as messages show it.
    private static func name(of command: [[UInt8]]) -> String {
        String(decoding: command[0], as: UTF8.self).uppercased()
    }

    /// Runs `commands` as one `MULTI`/`EXEC` transaction, sent in one write:
    /// Redis runs them together, with no other client's command in between.
    /// Returns their replies; an error reply of any of them is thrown.
    ///
    /// With ``RedisStorage/Configuration/waitReplicas``, a `WAIT` follows in
    /// the same write, and the change counts as made only when enough
    /// replicas acknowledged it in time; otherwise it throws
    /// `TusError.Code.unavailable`.
    func transaction(_ commands: [[[UInt8]]], _ operation: Operation) throws -> [RedisReply] {
        try perform(transactionRequest(commands), operation)
    }

    /// The request of ``transaction(_:_:)``.
    func transactionRequest(_ commands: [[[UInt8]]]) -> Request<[RedisReply]> {
        let waits = configuration.waitReplicas > 0
        var pipeline = [Self.multi] + commands + [Self.exec]
        if waits {
            let milliseconds = max(1, Int((configuration.waitTimeout * 1000).rounded(.up)))
            pipeline.append([Array("WAIT".utf8), Array(String(configuration.waitReplicas).utf8), Array(String(milliseconds).utf8)])
        }
        return Request(commands: pipeline, name: "MULTI") { replies, operation in
            var replies = replies
            let waited = waits ? replies.removeLast() : nil
            let results = try self.transactionResults(replies, of: commands, operation)
            if let waited { try self.checkReplicas(waited, operation) }
            return results
        }
    }

    /// The results of a transaction's commands, from the replies to `MULTI`,
    /// each command and `EXEC`; an error reply of any of them is thrown.
    private func transactionResults(_ replies: [RedisReply], of commands: [[[UInt8]]], _ operation: Operation) throws -> [RedisReply] {
        for (index, reply) in replies.dropLast().enumerated() {
            if case .error(let text) = reply {
                throw replyFailure(text, from: index == 0 ? "MULTI" : Self.name(of: commands[index - 1]), operation)
            }
        }
        switch replies[replies.count - 1] {
        case .array(let results) where results.count == commands.count:
            for (command, result) in zip(commands, results) {
                if case .error(let text) = result { throw replyFailure(text, from: Self.name(of: command), operation) }
            }
            return results
        case .error(let text):
            throw replyFailure(text, from: "EXEC", operation)
        case let reply:
            throw unexpected(reply, from: "EXEC", expected: "an array of \(commands.count)", operation)
        }
    }

    /// Checks the reply of `WAIT`: as many replicas as configured
    /// acknowledged the change.
    private func checkReplicas(_ reply: RedisReply, _ operation: Operation) throws {
        let wanted = configuration.waitReplicas
        switch reply {
        case .integer(let acknowledged) where acknowledged >= wanted:
            return
        case .integer(let acknowledged):
            let replicas = wanted == 1 ? "replica" : "replicas"
            throw TusError(
                .unavailable,
                "cannot \(operation): Redis at \(address) made the change, but only \(acknowledged) of the \(wanted) \(replicas) it must wait for acknowledged it within \(Self.seconds(configuration.waitTimeout)); it is not counted as stored, since it may be lost if the master fails now; check the master's replicas (INFO replication) or lower wait",
                cause: RedisError(code: RedisError.reply, message: "WAIT answered \(acknowledged)", command: "WAIT")
            )
        case .error(let text):
            throw replyFailure(text, from: "WAIT", operation)
        default:
            throw unexpected(reply, from: "WAIT", expected: "an integer", operation)
        }
    }

    /// Sends `commands` in one write and reads their replies. When the
    /// connection turns out broken, connects again once and sends them once
    /// more: every command the store sends can safely be repeated.
    ///
    /// `afterBreak`: the commands were sent on the caller's thread and the
    /// connection broke with this error (it is dropped already); this send
    /// is the one more time, and under Sentinel the start of following a
    /// failover.
    private func send(
        _ commands: [[[UInt8]]], name: @autoclosure () -> String, _ operation: Operation, afterBreak: RedisError? = nil
    ) throws -> [RedisReply] {
        if let cluster {
            // Every key of the store is in one slot; a command without a key
            // (PING) goes to that slot's master too.
            assert(commands.allSatisfy { ClusterSlots.key(of: $0).map(ClusterSlots.slot(of:)) ?? slot == slot })
            do {
                return try cluster.pipeline(commands, slot: slot, name: name(), operation)
            } catch let error as RedisError {
                throw failure(error, operation, lostTwice: true)
            }
        }
        if let sentinel = configuration.sentinel {
            return try sendFollowingFailover(commands, name: name(), sentinel, operation, afterBreak: afterBreak)
        }
        var attempt = 1
        if afterBreak != nil {
            logger.debug("the connection to Redis broke; connecting again", metadata: [
                "tus.store.backend": "RedisStorage", "tus.store.address": "\(address)",
                "tus.store.operation": "\(operation)",
            ])
            attempt = 2
        }
        while true {
            let connection = try connected(operation)
            do {
                return try connection.pipeline(commands, name: name())
            } catch {
                self.connection = nil
                if attempt == 1, isBroken(error) {
                    logger.debug("the connection to Redis broke; connecting again", metadata: [
                        "tus.store.backend": "RedisStorage", "tus.store.address": "\(address)",
                        "tus.store.operation": "\(operation)",
                    ])
                    attempt += 1
                    continue
                }
                throw failure(error, operation, lostTwice: attempt > 1)
            }
        }
    }

    func eval(_ script: String, keys: [[UInt8]], arguments: [[UInt8]], _ operation: Operation) throws -> RedisReply {
        var command: [[UInt8]] = [Array("EVAL".utf8), Array(script.utf8), Array(String(keys.count).utf8)]
        command.append(contentsOf: keys)
        command.append(contentsOf: arguments)
        return try run(command, operation)
    }

    /// Reads `[member, score, member, score, ...]`, the reply of `ZRANGE ...
    /// WITHSCORES`.
    func indexMembers(_ arguments: [[UInt8]], _ operation: Operation) throws -> [(member: [UInt8], score: Double)] {
        let reply = try run(arguments, operation)
        let name = String(decoding: arguments[0], as: UTF8.self)
        guard case .array(let items) = reply, items.count % 2 == 0 else {
            throw unexpected(reply, from: name, expected: "an array of members and scores", operation)
        }
        var members: [(member: [UInt8], score: Double)] = []
        members.reserveCapacity(items.count / 2)
        var index = 0
        while index < items.count {
            guard case .string(let member) = items[index], case .string(let scoreText) = items[index + 1],
                  let score = Double(String(decoding: scoreText, as: UTF8.self)) else {
                throw unexpected(reply, from: name, expected: "members and scores", operation)
            }
            members.append((member, score))
            index += 2
        }
        return members
    }

    func unexpected(_ reply: RedisReply, from command: String, expected: String, _ operation: Operation) -> TusError {
        TusError(
            .protocolViolation,
            "cannot \(operation): Redis at \(address) answered \(command) with \(reply.kind), expected \(expected)"
        )
    }

    // MARK: Connecting

    /// The open connection, or a new one, logged in and on the database.
    ///
    /// Under Sentinel, the server is the master the sentinels name, and a
    /// failure to reach it or log in is thrown as the ``RedisError`` it is,
    /// for ``sendFollowingFailover(_:name:_:_:)`` to try again.
    func connected(_ operation: Operation) throws -> RedisConnection {
        if let connection { return connection }
        let (host, port) = try target(operation)
        let connection = try login(host: host, port: port, shownAs: address, operation)
        if sentinelResolver != nil { try confirmMaster(connection, operation) }
        self.connection = connection
        return connection
    }

    /// A new connection to `host:port`, logged in and on the database;
    /// messages name the server as `shown`. Under Sentinel, a failure is
    /// thrown as the ``RedisError`` it is.
    private func login(
        host: String, port: Int, shownAs address: String, _ operation: any CustomStringConvertible
    ) throws -> RedisConnection {
        let connection: RedisConnection
        do {
            connection = try RedisConnection(
                host: host,
                port: port,
                connectTimeout: configuration.connectTimeout,
                commandTimeout: configuration.commandTimeout
            )
        } catch {
            if sentinelResolver != nil { throw error }
            let timeLimit = error.message.localizedCaseInsensitiveContains("timed out")
                ? " within \(Self.seconds(configuration.connectTimeout))" : ""
            throw TusError(
                .connectionFailed,
                "cannot \(operation): cannot connect to Redis at \(address)\(timeLimit): \(error.message)",
                cause: error
            )
        }

        if let password = configuration.password {
            var arguments = [Array("AUTH".utf8)]
            if let username = configuration.username { arguments.append(Array(username.utf8)) }
            arguments.append(Array(password.utf8))
            let reply: RedisReply
            do {
                reply = try connection.command(arguments, name: "AUTH")
            } catch {
                throw sentinelResolver != nil ? error : failure(error, operation, lostTwice: true, shownAs: address)
            }
            if case .error(let text) = reply {
                let who = configuration.username.map { "the user name \($0.debugDescription) or its password is wrong" }
                    ?? "wrong password"
                let why = text.hasPrefix("WRONGPASS") || text.localizedCaseInsensitiveContains("invalid password")
                    ? who : "the server refused the credentials"
                throw TusError(
                    .authenticationFailed,
                    "cannot \(operation): Redis at \(address) refused to log in: \(why) (\(text))",
                    cause: RedisError(code: RedisError.reply, message: text, command: "AUTH")
                )
            }
        }

        if configuration.database != 0 {
            let reply: RedisReply
            do {
                reply = try connection.command(
                    [Array("SELECT".utf8), Array(String(configuration.database).utf8)], name: "SELECT"
                )
            } catch {
                throw sentinelResolver != nil ? error : failure(error, operation, lostTwice: true, shownAs: address)
            }
            if case .error(let text) = reply {
                if text.hasPrefix("NOAUTH") { throw replyFailure(text, from: "SELECT", operation) }
                throw TusError(
                    .invalidArgument,
                    "cannot \(operation): Redis at \(address) cannot select database \(configuration.database): \(text)",
                    cause: RedisError(code: RedisError.reply, message: text, command: "SELECT")
                )
            }
        }
        return connection
    }

    /// Where to connect: the configured server, or the master the sentinels
    /// name.
    private func target(_ operation: Operation) throws -> (host: String, port: Int) {
        guard var resolver = sentinelResolver else { return (configuration.host, configuration.port) }
        defer { sentinelResolver = resolver }
        let found = try resolver.master(operation)
        master = SentinelResolver.shown(host: found.host, port: found.port)
        return found
    }

    // MARK: Errors

    /// A timeout: hiredis reports an expired `SO_RCVTIMEO`/`SO_SNDTIMEO` as
    /// an I/O error with `EAGAIN`.
    func isTimeout(_ error: RedisError) -> Bool {
        error.code == RedisError.io && (error.systemErrno == EAGAIN || error.systemErrno == EWOULDBLOCK
            || error.systemErrno == ETIMEDOUT)
    }

    /// A connection the server closed or that broke, worth one new attempt.
    func isBroken(_ error: RedisError) -> Bool {
        error.code == RedisError.eof || (error.code == RedisError.io && !isTimeout(error))
    }

    func failure(
        _ error: RedisError, _ operation: any CustomStringConvertible, lostTwice: Bool, shownAs node: String? = nil
    ) -> TusError {
        let address = node ?? address
        if isTimeout(error) {
            return TusError(
                .timeout,
                "cannot \(operation): Redis at \(address) did not answer \(error.command) within \(Self.seconds(configuration.commandTimeout))",
                cause: error
            )
        }
        switch error.code {
        case RedisError.eof, RedisError.io:
            let again = lostTwice ? "lost the connection to Redis at \(address)" : "the connection to Redis at \(address) broke"
            return TusError(.connectionFailed, "cannot \(operation): \(again) during \(error.command): \(error.message)", cause: error)
        case RedisError.protocolError:
            return TusError(
                .protocolViolation,
                "cannot \(operation): Redis at \(address) answered \(error.command) with data that is not RESP: \(error.message)",
                cause: error
            )
        default:
            return TusError(.unavailable, "cannot \(operation): \(error.command) to Redis at \(address) failed: \(error.message)", cause: error)
        }
    }

    func replyFailure(_ text: String, from command: String, _ operation: any CustomStringConvertible) -> TusError {
        let cause = RedisError(code: RedisError.reply, message: text, command: command)
        if text.hasPrefix("NOAUTH") {
            return TusError(
                .authenticationFailed,
                "cannot \(operation): Redis at \(address) requires a password and none was given; write it as \(configuration.clusterNodes == nil ? "redis" : "redis-cluster")://:password@host (\(text))",
                cause: cause
            )
        }
        if text.hasPrefix("WRONGPASS") {
            return TusError(.authenticationFailed, "cannot \(operation): Redis at \(address) refused the credentials (\(text))", cause: cause)
        }
        if text.hasPrefix("OOM") {
            return TusError(
                .unavailable,
                "cannot \(operation): Redis at \(address) is out of memory and refuses writes (maxmemory is reached and its policy evicts nothing); free memory there or raise maxmemory, and try again; what was stored before is kept (\(text))",
                cause: cause
            )
        }
        if text.hasPrefix("READONLY") {
            return TusError(
                .unavailable,
                "cannot \(operation): Redis at \(address) is a read-only replica and refuses writes; point the store at the primary server; what was stored before is kept (\(text))",
                cause: cause
            )
        }
        if text.hasPrefix("WRONGTYPE") {
            return TusError(
                .corruptStore,
                "cannot \(operation): a key under the prefix \(configuration.keyPrefix.debugDescription) in Redis at \(address) holds another kind of value; it was left unchanged (\(text))",
                cause: cause
            )
        }
        return TusError(.unavailable, "cannot \(operation): Redis at \(address) answered \(command) with an error: \(text)", cause: cause)
    }

    static func seconds(_ value: TimeInterval) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

extension Session.Request {
    /// The same commands, with `transform` applied to the result (on the
    /// same thread, before the connection goes to another call).
    func map<Other>(_ transform: @escaping @Sendable (Result, Operation) throws -> Other) -> Session.Request<Other> {
        let interpret = interpret
        return Session.Request<Other>(commands: commands, name: name) { replies, operation in
            try transform(interpret(replies, operation), operation)
        }
    }
}
