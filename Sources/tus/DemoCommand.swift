import ArgumentParser
import Crypto
import Foundation
import TusClient
import TusCore
import TusDevServer
import TusFileStorage
import TusFingerprints

/// `tus demo`: an upload interrupted and resumed from the store, end to end.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show a resumable upload: start a server, upload, interrupt, resume from the store, verify.",
        discussion: "Everything happens in a temporary folder that is removed afterwards; nothing leaves this machine."
    )

    @Option(help: ArgumentHelp("The size of the generated file.", valueName: "size"))
    var size: ByteCount = ByteCount(8 * 1024 * 1024)

    @Option(help: ArgumentHelp("The chunk size.", valueName: "size"))
    var chunkSize: ByteCount = ByteCount(1024 * 1024)

    func validate() throws {
        if chunkSize.bytes * 2 > size.bytes {
            throw ValidationError("--chunk-size (\(chunkSize)) must be at most half of --size (\(size)), so that the upload can be interrupted halfway")
        }
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tus-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        step(1, "starting the development server")
        let server = try await TusDevServer.start(.init(directory: folder.appendingPathComponent("server")))
        defer { Task { try? await server.shutdown() } }
        say("listening on \(server.endpoint.absoluteString)")

        step(2, "generating a file of \(ProgressReporter.bytes(Int64(size.bytes)))")
        let file = folder.appendingPathComponent("demo.bin")
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<size.bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try data.write(to: file)
        let key = try MD5Fingerprint().fingerprint(ofFileAt: file)
        say("\(file.path), fingerprint \(key)")

        let storePath = folder.appendingPathComponent("uploads.json").path
        var options = UploadOptions()
        options.chunkSize = chunkSize.bytes
        options.metadata = ["filename": "demo.bin", "filetype": "application/octet-stream"]
        options.storage = try FileStorage(path: storePath)
        let client = TusClient(url: server.endpoint)

        step(3, "uploading in chunks of \(ProgressReporter.bytes(Int64(chunkSize.bytes))), and interrupting halfway")
        let first = try await client.uploader(forFileAt: file, options: options)
        let half = Int64(size.bytes / 2)
        let task = Task {
            try await first.upload { progress in
                say("server holds \(progress.bytesUploaded) of \(progress.totalBytes ?? 0) bytes")
                if progress.bytesUploaded >= half { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        do {
            _ = try await task.value
            throw CommandFailure(message: "the demo's upload finished before it could be interrupted; use a larger --size")
        } catch is CancellationError {
            say("interrupted at offset \(first.offset), as a crash or Ctrl-C would")
        }
        let stored = try await options.storage!.url(forKey: key)
        say("the store \(storePath) keeps \(stored ?? "nothing") under the key")

        step(4, "a new uploader for the same file, as after a restart")
        let second = try await client.uploader(forFileAt: file, options: options)
        guard second.isResuming, let url = second.url else {
            throw CommandFailure(message: "the demo did not resume: the stored URL was not used")
        }
        say("resuming \(url.absoluteString) from offset \(second.offset)")
        let finished = try await second.upload { progress in
            say("server holds \(progress.bytesUploaded) of \(progress.totalBytes ?? 0) bytes")
        }

        step(5, "verifying the server's copy")
        guard let received = server.uploadedData(for: finished), received == data else {
            throw CommandFailure(message: "the server's bytes differ from the file")
        }
        say("SHA-256 of the file and of the server's copy: \(SHA256.hash(data: received).map { String(format: "%02x", $0) }.joined())")
        say("the stored URL was removed after success: \(try await options.storage!.url(forKey: key) == nil ? "yes" : "no")")
        try await options.storage!.close()
        print(finished.absoluteString)
    }

    private func step(_ number: Int, _ text: String) {
        FileHandle.standardError.write(Data("\n\(number). \(text)\n".utf8))
    }
}

private func say(_ text: String) {
    FileHandle.standardError.write(Data("   \(text)\n".utf8))
}
