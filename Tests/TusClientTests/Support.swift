import Foundation
import TusClient
import TusCore
import TusDevServer
import TusFileStorage
import TusTestSupport

/// Options for tests: small chunks, quick retries.
func testOptions(chunkSize: Int = 64 * 1024, storage: (any Storage)? = nil) -> UploadOptions {
    var options = UploadOptions()
    options.chunkSize = chunkSize
    options.retryPolicy.delay = .milliseconds(10)
    options.retryPolicy.maximumDelay = .milliseconds(50)
    options.requestTimeout = .seconds(20)
    options.storage = storage
    options.metadata = ["filename": "test.bin", "filetype": "application/octet-stream"]
    return options
}

/// Options with the uploader's own request sizes, quick retries and a JSON
/// store in `folder`.
func optionsWithStore(in folder: TemporaryFolder) throws -> UploadOptions {
    var options = UploadOptions()
    options.retryPolicy.delay = .milliseconds(10)
    options.storage = try FileStorage(path: folder.newPath("store.json"))
    return options
}

/// Writes `data` to a new file in `folder` and returns its path.
func file(_ data: Data, in folder: TemporaryFolder) throws -> String {
    let path = folder.newPath("upload.bin")
    try data.write(to: URL(fileURLWithPath: path))
    return path
}

/// Collects progress reports.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [UploadProgress] = []
    func record(_ progress: UploadProgress) { lock.withLock { values.append(progress) } }
    var reports: [UploadProgress] { lock.withLock { values } }
    /// The reports of bytes the server confirmed: not those made while a
    /// request's body goes out (``UploadProgress/bytesSent`` ahead).
    var confirmed: [UploadProgress] { reports.filter { $0.bytesSent == $0.bytesUploaded } }
}

/// Writes `data` to `handle` in pieces on a thread of its own (a pipe blocks
/// its writer until the reader catches up), then closes the handle.
func writeOnAThread(_ data: Data, to handle: FileHandle, piece: Int) -> Task<Void, Never> {
    let (stream, continuation) = AsyncStream<Void>.makeStream()
    Thread.detachNewThread {
        for start in stride(from: 0, to: data.count, by: piece) {
            try? handle.write(contentsOf: data[start..<min(data.count, start + piece)])
        }
        try? handle.close()
        continuation.finish()
    }
    return Task { for await _ in stream {} }
}
