import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusFileStorage
import Dispatch
import TusTestSupport

/// Every fault the development server injects: the upload ends with the
/// server's bytes identical to the file, or with a clear error once the
/// retries run out.
@Suite struct FaultTests {
    static let faults: [Fault] = [
        .dropConnectionDuringPatch(afterBytes: 30_000),
        .dropConnectionDuringPatch(afterBytes: 0),
        .status(500, method: "PATCH"),
        .status(503, method: "PATCH"),
        .status(409, method: "PATCH"),
        .status(423, method: "PATCH"),
        .status(460, method: "PATCH"),
        .status(500, method: "POST"),
        .checksumMismatch,
        .stall(seconds: 3, method: "PATCH"),
    ]

    @Test(arguments: faults)
    func theUploadRecoversFrom(fault: Fault) async throws {
        try await withDevServer { server, folder in
            let data = randomData(250_000)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            options.checksum = .sha1
            options.requestTimeout = .seconds(1)
            // Let the first PATCH through, then the fault, twice over.
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options)
            server.inject(fault)
            server.inject(fault)
            let url = try await uploader.upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.pendingFaults.isEmpty)
        }
    }

    @Test func aFailedResyncIsRetriedToo() async throws {
        try await withDevServer { server, folder in
            let data = randomData(250_000)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            server.inject(.status(500, method: "PATCH"))
            server.inject(.status(503, method: "HEAD"))
            server.inject(.status(500, method: "HEAD"))
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.requestLog.filter { $0.hasPrefix("HEAD") }.count == 3)
        }
    }

    @Test func retriesRunOutWithAClearErrorAndTheURLKept() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            var options = testOptions(chunkSize: 100_000, storage: store)
            options.uploadsDuringCreation = false
            options.retryPolicy.retries = 2
            for _ in 0..<3 { server.inject(.status(500, method: "PATCH")) }
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(randomData(250_000), in: folder), options: options)
            let error = try await #require(throws: TusError.self) { try await uploader.upload() }
            let url = try #require(uploader.url)
            #expect(error.code == .unavailable)
            #expect(error.message.hasPrefix("PATCH \(url.absoluteString) answered 500 Internal Server Error"))
            #expect(error.message.hasSuffix("(gave up after 2 retries)"))
            #expect(try await store.url(forKey: try #require(uploader.key)) == url.absoluteString)
        }
    }

    @Test func progressResetsTheRetryCount() async throws {
        try await withDevServer { server, folder in
            let data = randomData(500_000)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            options.retryPolicy.retries = 1
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options)
            // One failure per chunk: never two in a row without progress.
            let log = ProgressLog()
            server.inject(.status(500, method: "PATCH"))
            let url = try await uploader.upload { progress in
                log.record(progress)
                // After each confirmed chunk (not while a body goes out).
                if progress.bytesSent == progress.bytesUploaded && progress.bytesUploaded > 0 && progress.bytesUploaded < 500_000 {
                    server.inject(.status(500, method: "PATCH"))
                }
            }
            #expect(server.uploadedData(for: url) == data)
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count >= 9)
        }
    }
}

@Suite struct ReviewedEdgeTests {
    @Test func aFileShortenedDuringTheUploadIsAnError() async throws {
        try await withDevServer { server, folder in
            let path = try file(randomData(300_000), in: folder)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            let error = try await #require(throws: TusError.self) {
                try await uploader.upload { progress in
                    if progress.bytesUploaded == 100_000 {
                        try? FileHandle(forWritingAtPath: path)?.truncate(atOffset: 150_000)
                    }
                }
            }
            #expect(error.code == .io)
            #expect(error.message.contains(path))
            #expect(error.message.contains("changed while uploading"))
        }
    }

    @Test func terminateRefusesWhileTheUploadRuns() async throws {
        try await withDevServer { server, folder in
            let path = try file(randomData(300_000), in: folder)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            let refused = ErrorBox()
            let url = try await uploader.upload { progress in
                if progress.bytesUploaded == 100_000 {
                    let semaphore = DispatchSemaphore(value: 0)
                    Task.detached {
                        do { try await uploader.terminate() } catch { refused.set(error) }
                        semaphore.signal()
                    }
                    semaphore.wait()
                }
            }
            #expect(server.uploadInfo(for: url)?.isComplete == true)
            let error = try #require(refused.value as? TusError)
            #expect(error.message.contains("while it runs"))
        }
    }
}

/// Holds an error thrown on another task.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    func set(_ error: any Error) { lock.withLock { stored = error } }
    var value: (any Error)? { lock.withLock { stored } }
}
