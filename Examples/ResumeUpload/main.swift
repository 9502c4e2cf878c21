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
import Foundation
import TusClient
import TusCore
import TusDevServer
import TusFileStorage

/// The command line: `[FILE] [--endpoint URL] [--store PATH]`.
struct Arguments {
    var file: String?
    var endpoint: URL?
    var store: String?

    init(_ words: [String]) throws {
        var words = words[...]
        while let word = words.popFirst() {
            switch word {
            case "--endpoint":
                guard let text = words.popFirst(), let url = URL(string: text), url.scheme != nil else {
                    throw TusError(.invalidArgument, "--endpoint needs a URL, such as http://127.0.0.1:1080/files/")
                }
                endpoint = url
            case "--store":
                guard let path = words.popFirst() else { throw TusError(.invalidArgument, "--store needs a path") }
                store = path
            case _ where word.hasPrefix("-"):
                throw TusError(.invalidArgument, "unknown option \(word); usage: resume-upload [FILE] [--endpoint URL] [--store STORE.json]")
            default:
                file = word
            }
        }
    }
}

/// A sample file of `size` bytes, the same bytes every time (so a second run
/// has the same fingerprint and resumes).
func makeSampleFile(at path: String, size: Int) throws {
    var state: UInt32 = 2_463_534_242
    var bytes = [UInt8](repeating: 0, count: size)
    for index in bytes.indices {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

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

func run(_ arguments: Arguments, scratch: URL) async throws {
    let file: String
    if let given = arguments.file {
        file = given
    } else {
        file = scratch.appendingPathComponent("sample.bin").path
        try makeSampleFile(at: file, size: 4 << 20)
        print("Made a sample file of 4 MiB: \(file)")
    }
    let server: TusDevServer?
    if arguments.endpoint == nil {
        server = try await TusDevServer.start(.init(directory: scratch.appendingPathComponent("server")))
        print("Started a development tus server at \(server!.endpoint)")
    } else {
        server = nil
    }
    do {
        try await upload(file, arguments: arguments, server: server, scratch: scratch)
        try await server?.shutdown()
    } catch {
        try? await server?.shutdown()
        throw error
    }
}

func upload(_ file: String, arguments: Arguments, server: TusDevServer?, scratch: URL) async throws {
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

        let upload = Task { try await uploader.upload(progress: show) }
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { upload.cancel() }
        interrupt.resume()
        defer { interrupt.cancel() }
        let url = try await upload.value
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
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tus-resume-upload-\(getpid())")
var status: Int32 = 0
do {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    try await run(arguments, scratch: scratch)
} catch is CancellationError {
    print("Upload interrupted - can be resumed later")
    status = 130
} catch let error as TusError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    status = 2
} catch {
    FileHandle.standardError.write(Data("error: \(error.localizedDescription)\n".utf8))
    status = 2
}
try? FileManager.default.removeItem(at: scratch)
exit(status)
