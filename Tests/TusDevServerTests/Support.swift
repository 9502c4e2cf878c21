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


/// Runs `body` with a fresh server on a free loopback port and a fresh
/// directory, and cleans both up.
func withServer<T>(
    _ configure: (inout TusDevServer.Configuration) -> Void = { _ in },
    _ body: (TusDevServer) async throws -> T
) async throws -> T {
    let directory = try TemporaryFolder()
    var configuration = TusDevServer.Configuration(directory: directory.url.appendingPathComponent("uploads"))
    configure(&configuration)
    return try await TusDevServer.withServer(configuration, body)
}

/// One HTTP exchange made with curl.
struct HTTPResult: Sendable {
    /// The final status; 0 when no response came.
    var status: Int
    /// Header names lowercased; the last value wins.
    var headers: [String: String]
    var body: Data
    /// curl's exit code: 0, 28 (timeout), 52 (empty reply) …
    var exitCode: Int32

    subscript(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A tiny HTTP client over `/usr/bin/curl`.
enum Curl {
    static let path = "/usr/bin/curl"

    /// Sends one request. `Tus-Resumable: 1.0.0` is added unless `tus` is
    /// false; `Expect: 100-continue` is suppressed unless `allowExpect`.
    static func request(
        _ method: String,
        _ url: URL,
        headers: [String: String] = [:],
        body: Data? = nil,
        bodyFile: URL? = nil,
        tus: Bool = true,
        allowExpect: Bool = false,
        timeout: Double = 20
    ) async throws -> HTTPResult {
        let scratch = try TemporaryFolder()
        let headerFile = scratch.url.appendingPathComponent("headers")
        let bodyOut = scratch.url.appendingPathComponent("body")
        var arguments = ["-s", "-D", headerFile.path, "-o", bodyOut.path, "--max-time", String(timeout)]
        if method == "HEAD" {
            arguments.append("-I")
        } else {
            arguments += ["-X", method]
        }
        if tus { arguments += ["-H", "Tus-Resumable: 1.0.0"] }
        if !allowExpect { arguments += ["-H", "Expect:"] }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            arguments += ["-H", value.isEmpty ? "\(name);" : "\(name): \(value)"]
        }
        if let body {
            let file = scratch.url.appendingPathComponent("request")
            try body.write(to: file)
            arguments += ["--data-binary", "@\(file.path)"]
        } else if let bodyFile {
            arguments += ["--data-binary", "@\(bodyFile.path)"]
        }
        arguments.append(url.absoluteString)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exitCode: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        let rawHeaders = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
        var status = 0
        var parsed: [String: String] = [:]
        // Several blocks when a `100 Continue` came first: keep the last.
        for line in rawHeaders.components(separatedBy: "\r\n") {
            if line.hasPrefix("HTTP/") {
                parsed = [:]
                let fields = line.split(separator: " ")
                status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                parsed[name] = value
            }
        }
        let responseBody = (try? Data(contentsOf: bodyOut)) ?? Data()
        return HTTPResult(status: status, headers: parsed, body: responseBody, exitCode: exitCode)
    }
}

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
    ) async throws -> HTTPResult {
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
