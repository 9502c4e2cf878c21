import CTusHiredis
import Foundation

/// A reply of the server, copied out of hiredis's `redisReply`.
enum RedisReply {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    /// What the reply is, for messages: "a string", "an error", ...
    var kind: String {
        switch self {
        case .string: "a string"
        case .status: "a status"
        case .integer: "an integer"
        case .array: "an array"
        case .null: "nil"
        case .error: "an error"
        }
    }
}

/// One blocking hiredis connection: a `redisContext` and nothing else.
///
/// A `redisContext` is not thread-safe, so this type is not `Sendable`: the
/// store's session, guarded by the store's lock, owns it. After any failed command (a `RedisError`
/// thrown, not an error reply) the context is unusable and the owner drops
/// it.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects to `host:port` within `connectTimeout` seconds and sets the
    /// read and write timeout of every later command to `commandTimeout`
    /// seconds.
    init(host: String, port: Int, connectTimeout: TimeInterval, commandTimeout: TimeInterval) throws(RedisError) {
        guard let context = redisConnectWithTimeout(host, Int32(port), Self.makeTimeval(connectTimeout)) else {
            throw RedisError(code: RedisError.outOfMemory, message: "cannot allocate a hiredis context", command: "connect")
        }
        if context.pointee.err != 0 {
            let error = RedisError(
                code: context.pointee.err,
                message: String(cString: tus_redis_errstr(context)),
                command: "connect"
            )
            redisFree(context)
            throw error
        }
        tus_redis_prepare_socket(context)
        if redisSetTimeout(context, Self.makeTimeval(commandTimeout)) != REDIS_OK {
            let number = errno
            redisFree(context)
            throw RedisError(
                code: RedisError.io,
                systemErrno: number,
                message: "cannot set the command timeout: \(String(cString: strerror(number)))",
                command: "connect"
            )
        }
        self.context = context
    }

    deinit {
        redisFree(context)
    }

    /// Sends one command and waits for its reply.
    func command(_ arguments: [[UInt8]], name: String) throws(RedisError) -> RedisReply {
        try pipeline([arguments], name: name)[0]
    }

    /// Sends `commands` in one write and waits for their replies, in order:
    /// one round trip however many commands there are. `name` is what an
    /// error says was being sent.
    ///
    /// An error reply of the server is returned as ``RedisReply/error(_:)``;
    /// a failure of the connection itself (I/O error, timeout, EOF, bad
    /// protocol) is thrown.
    func pipeline(_ commands: [[[UInt8]]], name: @autoclosure () -> String) throws(RedisError) -> [RedisReply] {
        precondition(!commands.isEmpty && commands.allSatisfy { !$0.isEmpty })
        let bytes = Self.encoded(commands)
        var errorNumber: Int32 = 0
        var replies = [UnsafeMutablePointer<redisReply>?](repeating: nil, count: commands.count)
        let status = bytes.withUnsafeBufferPointer { buffer in
            replies.withUnsafeMutableBufferPointer { out in
                buffer.withMemoryRebound(to: CChar.self) { text in
                    tus_redis_roundtrip(context, text.baseAddress, text.count, Int32(commands.count), out.baseAddress, &errorNumber)
                }
            }
        }
        guard status == REDIS_OK else {
            let code = context.pointee.err
            throw RedisError(
                code: code == 0 ? RedisError.other : code,
                systemErrno: code == RedisError.io ? errorNumber : 0,
                message: String(cString: tus_redis_errstr(context)),
                command: name()
            )
        }
        defer { for reply in replies { freeReplyObject(reply) } }
        return replies.map { Self.copy($0!) }
    }

    /// The connection's socket, for a ``ReplyWaiter`` to watch.
    var socket: Int32 { context.pointee.fd }

    /// How a pipeline sent without waiting stands: see ``sendNow(_:name:)`` and
    /// ``readNow(_:)``.
    enum Progress {
        /// Every reply is there.
        case replies([RedisReply])
        /// Sent; the rest of the replies has not come yet: call
        /// ``readNow(_:)`` again once the socket is readable.
        case waiting
        /// Nothing was sent and the connection is as it was: the socket took
        /// nothing (its buffer is full), or the commands are too long to
        /// write without waiting.
        case notSent
        /// Part of the commands was written; the connection can carry no
        /// other command, and is to be dropped.
        case partlySent
        /// The connection failed (an I/O error, EOF, a reply that is not
        /// RESP, or a command only partly written); it is unusable now.
        case failed(RedisError)
    }

    /// Replies read so far of a pipeline sent by ``sendNow(_:name:)``.
    final class Pending {
        let count: Int
        let name: String
        fileprivate var got: Int32 = 0
        fileprivate var replies: [UnsafeMutablePointer<redisReply>?]

        fileprivate init(count: Int, name: String) {
            self.count = count
            self.name = name
            replies = .init(repeating: nil, count: count)
        }

        deinit {
            for index in 0..<Int(got) { freeReplyObject(replies[index]) }
        }
    }

    /// Writes `commands` in one write without waiting, then reads what
    /// replies are there already, without waiting either: for calls made on
    /// the caller's thread, which must never wait on the network. The
    /// `Pending` goes to ``readNow(_:)`` while the result is
    /// ``Progress/waiting``.
    func sendNow(_ commands: [[[UInt8]]], name: String) -> (Progress, Pending) {
        let pending = Pending(count: commands.count, name: name)
        let bytes = Self.encoded(commands)
        guard bytes.count <= Self.largestSentNow else { return (.notSent, pending) }
        var errorNumber: Int32 = 0
        let sent = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { text in
                tus_redis_send_now(context, text.baseAddress, text.count, &errorNumber)
            }
        }
        if sent < 0 { return (.failed(failure(errorNumber, name: name)), pending) }
        if sent == 0 { return (.notSent, pending) }
        if sent < bytes.count { return (.partlySent, pending) }
        return (readNow(pending), pending)
    }

    /// The longest pipeline ``sendNow(_:name:)`` writes, in bytes: far less
    /// than a socket's buffer, so that it goes out whole; a longer one goes
    /// through ``pipeline(_:name:)`` on the store's thread.
    static let largestSentNow = 32 * 1024

    /// Reads what replies of `pending` the socket holds, without waiting.
    func readNow(_ pending: Pending) -> Progress {
        var errorNumber: Int32 = 0
        let status = pending.replies.withUnsafeMutableBufferPointer { out in
            tus_redis_read_now(context, Int32(pending.count), out.baseAddress, &pending.got, &errorNumber)
        }
        switch status {
        case 1:
            let replies = pending.replies.map { Self.copy($0!) }
            for index in 0..<pending.count { freeReplyObject(pending.replies[index]) }
            pending.got = 0
            return .replies(replies)
        case 0:
            return .waiting
        default:
            return .failed(failure(errorNumber, name: pending.name))
        }
    }

    /// The context's error, as a ``RedisError``.
    private func failure(_ errorNumber: Int32, name: String) -> RedisError {
        let code = context.pointee.err
        return RedisError(
            code: code == 0 ? RedisError.other : code,
            systemErrno: code == RedisError.io ? errorNumber : 0,
            message: String(cString: tus_redis_errstr(context)),
            command: name
        )
    }

    /// `commands` in the Redis protocol: each an array of bulk strings,
    /// `*<count>\r\n` then `$<length>\r\n<bytes>\r\n` per argument.
    static func encoded(_ commands: [[[UInt8]]]) -> [UInt8] {
        var size = 0
        for command in commands {
            size += 16
            for argument in command { size += argument.count + 24 }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        // The number's decimal digits, written in place: this runs for every
        // argument of every call.
        func header(_ marker: UInt8, _ number: Int) {
            bytes.append(marker)
            var divisor = 1
            while divisor <= number / 10 { divisor *= 10 }
            var rest = number
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
            bytes.append(13)
            bytes.append(10)
        }
        for command in commands {
            header(UInt8(ascii: "*"), command.count)
            for argument in command {
                header(UInt8(ascii: "$"), argument.count)
                bytes.append(contentsOf: argument)
                bytes.append(13)
                bytes.append(10)
            }
        }
        return bytes
    }

    private static func copy(_ pointer: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = pointer.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .string(bytes(reply.str, reply.len))
        case REDIS_REPLY_STATUS:
            return .status(text(reply.str, reply.len))
        case REDIS_REPLY_ERROR:
            return .error(text(reply.str, reply.len))
        case REDIS_REPLY_INTEGER:
            return .integer(reply.integer)
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(reply.elements)
            for index in 0..<reply.elements {
                if let element = reply.element[index] {
                    elements.append(copy(element))
                } else {
                    elements.append(.null)
                }
            }
            return .array(elements)
        default:
            return .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The reply's text as a `String`, decoded in place (`OK` and `QUEUED`
    /// fit in a string without allocating).
    private static func text(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> String {
        guard let pointer, count > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    private static func makeTimeval(_ seconds: TimeInterval) -> timeval {
        let whole = seconds.rounded(.down)
        let micros = ((seconds - whole) * 1_000_000).rounded()
        return timeval(tv_sec: .init(whole), tv_usec: .init(min(micros, 999_999)))
    }
}

@available(*, unavailable)
extension RedisConnection: Sendable {}
