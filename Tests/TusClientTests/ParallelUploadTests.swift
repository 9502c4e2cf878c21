import Foundation
import Testing
import TusClient
import TusCore
import TusFileStorage
import TusTestSupport

/// Parallel uploads against tuspyserver, which implements concatenation:
/// parts at once, each resumable from the store, joined byte for byte.
@Suite(.enabled(if: Tuspyserver.isAvailable, "scripts/test starts tuspyserver"))
struct ParallelUploadTests {
    let endpoint: URL

    init() throws {
        endpoint = try #require(Tuspyserver.endpoint, "TUS_TEST_TUSPYSERVER_URL is not set; run scripts/test")
    }

    func options(storage: (any Storage)? = nil) -> UploadOptions {
        var options = testOptions(chunkSize: 256 * 1024, storage: storage)
        options.parallelUploads = 4
        return options
    }

    @Test func aFileGoesUpInPartsAndIsJoined() async throws {
        let folder = try TemporaryFolder()
        let store = try FileStorage(path: folder.newPath("store.json"))
        let data = randomData(3_000_001)
        let log = ProgressLog()
        let uploader = try await TusClient(url: endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options(storage: store))
        let url = try await uploader.upload { log.record($0) }
        #expect(try Tuspyserver.bytes(of: url) == data)
        #expect(uploader.offset == 3_000_001)
        // Progress is the sum over the parts, and only grows.
        let reported = log.reports.map(\.bytesUploaded)
        #expect(reported.last == 3_000_001)
        #expect(reported == reported.sorted())
        // Removal on success removes the final URL and the parts' entry.
        #expect(try await store.entries().isEmpty)
    }

    @Test func everyPartResumesFromItsOwnOffset() async throws {
        let folder = try TemporaryFolder()
        let store = try FileStorage(path: folder.newPath("store.json"))
        let data = randomData(2_000_000)
        let path = try file(data, in: folder)
        let key = try #require(try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: options(storage: store)).key)

        let first = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: options(storage: store))
        let task = Task {
            try await first.upload { progress in
                if progress.bytesUploaded >= 700_000 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        await #expect(throws: CancellationError.self) { try await task.value }

        // The parts are stored under the file's key and "#partials"; tuspy's key stays free.
        #expect(try await store.url(forKey: key) == nil)
        let stored = try #require(try await store.url(forKey: key + "#partials"))
        let parts = try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [[String: Any]]
        #expect(parts?.count == 4)
        #expect(parts?.allSatisfy { ($0["url"] as? String)?.hasPrefix(endpoint.absoluteString) == true } == true)

        let second = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: options(storage: store))
        #expect(second.isResuming)
        #expect(second.offset >= 700_000 && second.offset < 2_000_000)
        let url = try await second.upload()
        #expect(try Tuspyserver.bytes(of: url) == data)
        #expect(try await store.entries().isEmpty)
    }

    @Test func aPartTheServerLostIsCreatedAgainAlone() async throws {
        let folder = try TemporaryFolder()
        let store = try FileStorage(path: folder.newPath("store.json"))
        let data = randomData(1_600_000)
        let path = try file(data, in: folder)
        var keep = options(storage: store)
        keep.keepsURLAfterSuccess = true
        let first = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: keep)
        let task = Task {
            try await first.upload { progress in
                if progress.bytesUploaded >= 500_000 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        let key = try #require(first.key)
        let stored = try #require(try await store.url(forKey: key + "#partials"))
        let parts = try #require(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [[String: Any]])
        let lostText = try #require(parts[2]["url"] as? String)
        let lost = try #require(URL(string: lostText))
        try await TusClient(url: endpoint).terminateUpload(at: lost)

        // Stored parts go on even when parts are no longer asked for.
        var resume = keep
        resume.parallelUploads = 1
        let events = Recorder<Int>()
        resume.onEvent = { if case .partCreatedAgain(let index) = $0 { events.record(index) } }
        let second = try await TusClient(url: endpoint).uploader(forFileAtPath: path, options: resume)
        let url = try await second.upload()
        #expect(try Tuspyserver.bytes(of: url) == data)
        #expect(events.values == [2])
        // With keepsURLAfterSuccess, the final URL replaced the parts' entry.
        #expect(try await store.url(forKey: key) == url.absoluteString)
        #expect(try await store.url(forKey: key + "#partials") == nil)
    }

    @Test func aFileSmallerThanItsPartsGoesUpWhole() async throws {
        let data = randomData(3)
        let url = try await TusClient(url: endpoint).uploader(for: data, options: options()).upload()
        #expect(try Tuspyserver.bytes(of: url) == data)
    }
}

/// Parallel uploads against the development server, which joins parts too.
@Suite struct ParallelUploadDevServerTests {
    @Test func partsAreJoinedByteForByteAndTheServerSawPartials() async throws {
        try await withDevServer { server, folder in
            let data = randomData(2_500_000)
            var options = testOptions(chunkSize: 256 * 1024, storage: try FileStorage(path: folder.newPath("store.json")))
            options.parallelUploads = 3
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            let info = try #require(server.uploadInfo(for: url))
            #expect(info.isFinal)
            #expect(info.partIDs.count == 3)
            #expect(info.partIDs.allSatisfy { server.uploadInfo(for: URL(string: $0)!)?.isPartial == true })
        }
    }

    @Test func aServerWithoutConcatenationGetsOneOrdinaryUpload() async throws {
        try await withDevServer({ $0.concatenation = false }) { server, folder in
            let data = randomData(600_000)
            var options = testOptions(chunkSize: 256 * 1024)
            options.parallelUploads = 4
            let events = Recorder<String>()
            options.onEvent = { if case .parallelUploadsUnsupported = $0 { events.record("unsupported") } }
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(events.values == ["unsupported"])
            #expect(server.requestLog.filter { $0.hasPrefix("POST") }.count == 1)
        }
    }

    @Test func aFailedPartLeavesEveryPartResumable() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let data = randomData(2_000_000)
            let path = try file(data, in: folder)
            var options = testOptions(chunkSize: 128 * 1024, storage: store)
            options.parallelUploads = 4
            options.retryPolicy.retries = 0
            options.uploadsDuringCreation = false
            server.inject(.dropConnectionDuringPatch(afterBytes: 50_000))
            let first = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            await #expect(throws: TusError.self) { try await first.upload() }
            let key = try #require(first.key)
            #expect(try await store.url(forKey: key + "#partials") != nil)

            options.retryPolicy.retries = 5
            let second = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            #expect(second.isResuming)
            let url = try await second.upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(try await store.entries().isEmpty)
        }
    }
}
