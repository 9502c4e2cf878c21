import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// The first chunk goes with the POST without asking the server first; a
/// server without creation-with-upload gets it again with PATCH.
@Suite struct CreationWithUploadTests {
    /// What the client sent: method and body size, in order.
    final class SentLog: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [String] = []
        func record(_ request: UploadRequest) { lock.withLock { values.append("\(request.method) \(request.bodyCount)") } }
        var requests: [String] { lock.withLock { values } }
    }

    func recording(_ options: UploadOptions, into log: SentLog) -> UploadOptions {
        var options = options
        options.beforeRequest = { log.record($0) }
        return options
    }

    /// The OPTIONS goes alongside (it times a round trip), and nothing waits
    /// for it: here its answer never comes, and the upload ends all the same
    /// (a client that waited would hang for the ten minutes of the stall).
    @Test(.timeLimit(.minutes(1)))
    func theFirstChunkGoesWithThePOSTWithoutWaitingForOPTIONS() async throws {
        try await withDevServer { server, folder in
            server.inject(.stall(seconds: 600, method: "OPTIONS"))
            let data = randomData(150_000)
            let answered = SentLog()
            var options = testOptions(chunkSize: 100_000)
            options.afterResponse = { response in answered.record(response.request) }
            let client = TusClient(url: server.endpoint)
            let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(answered.requests == ["POST 100000", "PATCH 50000"])
            #expect(server.requestLog.filter { !$0.hasPrefix("OPTIONS") } == ["POST /files/", "PATCH \(url.path)"])
        }
    }

    @Test func aChecksumIsAgreedOnFirst() async throws {
        try await withDevServer { server, folder in
            let data = randomData(150_000)
            var options = testOptions(chunkSize: 100_000)
            options.checksum = .sha256
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.requestLog == ["OPTIONS /files/", "POST /files/", "PATCH \(url.path)"])
        }
    }

    @Test func aServerWithoutTheExtensionGetsTheBytesWithPATCHAndIsNotSentThemAgain() async throws {
        try await AiohttpTus.withServer { server in
            let folder = try TemporaryFolder()
            let client = TusClient(url: server.endpoint)
            let log = SentLog()
            for name in ["first.bin", "second.bin"] {
                let data = randomData(250_000)
                var options = recording(testOptions(chunkSize: 100_000), into: log)
                options.metadata = ["filename": name, "filetype": "application/octet-stream"]
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                #expect(url.absoluteString.hasPrefix(server.endpoint.absoluteString))
                #expect(server.finishedFile(named: name) == data, "\(name): the server's bytes differ from the file's")
            }
            // The first POST carried a chunk the server ignored; every byte
            // then went with PATCH, and the second upload sent none with POST.
            #expect(log.requests.filter { !$0.hasPrefix("OPTIONS") } == [
                "POST 100000", "PATCH 100000", "PATCH 100000", "PATCH 50000",
                "POST 0", "PATCH 100000", "PATCH 100000", "PATCH 50000",
            ])
            #expect(log.requests.filter { $0.hasPrefix("OPTIONS") }.count <= 1)
        }
    }

    /// A POST refused with bytes is sent again without them, once; refused
    /// again, it is an error (the client that looped here would never end).
    @Test(.timeLimit(.minutes(1)))
    func aPOSTRefusedWithAndWithoutBytesIsAnError() async throws {
        try await withDevServer { server, folder in
            server.inject(.status(400, method: "POST"))
            server.inject(.status(400, method: "POST"))
            let path = try file(randomData(5000), in: folder)
            let log = SentLog()
            let error = try await #require(throws: TusError.self) {
                try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: recording(testOptions(), into: log)).upload()
            }
            #expect(error.message.contains("400"))
            #expect(log.requests.filter { $0.hasPrefix("POST") } == ["POST 5000", "POST 0"])
        }
    }

    @Test func aPOSTRefusedWithBytesIsSentAgainWithout() async throws {
        try await withDevServer { server, folder in
            server.inject(.status(415, method: "POST"))
            let data = randomData(5000)
            let log = SentLog()
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: recording(testOptions(), into: log)).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(log.requests.filter { !$0.hasPrefix("OPTIONS") } == ["POST 5000", "POST 0", "PATCH 5000"])
        }
    }

    /// A 400 to a POST that carried no bytes refuses the request, not its
    /// bytes: the upload fails (the default policy does not retry 400)
    /// instead of POSTing again.
    @Test(.timeLimit(.minutes(1)))
    func aBadRequestToAPOSTWithoutBytesEndsTheUpload() async throws {
        try await withDevServer { server, folder in
            for _ in 0..<3 { server.inject(.status(400, method: "POST")) }
            var options = testOptions()
            options.uploadsDuringCreation = false
            let error = try await #require(throws: TusError.self) {
                try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(randomData(5000), in: folder), options: options).upload()
            }
            #expect(error.message.hasPrefix("cannot create an upload at \(server.endpoint.absoluteString): POST answered 400"))
            #expect(server.requestLog == ["POST /files/"])
        }
    }

    @Test func aFileLargerThanTheServerAllowsIsRefusedInWordsAfterOneRefusal() async throws {
        try await withDevServer({ $0.maxUploadSize = 1000 }) { server, folder in
            let path = try file(randomData(5000), in: folder)
            let error = try await #require(throws: TusError.self) {
                try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: testOptions()).upload()
            }
            #expect(error.code == .invalidArgument)
            #expect(error.message == "cannot upload \(path) to \(server.endpoint.absoluteString): its 5000 bytes are more than the server's limit of 1000")
            #expect(server.requestLog.sorted() == ["OPTIONS /files/", "POST /files/"])
        }
    }
}
