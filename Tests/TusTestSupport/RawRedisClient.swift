public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal RESP client over a blocking loopback socket, independent of the
/// store under test: it checks that a server answers and inspects the keys
/// the store wrote, as an operator would with redis-cli.
public final class RawRedisClient {
    /// A reply, as RESP2 sends it.
    public enum Reply: Equatable {
        case status(String)
        case error(String)
        case integer(Int)
        case bulk([UInt8]?)
        case array([Reply])

        public var integer: Int? { if case .integer(let value) = self { value } else { nil } }
        public var bytes: [UInt8]? { if case .bulk(let value) = self { value } else { nil } }
        public var string: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
        public var array: [Reply]? { if case .array(let value) = self { value } else { nil } }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public var description: String
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to `127.0.0.1:port`, logs in and selects `database`. Every
    /// read and write gives up after 5 s.
    public init(port: Int, password: String? = nil, database: Int = 0) throws {
        fd = socket(AF_INET, streamSocketType, 0)
        guard fd >= 0 else { throw ClientError(description: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(fd)
            throw ClientError(description: "cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
        if let password {
            let reply = try command(["AUTH", password])
            guard reply == .status("OK") else { throw ClientError(description: "AUTH failed: \(reply)") }
        }
        if database != 0 {
            let reply = try command(["SELECT", String(database)])
            guard reply == .status("OK") else { throw ClientError(description: "SELECT failed: \(reply)") }
        }
    }

    deinit { close(fd) }

    public func command(_ words: [String]) throws -> Reply {
        try command(words.map { Array($0.utf8) })
    }

    public func command(_ arguments: [[UInt8]]) throws -> Reply {
        var request = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            request += Array("$\(argument.count)\r\n".utf8) + argument + Array("\r\n".utf8)
        }
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, noSignalFlag) }
            guard count > 0 else { throw ClientError(description: "send failed: errno \(errno)") }
            sent += count
        }
        return try readReply()
    }

    /// Every key whose name starts with `prefix`, found with `SCAN`.
    public func keys(prefix: String) throws -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try command(["SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let found = parts[1].array else {
                throw ClientError(description: "unexpected SCAN reply \(reply)")
            }
            keys += found.compactMap(\.string)
            cursor = next
        } while cursor != "0"
        return keys
    }

    /// Deletes every key whose name starts with `prefix`.
    public func deleteKeys(prefix: String) throws {
        for key in try keys(prefix: prefix) { _ = try command(["DEL", key]) }
    }

    private func readReply() throws -> Reply {
        let line = try readLine()
        guard let kind = line.first else { throw ClientError(description: "empty reply line") }
        let rest = String(decoding: line.dropFirst(), as: UTF8.self)
        switch kind {
        case UInt8(ascii: "+"): return .status(rest)
        case UInt8(ascii: "-"): return .error(rest)
        case UInt8(ascii: ":"): return .integer(Int(rest) ?? 0)
        case UInt8(ascii: "$"):
            guard let length = Int(rest) else { throw ClientError(description: "bad bulk length \(rest)") }
            if length < 0 { return .bulk(nil) }
            let body = try readBytes(length + 2)
            return .bulk(Array(body.prefix(length)))
        case UInt8(ascii: "*"):
            guard let count = Int(rest) else { throw ClientError(description: "bad array length \(rest)") }
            if count < 0 { return .bulk(nil) }
            return .array(try (0..<count).map { _ in try readReply() })
        default:
            throw ClientError(description: "unknown reply type \(kind)")
        }
    }

    private func readLine() throws -> [UInt8] {
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")), end > 0, buffer[end - 1] == UInt8(ascii: "\r") {
                let line = Array(buffer[..<(end - 1)])
                buffer.removeFirst(end + 1)
                return line
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let bytes = Array(buffer.prefix(count))
        buffer.removeFirst(count)
        return bytes
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw ClientError(description: "the server closed the connection or did not answer (errno \(errno))") }
        buffer += chunk.prefix(count)
    }
}

#if canImport(Glibc)
private let noSignalFlag = Int32(MSG_NOSIGNAL)
#else
private let noSignalFlag: Int32 = 0
#endif
