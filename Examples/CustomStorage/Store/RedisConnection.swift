import Foundation
import TusCore

#if canImport(Glibc)
import Glibc
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
import Darwin
private let streamSocket = SOCK_STREAM
#endif

// MARK: A minimal Redis client

/// One connection to Redis, speaking RESP: commands go out as arrays of bulk
/// strings; replies are read as simple strings, errors, integers or bulk
/// strings. Blocking, and used by one owner at a time (the actor above).
public final class RedisConnection: @unchecked Sendable {
    /// `redis://host:port`, for messages.
    public let address: String
    private var descriptor: Int32 = -1
    private var buffer: [UInt8] = []

    /// Connects to `redis://HOST:PORT`; every later read or write gives up
    /// after 5 seconds.
    /// Connects to `url`, `redis://HOST:PORT`.
    public init(url: String) throws {
        guard let parts = URLComponents(string: url), parts.scheme == "redis", let host = parts.host, !host.isEmpty else {
            throw TusError(.invalidArgument, "--redis must look like redis://HOST:PORT, not \(url)")
        }
        let port = parts.port ?? 6379
        address = "redis://\(host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = streamSocket
        var addresses: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &addresses) == 0 else {
            throw TusError(.connectionFailed, "cannot connect to \(address): unknown host \(host)")
        }
        defer { freeaddrinfo(addresses) }
        var reason = "no address"
        var next = addresses
        while let info = next?.pointee, descriptor < 0 {
            next = info.ai_next
            let candidate = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(candidate, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(candidate, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if connect(candidate, info.ai_addr, info.ai_addrlen) == 0 {
                descriptor = candidate
            } else {
                reason = String(cString: strerror(errno))
                close(candidate)
            }
        }
        guard descriptor >= 0 else {
            throw TusError(.connectionFailed, "cannot connect to \(address): \(reason)")
        }
    }

    /// Sends one command and returns its reply: the text of a string or
    /// integer reply, `nil` for a missing value. A Redis error is thrown.
    @discardableResult
    public func command(_ words: String...) throws -> String? {
        var request = "*\(words.count)\r\n"
        for word in words { request += "$\(word.utf8.count)\r\n\(word)\r\n" }
        var bytes = Array(request.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard sent > 0 else { throw failure("cannot send \(words[0]) to \(address)") }
            bytes = bytes.dropFirst(sent)
        }
        let line = try readLine()
        switch line.first {
        case "+", ":": return String(line.dropFirst())
        case "-": throw TusError(.unavailable, "\(address) refused \(words[0]): \(line.dropFirst())")
        case "$":
            guard let length = Int(line.dropFirst()), length >= 0 else { return nil }
            try fill(length + 2)
            defer { buffer.removeFirst(length + 2) }
            return String(decoding: buffer[..<length], as: UTF8.self)
        default:
            throw TusError(.protocolViolation, "\(address) sent a reply this client does not read: \(line)")
        }
    }

    /// Reads one line, without its CRLF.
    private func readLine() throws -> String {
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                defer { buffer.removeFirst(end + 1) }
                return String(decoding: buffer[..<end], as: UTF8.self).trimmingCharacters(in: ["\r"])
            }
            try fill(buffer.count + 1)
        }
    }

    /// Reads until the buffer holds at least `count` bytes.
    private func fill(_ count: Int) throws {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.count < count {
            let received = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if received == 0 { throw TusError(.connectionFailed, "\(address) closed the connection") }
            guard received > 0 else { throw failure("no reply from \(address)") }
            buffer += chunk[..<received]
        }
    }

    private func failure(_ what: String) -> TusError {
        let reason = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : String(cString: strerror(errno))
        return TusError(.connectionFailed, "\(what): \(reason)")
    }

    /// Closes the connection.
    /// Closes the connection.
    public func disconnect() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    deinit { disconnect() }
}
