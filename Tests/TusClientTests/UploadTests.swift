import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusFileStorage
import TusTestSupport

@Suite struct UploadTests {
    @Test func uploadsAFileInChunksByteForByte() async throws {
        try await withDevServer { server, folder in
            let data = randomData(300_000)
            let path = try file(data, in: folder)
            let client = TusClient(url: server.endpoint)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            let uploader = try await client.uploader(forFileAtPath: path, options: options)
            #expect(uploader.offset == 0)
            #expect(!uploader.isResuming)
            let log = ProgressLog()
            let url = try await uploader.upload { log.record($0) }
            #expect(server.uploadedData(for: url) == data)
            #expect(uploader.offset == 300_000)
            let requests = server.requestLog.filter { !$0.hasPrefix("OPTIONS") }
            #expect(requests.first == "POST /files/")
            #expect(requests.filter { $0.hasPrefix("PATCH") }.count == 3)
            #expect(log.confirmed.map(\.bytesUploaded) == [0, 100_000, 200_000, 300_000])
            #expect(log.reports.last?.fractionCompleted == 1)
        }
    }


    @Test func sendsMetadataAndHeaders() async throws {
        try await withDevServer { server, _ in
            let client = TusClient(url: server.endpoint, headers: ["Authorization": "Bearer t"])
            var options = testOptions()
            options.metadata = ["filename": "résumé.pdf", "filetype": "application/pdf", "empty": ""]
            let url = try await client.uploader(for: Data("pdf".utf8), options: options).upload()
            let info = try #require(server.uploadInfo(for: url))
            #expect(info.metadata == ["filename": "résumé.pdf", "filetype": "application/pdf", "empty": ""])
            #expect(info.isComplete)
        }
    }

    @Test(arguments: ["", "two words", "a,b", "tab\tkey", "clé"])
    func refusesMetadataKeysTheProtocolForbids(key: String) async throws {
        let client = TusClient(url: URL(string: "http://127.0.0.1:9/files/")!)
        var options = UploadOptions()
        options.metadata = [key: "value"]
        let error = try await #require(throws: TusError.self) { try await client.uploader(for: Data("x".utf8), options: options) }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("metadata key"))
    }

    @Test func uploadsAnEmptyFile() async throws {
        try await withDevServer { server, folder in
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(Data(), in: folder), options: testOptions()).upload()
            #expect(server.uploadInfo(for: url)?.isComplete == true)
            #expect(server.uploadInfo(for: url)?.length == 0)
            #expect(!server.requestLog.contains { $0.hasPrefix("PATCH") })
        }
    }

    @Test func streamsOfUnknownLengthUseDeferLength() async throws {
        try await withDevServer { server, _ in
            let data = randomData(250_000)
            let pipe = Pipe()
            let writer = writeOnAThread(data, to: pipe.fileHandleForWriting, piece: 10_000)
            let uploader = try await TusClient(url: server.endpoint).uploader(for: pipe.fileHandleForReading, options: testOptions(chunkSize: 100_000))
            #expect(uploader.size == nil)
            #expect(uploader.key == nil)
            let url = try await uploader.upload()
            await writer.value
            #expect(server.uploadedData(for: url) == data)
            #expect(server.uploadInfo(for: url)?.length == 250_000)
            #expect(uploader.size == 250_000)
        }
    }

    @Test func aStreamEndingOnAChunkBoundaryTellsItsLengthLast() async throws {
        try await withDevServer { server, _ in
            let data = randomData(200_000)
            let pipe = Pipe()
            let writer = writeOnAThread(data, to: pipe.fileHandleForWriting, piece: data.count)
            let url = try await TusClient(url: server.endpoint).uploader(for: pipe.fileHandleForReading, options: testOptions(chunkSize: 100_000)).upload()
            await writer.value
            #expect(server.uploadedData(for: url) == data)
            #expect(server.uploadInfo(for: url)?.isComplete == true)
        }
    }

    @Test(arguments: ChecksumAlgorithm.allCases)
    func sendsChecksumsTheServerAnnounces(algorithm: ChecksumAlgorithm) async throws {
        try await withDevServer { server, folder in
            let data = randomData(200_000)
            var options = testOptions(chunkSize: 64 * 1024)
            options.checksum = algorithm
            server.inject(.checksumMismatch)
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            // The mismatch was injected and answered with 460: that chunk went twice.
            #expect(server.pendingFaults.isEmpty)
        }
    }

    @Test func noChecksumWhenTheServerDoesNotAnnounceTheAlgorithm() async throws {
        try await withDevServer({ $0.checksumAlgorithms = ["sha256"] }) { server, folder in
            var options = testOptions()
            options.checksum = .md5
            server.inject(.checksumMismatch)
            let data = randomData(100_000)
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            // No request carried a checksum, so the fault never fired.
            #expect(server.pendingFaults == [.checksumMismatch])
        }
    }

    @Test func terminationDeletesTheUploadAndForgetsItsURL() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let data = randomData(200_000)
            let path = try file(data, in: folder)
            server.inject(.dropConnectionDuringPatch(afterBytes: 1000))
            var options = testOptions(storage: store)
            options.retryPolicy.retries = 0
            options.uploadsDuringCreation = false
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            await #expect(throws: TusError.self) { try await uploader.upload() }
            let url = try #require(uploader.url)
            #expect(try await store.url(forKey: try #require(uploader.key)) == url.absoluteString)
            try await uploader.terminate()
            #expect(server.uploadInfo(for: url) == nil)
            #expect(try await store.entries().isEmpty)
            #expect(uploader.url == nil)
        }
    }

    @Test func aServerThatIsDownIsAClearErrorAfterTheRetries() async throws {
        // A port nothing listens on: bind and close it.
        let port = try freeLoopbackPort()
        let endpoint = URL(string: "http://127.0.0.1:\(port)/files/")!
        var options = testOptions()
        options.retryPolicy.retries = 2
        let uploader = try await TusClient(url: endpoint).uploader(for: Data("abc".utf8), options: options)
        let error = try await #require(throws: TusError.self) { try await uploader.upload() }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.message.contains("gave up after 2 retries"))
    }

    @Test func aRefusedCreationIsAClearError() async throws {
        try await withDevServer({ $0.maxUploadSize = 1000 }) { server, folder in
            var options = testOptions()
            options.uploadsDuringCreation = false
            let path = try file(randomData(5000), in: folder)
            let error = try await #require(throws: TusError.self) {
                try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options).upload()
            }
            #expect(error.message.contains("413"))
            #expect(error.message.contains(path))
        }
    }

    @Test func aMissingFileIsAClearError() async throws {
        let error = try await #require(throws: TusError.self) {
            try await TusClient(url: URL(string: "http://127.0.0.1:9/")!).uploader(forFileAtPath: "/nonexistent/file.bin")
        }
        #expect(error.code == .notFound)
        #expect(error.message == "cannot open /nonexistent/file.bin: No such file or directory")
    }
}
