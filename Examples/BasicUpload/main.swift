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
                throw TusError(.invalidArgument, "unknown option \(word); usage: basic-upload [FILE] [--endpoint URL] [--store STORE.json]")
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
    let file: String
    if let given = arguments.file {
        file = given
    } else {
        file = scratch.appendingPathComponent("sample.bin").path
        try makeSampleFile(at: file, size: 4 << 20)
        print("Made a sample file of 4 MiB: \(file)")
    }
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
            let upload = Task {
                try await uploader.upload { progress in
                    let percent = (progress.fractionCompleted ?? 0) * 100
                    print("  \(progress.bytesUploaded) of \(progress.totalBytes ?? 0) bytes (\(String(format: "%.0f", percent))%)")
                }
            }
            signal(SIGINT, SIG_IGN)
            let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            interrupt.setEventHandler { upload.cancel() }
            interrupt.resume()
            defer { interrupt.cancel() }

            let url = try await upload.value
            print("Upload completed successfully")
            print("Upload URL: \(url.absoluteString)")
        }
    }
}

// Every failure ends in one line on standard error and status 2; Ctrl-C in
// status 130. Temporary files (and the server) are removed either way.
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tus-basic-upload-\(getpid())")
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
