import Foundation
import TusTestSupport
import Testing
import TusDevServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif


/// Test conveniences over one server.
extension TusDevServer {
    /// Creates an upload and returns its URL.
    func create(
        length: Int?, metadata: String? = "filename YS50eHQ=,filetype dGV4dC9wbGFpbg=="
    ) async throws -> URL {
        var headers: [String: String] = [:]
        if let length { headers["Upload-Length"] = String(length) } else { headers["Upload-Defer-Length"] = "1" }
        if let metadata { headers["Upload-Metadata"] = metadata }
        let response = try await Curl.request("POST", endpoint, headers: headers)
        try #require(response.status == 201, "POST answered \(response.status)")
        let location = try #require(response["location"])
        return try #require(URL(string: location))
    }

    /// Sends one PATCH.
    func patch(
        _ url: URL, offset: Int, _ bytes: Data, headers extra: [String: String] = [:], timeout: Double = 20
    ) async throws -> CurlResult {
        var headers = ["Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream"]
        headers.merge(extra) { $1 }
        return try await Curl.request("PATCH", url, headers: headers, body: bytes, timeout: timeout)
    }

    /// The `Upload-Offset` a HEAD reports, or nil if the HEAD failed.
    func headOffset(_ url: URL) async throws -> Int? {
        let response = try await Curl.request("HEAD", url)
        return response.status == 200 ? response["upload-offset"].flatMap { Int($0) } : nil
    }
}


/// Deterministic bytes of a given size.
func sampleBytes(_ count: Int, seed: UInt8 = 7) -> Data {
    var bytes = [UInt8](repeating: 0, count: count)
    var x = UInt32(seed) &+ 0x9E37_79B9
    for i in 0..<count {
        x ^= x << 13
        x ^= x >> 17
        x ^= x << 5
        bytes[i] = UInt8(truncatingIfNeeded: x)
    }
    return Data(bytes)
}

/// A plain TCP connection to the server, for requests curl will not send:
/// half-sent bodies and garbage.
final class RawConnection {
    private var fd: Int32
    /// Whether ``receiveAll()`` saw the server close the connection (rather
    /// than 5 s pass without data).
    private(set) var closedByServer = false

    init(port: Int) throws {
        #if canImport(Glibc) || canImport(Musl)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close()
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close() }

    func send(_ text: String) { send(Data(text.utf8)) }

    func send(_ data: Data) {
        data.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = sendSocket(fd, raw.baseAddress! + sent, raw.count - sent)
                if n <= 0 { return }
                sent += n
            }
        }
    }

    /// What arrives until the peer closes or 5 s pass without data.
    func receiveAll() -> String {
        var result = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { closedByServer = true }
            if n <= 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: result, as: UTF8.self)
    }

    func close() {
        if fd >= 0 {
            _ = closeSocket(fd)
            fd = -1
        }
    }
}

private func closeSocket(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #elseif canImport(Musl)
    Musl.close(fd)
    #else
    Darwin.close(fd)
    #endif
}

private func sendSocket(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #elseif canImport(Musl)
    Musl.send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    Darwin.send(fd, bytes, count, 0)
    #endif
}
