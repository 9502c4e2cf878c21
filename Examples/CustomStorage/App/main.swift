// A custom store: the tuspy documentation's Redis example, in Swift.
//
//   swift run custom-storage [FILE] [--redis redis://HOST:PORT] [--endpoint URL]
//
// Any type with `url(forKey:)`, `setURL(_:forKey:)` and `removeURL(forKey:)`
// is a `Storage`. This one keeps upload URLs in Redis under `tuspy:<key>`,
// as the tuspy example does, over a small Redis client written with plain
// sockets, both in ../Store. (The package's own `TusRedisStorage` is the
// complete one.)
//
// It connects to Redis (by default redis://127.0.0.1:6379), uploads FILE (by
// default a 4 MiB sample file it makes) with the store, and shows the URL the
// store kept. Without --endpoint it starts a development tus server
// in-process; the server and the sample file are temporary.
import ExampleSupport
import Foundation
import TusClient
import TusCore
import RedisURLStorageExample

func run(_ arguments: ExampleArguments, scratch: URL) async throws {
    // Use the custom store.
    let redis = try RedisConnection(url: arguments.redis ?? "redis://127.0.0.1:6379")
    print("Connected to \(redis.address)")
    let storage = RedisURLStorage(redis: redis)

    let file = try fileToUpload(arguments.file, scratch: scratch)

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
await runExample("custom-storage", usage: "[FILE] [--redis redis://HOST:PORT] [--endpoint URL]", options: [.redis], run)
