// A custom fingerprint: the tuspy documentation's SHA-256 example, in Swift.
//
//   swift run custom-fingerprint [FILE] [--endpoint URL] [--store STORE.json]
//
// The fingerprint of a file is the key its upload URL is stored under. Any
// type with one method, `fingerprint(of:)`, is a `Fingerprint`; this one is
// `size:<bytes>--sha256:<hex SHA-256 of the first 64 KiB>`, as in the tuspy
// example. (`TusFingerprints` ships the same one, `SHA256Fingerprint`.)
//
// It uploads FILE (by default a 4 MiB sample file it makes) with a JSON store
// and the custom fingerprint, and prints the key and the upload URL. Without
// --endpoint it starts a development tus server in-process and uses a store
// in a temporary folder; both are gone when it ends.
import Crypto
import ExampleSupport
import Foundation
import TusClient
import TusCore
import TusFileStorage

// MARK: The custom fingerprint

/// `size:<bytes>--sha256:<hex>`, hashing the whole of a small file and the
/// first 64 KiB of a large one.
struct SHA256Fingerprint: Fingerprint {
    func fingerprint(of source: inout FingerprintSource) throws -> String {
        let content = try source.read(upToCount: 65_536)
        let digest = SHA256.hash(data: content)
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        return "size:\(source.size)--sha256:\(hex)"
    }
}

// MARK: Using it

func run(_ arguments: ExampleArguments, scratch: URL) async throws {
    let file = try fileToUpload(arguments.file, scratch: scratch)
    let storePath = arguments.store
        ?? (arguments.endpoint == nil ? scratch.appendingPathComponent("tus_uploads.json").path : FileStorage.defaultPath)

    try await withEndpoint(arguments.endpoint, scratch: scratch) { endpoint in
        try await withStorage(try FileStorage(path: storePath)) { storage in
            // Use the custom fingerprint.
            let client = TusClient(url: endpoint)
            var options = UploadOptions()
            options.storage = storage
            options.fingerprint = SHA256Fingerprint()
            let uploader = try await client.uploader(forFileAtPath: file, options: options)
            print("Fingerprint of \(file): \(uploader.key ?? "none")")
            print("Uploading \(uploader.size ?? 0) bytes to \(endpoint), keeping the URL under that key in \(storage.path)")
            let url = try await uploader.upload()
            print("Upload URL: \(url.absoluteString)")
        }
    }
}

// Every failure ends in one line on standard error and status 2. Temporary
// files (and the server) are removed either way.
await runExample("custom-fingerprint", usage: "[FILE] [--endpoint URL] [--store STORE.json]", options: [.store], run)
