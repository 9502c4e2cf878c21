// Resuming an interrupted upload: the tuspy documentation's second example,
// in Swift.
//
//   swift run resume-upload [FILE] [--endpoint URL] [--store STORE.json]
//
// An uploader made for a file whose upload URL is in the store asks the
// server how much it already holds, and goes on from there:
// `uploader.isResuming` and `uploader.offset` tell.
//
// Without --endpoint it shows the whole story on its own: it starts a
// development tus server in-process, begins uploading FILE (by default a
// 4 MiB sample file it makes) in 1 MiB chunks and interrupts the upload
// after the first chunk, as Ctrl-C would. Then a new uploader, made with the
// same store, resumes it; in the end the server's bytes are compared with the
// file. The server, the store and the sample file are temporary.
//
// With --endpoint, it uses the store of the `tus` tool (by default
// ~/.local/state/tus/uploads.json): press Ctrl-C during the upload and run
// the same command again to see it resume.
import ExampleSupport
import Foundation
import TusClient
import TusCore
import TusDevServer
import TusFileStorage

/// Prints how far an upload has come.
@Sendable func show(_ progress: UploadProgress) {
    let percent = (progress.fractionCompleted ?? 0) * 100
    print("  \(progress.bytesUploaded) of \(progress.totalBytes ?? 0) bytes (\(String(format: "%.0f", percent))%)")
}

/// Starts uploading `file` and cancels the upload once the server holds its
/// first chunk: what Ctrl-C does to `basic-upload`.
func interruptedUpload(_ file: String, client: TusClient, options: UploadOptions) async throws {
    let uploader = try await client.uploader(forFileAtPath: file, options: options)
    print("Step 1: uploading \(file), interrupted after the first chunk")
    let upload = Task {
        try await uploader.upload { progress in
            show(progress)
            // Cancel the task running the upload, as a Ctrl-C handler would.
            if progress.bytesUploaded > 0 { withUnsafeCurrentTask { $0?.cancel() } }
        }
    }
    switch await upload.result {
    case .success:
        print("The upload finished before it could be interrupted")
    case .failure(is CancellationError):
        print("Upload interrupted - can be resumed later: \(uploader.url?.absoluteString ?? "nothing") holds \(uploader.offset) bytes")
    case .failure(let error):
        throw error
    }
}

func run(_ arguments: ExampleArguments, scratch: URL) async throws {
    let file = try fileToUpload(arguments.file, scratch: scratch)
    try await withDevServer(unless: arguments.endpoint, scratch: scratch) { server in
        try await upload(file, arguments: arguments, server: server, scratch: scratch)
    }
}

func upload(_ file: String, arguments: ExampleArguments, server: TusDevServer?, scratch: URL) async throws {
    let endpoint = arguments.endpoint ?? server!.endpoint
    let storePath = arguments.store
        ?? (server != nil ? scratch.appendingPathComponent("tus_uploads.json").path : FileStorage.defaultPath)
    try await withStorage(try FileStorage(path: storePath)) { storage in
        let client = TusClient(url: endpoint)
        var options = UploadOptions()
        options.chunkSize = 1 << 20
        options.storage = storage

        if server != nil {
            try await interruptedUpload(file, client: client, options: options)
            print("Step 2: a new uploader for the same file, with the same store (\(storage.path))")
        }

        // Create an uploader for the same file: it looks up the stored URL.
        let uploader = try await client.uploader(forFileAtPath: file, options: options)
        // Check whether it resumes a previous upload.
        if uploader.isResuming, uploader.offset > 0, let size = uploader.size {
            print("Resuming upload from offset \(uploader.offset)")
            let percent = size == 0 ? 100 : Double(uploader.offset) / Double(size) * 100
            print("Already uploaded: \(String(format: "%.1f", percent))%")
        } else {
            print("Nothing to resume for this file: starting a new upload (press Ctrl-C to interrupt it, then run this again)")
        }

        let url = try await valueCancellingOnCtrlC { try await uploader.upload(progress: show) }
        print("Upload completed")
        print("Upload URL: \(url.absoluteString)")

        // Our own server can show what it received.
        if let server {
            guard let received = server.uploadedDataFile(for: url),
                  FileManager.default.contentsEqual(atPath: received.path, andPath: file)
            else {
                throw TusError(.protocolViolation, "the server's bytes for \(url.absoluteString) differ from \(file)")
            }
            print("The server holds the same \(uploader.size ?? 0) bytes as \(file)")
        }
    }
}

// Every failure ends in one line on standard error and status 2; Ctrl-C in
// status 130. Temporary files (and the server) are removed either way.
await runExample("resume-upload", usage: "[FILE] [--endpoint URL] [--store STORE.json]", options: [.store], run)
