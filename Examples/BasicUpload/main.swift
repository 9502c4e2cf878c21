// Basic resumable upload: the tuspy documentation's first example, in Swift.
//
//   swift run basic-upload [FILE] [--endpoint URL] [--store STORE.json]
//
// It uploads FILE (by default a 4 MiB sample file it makes) in 1 MiB chunks,
// keeping the upload's URL in a JSON store, and prints the upload's URL.
// Without --endpoint it starts a development tus server in-process and uses
// a store in a temporary folder; both are gone when it ends.
//
// With --endpoint, the store is the one the `tus` tool uses (by default
// ~/.local/state/tus/uploads.json). Press Ctrl-C during the upload and run the
// same command again: the upload goes on where it stopped.
import ExampleSupport
import Foundation
import TusClient
import TusCore
import TusFileStorage

func run(_ arguments: ExampleArguments, scratch: URL) async throws {
    let file = try fileToUpload(arguments.file, scratch: scratch)
    // Without --endpoint the server is temporary, and so is the store.
    let storePath = arguments.store
        ?? (arguments.endpoint == nil ? scratch.appendingPathComponent("tus_uploads.json").path : FileStorage.defaultPath)

    try await withEndpoint(arguments.endpoint, scratch: scratch) { endpoint in
        // Create file storage for URL persistence.
        let storage = try FileStorage(path: storePath)
        try await withStorage(storage) { storage in
            // Create a client, and an uploader that keeps its URL in the store.
            let client = TusClient(url: endpoint)
            var options = UploadOptions()
            options.chunkSize = 1 << 20
            options.storage = storage
            let uploader = try await client.uploader(forFileAtPath: file, options: options)
            print("Uploading \(file) (\(uploader.size ?? 0) bytes) to \(endpoint), keeping its URL in \(storage.path)")
            if uploader.isResuming {
                print("Resuming the upload stored for this file, from byte \(uploader.offset)")
            }

            // Ctrl-C cancels the upload; the stored URL lets a later run resume it.
            let url = try await valueCancellingOnCtrlC {
                try await uploader.upload { progress in
                    let percent = (progress.fractionCompleted ?? 0) * 100
                    print("  \(progress.bytesUploaded) of \(progress.totalBytes ?? 0) bytes (\(String(format: "%.0f", percent))%)")
                }
            }
            print("Upload completed successfully")
            print("Upload URL: \(url.absoluteString)")
        }
    }
}

// Every failure ends in one line on standard error and status 2; Ctrl-C in
// status 130. Temporary files (and the server) are removed either way.
await runExample("basic-upload", usage: "[FILE] [--endpoint URL] [--store STORE.json]", options: [.store], run)
