// A custom store: the tuspy documentation's Redis example, in Swift.
//
//   swift run custom-storage [FILE] [--redis redis://HOST:PORT] [--endpoint URL]
//
// Any type with `url(forKey:)`, `setURL(_:forKey:)` and `removeURL(forKey:)`
// is a `Storage`. This one keeps upload URLs in Redis under `tuspy:<key>`,
// as the tuspy example does, over a small Redis client written below with
// plain sockets. (The package's own `TusRedisStorage` is the complete one.)
//
// It connects to Redis (by default redis://127.0.0.1:6379), uploads FILE (by
// default a 4 MiB sample file it makes) with the store, and shows the URL the
// store kept. Without --endpoint it starts a development tus server
// in-process; the server and the sample file are temporary.
import Foundation
import TusClient
import TusCore
import TusDevServer

#if canImport(Glibc)
import Glibc
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
import Darwin
private let streamSocket = SOCK_STREAM
#endif

// MARK: The custom store

/// Upload URLs in Redis, each under `tuspy:<key>`.
actor RedisURLStorage: Storage {
    private let redis: RedisConnection

    init(redis: RedisConnection) {
        self.redis = redis
    }

    func url(forKey key: String) throws -> String? {
        try redis.command("GET", "tuspy:\(key)")
    }

    func setURL(_ url: String, forKey key: String) throws {
        try redis.command("SET", "tuspy:\(key)", url)
    }

    func removeURL(forKey key: String) throws {
        try redis.command("DEL", "tuspy:\(key)")
    }

    func close() {
        redis.disconnect()
    }
}

// MARK: A minimal Redis client

/// One connection to Redis, speaking RESP: commands go out as arrays of bulk
/// strings; replies are read as simple strings, errors, integers or bulk
/// strings. Blocking, and used by one owner at a time (the actor above).
final class RedisConnection {
    let address: String
    private var descriptor: Int32 = -1
    private var buffer: [UInt8] = []

    /// Connects to `redis://HOST:PORT`; every later read or write gives up
    /// after 5 seconds.
    init(url: String) throws {
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
    func command(_ words: String...) throws -> String? {
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
    func disconnect() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    deinit { disconnect() }
}

// MARK: Using it

/// The command line: `[FILE] [--redis URL] [--endpoint URL]`.
struct Arguments {
    var file: String?
    var endpoint: URL?
    var redis = "redis://127.0.0.1:6379"

    init(_ words: [String]) throws {
        var words = words[...]
        while let word = words.popFirst() {
            switch word {
            case "--endpoint":
                guard let text = words.popFirst(), let url = URL(string: text), url.scheme != nil else {
                    throw TusError(.invalidArgument, "--endpoint needs a URL, such as http://127.0.0.1:1080/files/")
                }
                endpoint = url
            case "--redis":
                guard let url = words.popFirst() else { throw TusError(.invalidArgument, "--redis needs a URL, such as redis://127.0.0.1:6379") }
                redis = url
            case _ where word.hasPrefix("-"):
                throw TusError(.invalidArgument, "unknown option \(word); usage: custom-storage [FILE] [--redis redis://HOST:PORT] [--endpoint URL]")
            default:
                file = word
            }
        }
    }
}

/// A sample file of `size` bytes, the same bytes every time.
func makeSampleFile(at path: String, size: Int) throws {
    var state: UInt32 = 2_463_534_242
    var bytes = [UInt8](repeating: 0, count: size)
    for index in bytes.indices {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Runs `body` with the tus endpoint to use: the one given, or that of a
/// development server started for the occasion and shut down afterwards.
func withEndpoint(_ given: URL?, scratch: URL, _ body: (URL) async throws -> Void) async throws {
    if let given { return try await body(given) }
    let configuration = TusDevServer.Configuration(directory: scratch.appendingPathComponent("server"))
    try await TusDevServer.withServer(configuration) { server in
        print("Started a development tus server at \(server.endpoint)")
        try await body(server.endpoint)
    }
}

func run(_ arguments: Arguments, scratch: URL) async throws {
    // Use the custom store.
    let redis = try RedisConnection(url: arguments.redis)
    print("Connected to \(redis.address)")
    let storage = RedisURLStorage(redis: redis)

    let file: String
    if let given = arguments.file {
        file = given
    } else {
        file = scratch.appendingPathComponent("sample.bin").path
        try makeSampleFile(at: file, size: 4 << 20)
        print("Made a sample file of 4 MiB: \(file)")
    }

    try await withStorage(storage) { storage in
        try await withEndpoint(arguments.endpoint, scratch: scratch) { endpoint in
            let client = TusClient(url: endpoint)
            var options = UploadOptions()
            options.storage = storage
            // Keep the URL after the upload, to look at it below.
            options.keepsURLAfterSuccess = true
            let uploader = try await client.uploader(forFileAtPath: file, options: options)
            print("Uploading \(file) (\(uploader.size ?? 0) bytes) to \(endpoint)")
            let url = try await uploader.upload()
            print("Upload URL: \(url.absoluteString)")

            // What the store kept, read back from Redis, then removed.
            guard let key = uploader.key else { return }
            print("Redis holds tuspy:\(key) = \(try await storage.url(forKey: key) ?? "nothing")")
            try await storage.removeURL(forKey: key)
            print("Removed tuspy:\(key); Redis now holds \(try await storage.url(forKey: key) ?? "nothing") there")
        }
    }
}

// Every failure ends in one line on standard error and status 2. Temporary
// files (and the server) are removed either way.
signal(SIGPIPE, SIG_IGN)  // a closed Redis connection is an error, not a signal
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tus-custom-storage-\(getpid())")
var status: Int32 = 0
do {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    try await run(arguments, scratch: scratch)
} catch let error as TusError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    status = 2
} catch {
    FileHandle.standardError.write(Data("error: \(error.localizedDescription)\n".utf8))
    status = 2
}
try? FileManager.default.removeItem(at: scratch)
exit(status)
