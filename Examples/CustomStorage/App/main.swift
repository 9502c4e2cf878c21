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
import RedisURLStorageExample

#if canImport(Glibc)
import Glibc
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
import Darwin
private let streamSocket = SOCK_STREAM
#endif


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
