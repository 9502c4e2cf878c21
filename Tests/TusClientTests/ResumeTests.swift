import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusFileStorage
import TusFingerprints
import TusRedisStorage
import TusSQLiteStorage
import TusTestSupport

/// The kinds of store the resume path runs with.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case json, sqlite, redis
    var testDescription: String { rawValue }

    static var available: [StoreKind] {
        ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"] == nil ? [.json, .sqlite] : allCases
    }

    func make(in folder: TemporaryFolder) throws -> any ListableStorage {
        switch self {
        case .json: try FileStorage(path: folder.newPath("uploads.json"))
        case .sqlite: try SQLiteStorage(path: folder.newPath("uploads.sqlite"))
        case .redis:
            try RedisStorage(url: ProcessInfo.processInfo.environment["TUS_TEST_REDIS_URL"]! + "?prefix=tus-client-test-\(UUID().uuidString):")
        }
    }
}

/// Starts an upload that the server cuts off after `bytes` bytes of the
/// first PATCH, with no retries; returns the stopped uploader.
func interruptedUpload(
    _ path: String, server: TusDevServer, storage: any Storage, after bytes: Int = 100_000
) async throws -> TusUploader {
    var options = testOptions(storage: storage)
    options.retryPolicy.retries = 0
    options.uploadsDuringCreation = false
    options.chunkSize = 1 << 20
    server.inject(.dropConnectionDuringPatch(afterBytes: bytes))
    let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
    await #expect(throws: TusError.self) { try await uploader.upload() }
    return uploader
}

@Suite struct ResumeTests {
    @Test(arguments: StoreKind.available)
    func anInterruptedUploadResumesFromTheStore(kind: StoreKind) async throws {
        try await withDevServer { server, folder in
            let store = try kind.make(in: folder)
            let data = randomData(400_000)
            let path = try file(data, in: folder)
            let first = try await interruptedUpload(path, server: server, storage: store)
            let url = try #require(first.url)
            let key = try MD5Fingerprint().fingerprint(ofFileAtPath: path)
            #expect(first.key == key)
            #expect(try await store.url(forKey: key) == url.absoluteString)

            // A new uploader, as after a restart: it finds the URL and the server's offset.
            let second = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(second.isResuming)
            #expect(second.url == url)
            #expect(second.offset == 100_000)
            server.clearRequestLog()
            let finished = try await second.upload()
            #expect(finished == url)
            #expect(server.uploadedData(for: url) == data)
            #expect(!server.requestLog.contains("POST /files/"))
            // Removed after success by default.
            #expect(try await store.url(forKey: key) == nil)
            try await store.close()
        }
    }

    @Test func keepsTheURLAfterSuccessWhenAsked() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            var options = testOptions(storage: store)
            options.keepsURLAfterSuccess = true
            let path = try file(randomData(10_000), in: folder)
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options).upload()
            #expect(try await store.url(forKey: try MD5Fingerprint().fingerprint(ofFileAtPath: path)) == url.absoluteString)
            // A finished upload found again resumes at its end and sends nothing.
            let again = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            #expect(again.isResuming && again.offset == 10_000)
            server.clearRequestLog()
            #expect(try await again.upload() == url)
            #expect(server.requestLog.isEmpty)
        }
    }

    @Test func theURLIsStoredRightAfterCreation() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let path = try file(randomData(50_000), in: folder)
            // Every PATCH fails: only the creation succeeds.
            server.inject(.status(500, method: "PATCH"))
            var options = testOptions(storage: store)
            options.retryPolicy.retries = 0
            options.uploadsDuringCreation = false
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            let error = try await #require(throws: TusError.self) { try await uploader.upload() }
            #expect(error.message.contains("500"))
            #expect(try await store.url(forKey: try #require(uploader.key)) == uploader.url?.absoluteString)
        }
    }

    @Test(arguments: [404, 410])
    func aStoredURLTheServerSaysIsGoneIsForgottenAndANewUploadMade(status: Int) async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let data = randomData(200_000)
            let path = try file(data, in: folder)
            let old = try #require(try await interruptedUpload(path, server: server, storage: store).url)
            server.inject(.status(status, method: "HEAD"))
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(!uploader.isResuming)
            #expect(uploader.offset == 0)
            #expect(try await store.entries().isEmpty)
            let url = try await uploader.upload()
            #expect(url != old)
            #expect(server.uploadedData(for: url) == data)
        }
    }

    /// The stored URL's HEAD goes through the same retry loop as every
    /// request: a transient answer is tried again, and the upload resumes.
    @Test(arguments: [503, 423])
    func aTransientAnswerToTheStoredURLIsRetried(status: Int) async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let path = try file(randomData(200_000), in: folder)
            let old = try #require(try await interruptedUpload(path, server: server, storage: store).url)
            server.clearRequestLog()
            server.inject(.status(status, method: "HEAD"))
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(uploader.isResuming && uploader.offset == 100_000)
            #expect(uploader.url == old)
            #expect(server.requestLog.filter { $0.hasPrefix("HEAD") }.count == 2)
        }
    }

    @Test func aDeletedUploadIsForgottenAndStartedAgain() async throws {
        try await withDevServer { server, folder in
            let store = try SQLiteStorage(path: folder.newPath("store.sqlite"))
            let data = randomData(200_000)
            let path = try file(data, in: folder)
            let first = try await interruptedUpload(path, server: server, storage: store)
            let old = try #require(first.url)
            // The server loses the upload (an operator, or expiry).
            try await TusClient(url: server.endpoint).terminateUpload(at: old)
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(!uploader.isResuming)
            let url = try await uploader.upload()
            #expect(url != old)
            #expect(server.uploadedData(for: url) == data)
        }
    }

    /// An answer that says nothing of the upload's existence keeps the
    /// stored URL: with no retry left it is reported; refused credentials
    /// say so.
    @Test(arguments: [500, 503, 423, 408, 429, 401, 403, 400])
    func aStoredURLAnsweredWithAnythingButGoneIsReportedAndKept(status: Int) async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let path = try file(randomData(200_000), in: folder)
            let old = try #require(try await interruptedUpload(path, server: server, storage: store).url)
            server.inject(.status(status, method: "HEAD"))
            var options = testOptions(storage: store)
            options.retryPolicy.retries = 0
            let error = try await #require(throws: TusError.self) {
                try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            }
            if [401, 403].contains(status) {
                #expect(error.code == .authenticationFailed)
                #expect(error.message.contains("refused the credentials"), "\(error.message)")
            }
            #expect(error.message.contains(old.absoluteString))
            #expect(error.message.contains("kept"))
            let key = try MD5Fingerprint().fingerprint(ofFileAtPath: path)
            #expect(try await store.url(forKey: key) == old.absoluteString)
            // Once the server answers again, the upload resumes.
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(uploader.isResuming && uploader.offset == 100_000)
        }
    }

    @Test func aServerThatIsDownWhileResumingKeepsTheURL() async throws {
        let folder = try TemporaryFolder()
        let store = try FileStorage(path: folder.newPath("store.json"))
        let path = try file(randomData(1000), in: folder)
        let key = try MD5Fingerprint().fingerprint(ofFileAtPath: path)
        let stored = "http://127.0.0.1:\(try freeLoopbackPort())/files/abc"
        try await store.setURL(stored, forKey: key)
        let error = try await #require(throws: TusError.self) {
            try await TusClient(url: URL(string: "http://127.0.0.1:9/files/")!).uploader(forFileAtPath: path, options: testOptions(storage: store))
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message.hasPrefix("cannot resume the upload at \(stored): "))
        #expect(try await store.url(forKey: key) == stored)
    }

    @Test func aStoredUploadOfAnotherLengthIsStale() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let data = randomData(100_000)
            let path = try file(data, in: folder)
            // An upload of another length on the server, stored under this file's key.
            let other = try await TusClient(url: server.endpoint).uploader(for: randomData(5), options: testOptions()).upload()
            try await store.setURL(other.absoluteString, forKey: try MD5Fingerprint().fingerprint(ofFileAtPath: path))
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(!uploader.isResuming)
            let url = try await uploader.upload()
            #expect(url != other)
            #expect(server.uploadedData(for: url) == data)
        }
    }

    @Test func anExpiredUploadIsNotResumed() async throws {
        let clock = MovableClock()
        try await withDevServer({ $0.expiration = 60; $0.clock = { clock.now } }) { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let path = try file(randomData(200_000), in: folder)
            let old = try #require(try await interruptedUpload(path, server: server, storage: store).url)
            let expiresAt = try #require(server.uploadInfo(for: old)?.expiresAt)
            // The server's time passes the upload's expiry, with no waiting.
            clock.move(to: expiresAt.addingTimeInterval(1))
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(!uploader.isResuming)
            #expect(try await uploader.upload() != old)
        }
    }

    @Test func aStoredValueThatIsNotAURLIsForgotten() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let path = try file(randomData(1000), in: folder)
            try await store.setURL("not a url at all", forKey: try MD5Fingerprint().fingerprint(ofFileAtPath: path))
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions(storage: store))
            #expect(!uploader.isResuming)
            #expect(try await store.entries().isEmpty)
        }
    }

    @Test func aSHA256FingerprintKeysTheStore() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let path = try file(randomData(200_000), in: folder)
            var options = testOptions(storage: store)
            options.fingerprint = SHA256Fingerprint()
            options.keepsURLAfterSuccess = true
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            let url = try await uploader.upload()
            let key = try SHA256Fingerprint().fingerprint(ofFileAtPath: path)
            #expect(uploader.key == key)
            #expect(try await store.url(forKey: key) == url.absoluteString)
        }
    }

    @Test func cancellingLeavesTheUploadResumable() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let data = randomData(300_000)
            let path = try file(data, in: folder)
            var options = testOptions(chunkSize: 100_000, storage: store)
            options.uploadsDuringCreation = false
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            // The second PATCH stalls; the task is cancelled while it waits.
            let reachedFirstChunk = AsyncStream<Void>.makeStream()
            let task = Task {
                try await uploader.upload { progress in
                    if progress.bytesUploaded == 100_000 && progress.bytesSent == 100_000 {
                        server.inject(.stall(seconds: 5, method: "PATCH"))
                        reachedFirstChunk.continuation.yield()
                    }
                }
            }
            for await _ in reachedFirstChunk.stream { break }
            // The second PATCH has reached the server and stalls there.
            try await waitUntil("the second PATCH stalls") {
                server.pendingFaults.isEmpty && server.requestLog.filter { $0.hasPrefix("PATCH") }.count == 2
            }
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            server.removeAllFaults()

            let key = try MD5Fingerprint().fingerprint(ofFileAtPath: path)
            #expect(try await store.url(forKey: key) != nil)
            let resumed = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            #expect(resumed.isResuming)
            #expect(resumed.offset == 100_000)
            let url = try await resumed.upload()
            #expect(server.uploadedData(for: url) == data)
        }
    }
}
