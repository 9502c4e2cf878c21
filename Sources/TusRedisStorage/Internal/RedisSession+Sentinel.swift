import Foundation
import TusCore

/// How a session under Redis Sentinel follows the master: it asks the
/// sentinels where the master is, checks that the server there is the
/// master, and when the master goes away asks again and sends the commands
/// again, for at most the configured failover timeout.
extension Session {
    /// Sends `commands` in one write to the master and reads their replies.
    ///
    /// When the connection cannot be made or breaks, a command times out,
    /// the server is not the master (`ROLE`) or refuses a write as a replica
    /// (`READONLY`), drops the connection, asks the sentinels again and sends
    /// the commands again, pausing 100 ms between attempts, until
    /// ``RedisStorage/Configuration/Sentinel/failoverTimeout`` has passed
    /// since the first failure; then throws `TusError.Code.unavailable`
    /// naming the master and the sentinels, with the last failure. Every
    /// command the store sends can safely be repeated.
    ///
    /// The sentinels all unreachable, or knowing no master of that name, is
    /// thrown at once: there is no master to wait for.
    ///
    /// `afterBreak`: the commands were sent on the caller's thread and the
    /// connection failed there with this error (it is dropped already); this
    /// begins as after any failure, asking the sentinels again after the
    /// pause.
    func sendFollowingFailover(
        _ commands: [[[UInt8]]], name: @autoclosure () -> String,
        _ sentinel: RedisStorage.Configuration.Sentinel, _ operation: Operation, afterBreak: RedisError? = nil
    ) throws -> [RedisReply] {
        var giveUpAt: Date?
        var lastFailure: String
        var lastCause: RedisError?
        var broken = afterBreak
        while true {
            if let error = broken {
                broken = nil
                lastFailure = describe(error)
                lastCause = error
            } else { do {
                let connection = try connected(operation)
                let replies = try connection.pipeline(commands, name: name())
                guard let refusal = Self.readOnlyRefusal(in: replies) else {
                    if giveUpAt != nil {
                        logger.debug("reached the master the sentinels name", metadata: [
                            "tus.store.backend": "RedisStorage", "tus.store.address": "\(address)",
                        ])
                    }
                    return replies
                }
                self.connection = nil
                lastFailure = "the server at \(master ?? "?") refused a write as a replica (\(refusal))"
                lastCause = RedisError(code: RedisError.reply, message: refusal, command: name())
            } catch let error as RedisError {
                self.connection = nil
                if error.code == RedisError.protocolError { throw failure(error, operation, lostTwice: false) }
                lastFailure = describe(error)
                lastCause = error
            } catch let error as NotTheMaster {
                self.connection = nil
                lastFailure = error.description
                lastCause = nil
            } }
            let now = Date()
            if giveUpAt == nil {
                logger.debug("the master cannot be reached; asking the sentinels again until it can", metadata: [
                    "tus.store.backend": "RedisStorage", "tus.store.address": "\(address)",
                    "tus.store.operation": "\(operation)", "tus.reason": "\(lastFailure)",
                ])
            }
            let deadline = giveUpAt ?? now.addingTimeInterval(sentinel.failoverTimeout)
            giveUpAt = deadline
            guard now < deadline else {
                let sentinels = sentinel.sentinels.map(\.description).joined(separator: ", ")
                throw TusError(
                    .unavailable,
                    "cannot \(operation): the master \(sentinel.masterName.debugDescription) of the sentinels \(sentinels) could not be reached within \(Self.seconds(sentinel.failoverTimeout)) (failover_timeout): \(lastFailure)",
                    cause: lastCause
                )
            }
            // This runs on the store's own thread, never on a thread of
            // Swift concurrency's pool.
            Thread.sleep(forTimeInterval: min(0.1, deadline.timeIntervalSince(now)))
        }
    }

    /// Checks with `ROLE` that the server just connected to is the master:
    /// during a failover the sentinels can still name a server that has
    /// become a replica. A server that refuses `ROLE` (an ACL user without
    /// it) is taken as the master; a write it refuses as a replica is caught
    /// by its `READONLY` answer.
    func confirmMaster(_ connection: RedisConnection, _ operation: Operation) throws {
        let reply = try connection.command([Array("ROLE".utf8)], name: "ROLE")
        guard case .array(let parts) = reply, let first = parts.first else { return }
        let role: String
        switch first {
        case .string(let bytes): role = String(decoding: bytes, as: UTF8.self)
        case .status(let text): role = text
        default: return
        }
        if role != "master" {
            throw NotTheMaster(server: master ?? "?", role: role)
        }
    }

    /// A failure of the connection to the master, in words.
    private func describe(_ error: RedisError) -> String {
        let server = master ?? "?"
        if error.command == "connect" { return "cannot connect to the master at \(server): \(error.message)" }
        if isTimeout(error) {
            return "the master at \(server) did not answer \(error.command) within \(Self.seconds(configuration.commandTimeout))"
        }
        return "the connection to the master at \(server) broke during \(error.command): \(error.message)"
    }

    /// The text of a `READONLY` error among `replies`, the answer of a
    /// replica to a write (`EXEC` then fails with `EXECABORT`).
    static func readOnlyRefusal(in replies: [RedisReply]) -> String? {
        for reply in replies {
            if case .error(let text) = reply, text.hasPrefix("READONLY") { return text }
        }
        return nil
    }
}

/// The server the sentinels named is not, or no longer, the master.
struct NotTheMaster: Error, CustomStringConvertible {
    var server: String
    var role: String

    var description: String {
        "the server at \(server) the sentinels named is a \(role == "slave" ? "replica" : role), not the master"
    }
}
