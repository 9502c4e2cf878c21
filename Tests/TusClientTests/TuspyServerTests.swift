import Foundation
import Testing
import TusClient
import TusCore
import TusFileStorage
import TusTestSupport

/// tuspyserver, started by the test command: its endpoint and the folder
/// holding each upload's bytes under the upload's id.
enum Tuspyserver {
    static var endpoint: URL? {
        ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_URL"].flatMap(URL.init(string:))
    }
    static var directory: String? { ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_DIR"] }

    /// Runs when the test command started the server, and always in CI,
    /// where a missing server is a failure.
    static var isAvailable: Bool {
        endpoint != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    static func bytes(of url: URL) throws -> Data {
        let directory = try #require(directory)
        return try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(url.lastPathComponent))
    }
}

@Suite(.enabled(if: Tuspyserver.isAvailable, "scripts/test starts tuspyserver"))
struct TuspyServerTests {
    @Test func uploadsInChunksByteForByte() async throws {
        let endpoint = try #require(Tuspyserver.endpoint, "TUS_TEST_TUSPYSERVER_URL is not set; run scripts/test")
        let folder = try TemporaryFolder()
        let data = randomData(700_000)
        let url = try await TusClient(url: endpoint).uploader(forFileAtPath: try file(data, in: folder), options: testOptions(chunkSize: 256 * 1024)).upload()
        #expect(url.absoluteString.hasPrefix(endpoint.absoluteString))
        #expect(try Tuspyserver.bytes(of: url) == data)
    }

    @Test func anInterruptedUploadResumesFromTheStore() async throws {
        let endpoint = try #require(Tuspyserver.endpoint, "TUS_TEST_TUSPYSERVER_URL is not set; run scripts/test")
        let folder = try TemporaryFolder()
        let store = try FileStorage(path: folder.newPath("store.json"))
        let data = randomData(600_000)
        let path = try file(data, in: folder)
        let options = testOptions(chunkSize: 200_000, storage: store)
        let first = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: options)
        let task = Task {
            try await first.upload { progress in
                if progress.bytesUploaded >= 200_000 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        await #expect(throws: CancellationError.self) { try await task.value }

        let second = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: options)
        #expect(second.isResuming)
        #expect(second.offset >= 200_000 && second.offset < 600_000)
        #expect(second.url == first.url)
        let url = try await second.upload()
        #expect(try Tuspyserver.bytes(of: url) == data)
        #expect(try await store.entries().isEmpty)
    }

    @Test func aTerminatedUploadIsStartedAgain() async throws {
        let endpoint = try #require(Tuspyserver.endpoint, "TUS_TEST_TUSPYSERVER_URL is not set; run scripts/test")
        let folder = try TemporaryFolder()
        let store = try FileStorage(path: folder.newPath("store.json"))
        let data = randomData(300_000)
        let path = try file(data, in: folder)
        var options = testOptions(chunkSize: 100_000, storage: store)
        options.keepsURLAfterSuccess = true
        let first = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: options)
        let old = try await first.upload()
        try await TusClient(url: endpoint).terminateUpload(at: old)
        let second = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: options)
        #expect(!second.isResuming)
        let url = try await second.upload()
        #expect(url != old)
        #expect(try Tuspyserver.bytes(of: url) == data)
    }

    @Test func aStreamOfUnknownLength() async throws {
        let endpoint = try #require(Tuspyserver.endpoint, "TUS_TEST_TUSPYSERVER_URL is not set; run scripts/test")
        let data = randomData(250_000)
        let pipe = Pipe()
        let writer = writeOnAThread(data, to: pipe.fileHandleForWriting, piece: 50_000)
        let url = try await TusClient(url: endpoint).uploader(for: pipe.fileHandleForReading, options: testOptions(chunkSize: 100_000)).upload()
        await writer.value
        #expect(try Tuspyserver.bytes(of: url) == data)
    }
}
