import Foundation
import Testing
@testable import TusClient
import TusCore
import TusDevServer
import TusFileStorage
import TusTestSupport

/// A file's chunk is read a piece at a time while its request sends it.
@Suite struct FileChunkTests {
    @Test func chunksOfManyPiecesArriveByteForByte() async throws {
        try await withDevServer { server, folder in
            // Chunks of several pieces and a part of one, and a short last chunk.
            let data = randomData(6 * 1024 * 1024 + 1)
            let path = try file(data, in: folder)
            var options = testOptions(chunkSize: 2 * 1024 * 1024 + 100_000)
            options.uploadsDuringCreation = false
            let log = ProgressLog()
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options).upload { log.record($0) }
            #expect(server.uploadedData(for: url) == data)
            #expect(log.confirmed.map(\.bytesUploaded) == [0, 2_197_152, 4_394_304, 6_291_457])
        }
    }

    @Test(arguments: ChecksumAlgorithm.allCases)
    func checksumsOfChunksOfManyPiecesMatchTheBytesSent(algorithm: ChecksumAlgorithm) async throws {
        try await withDevServer { server, folder in
            let data = randomData(5 * 1024 * 1024 + 12_345)
            var options = testOptions(chunkSize: 3 * 1024 * 1024)
            options.checksum = algorithm
            server.inject(.checksumMismatch)
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            // The mismatch was answered with 460 and the chunk sent again.
            #expect(server.pendingFaults.isEmpty)
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count == 2)
        }
    }

    @Test func aConnectionCutInsideAChunkIsResumedFromTheServersOffset() async throws {
        try await withDevServer { server, folder in
            let data = randomData(2 * 1024 * 1024)
            server.inject(.dropConnectionDuringPatch(afterBytes: 700_000))
            var options = testOptions(chunkSize: 1024 * 1024 + 1)
            options.uploadsDuringCreation = false
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.requestLog.filter { $0.hasPrefix("HEAD") }.count == 1)
        }
    }
}

/// Answers every request with 307 Temporary Redirect to the same path on
/// another origin, after reading its body, as a proxy in front of a tus
/// server might; prints its port, then one line per redirected request.
private let redirector = """
    import http.server, sys
    target = sys.argv[1]
    class Redirect(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            print(self.command, flush=True)
            self.send_response(307)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
        do_HEAD = do_PATCH = do_POST = do_OPTIONS = do_DELETE = answer
        def log_message(self, *arguments):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """

@Suite struct RedirectTests {
    @Test func aChunkRedirectedWithItsBodyArrivesByteForByte() async throws {
        try await withDevServer { server, folder in
            let store = try FileStorage(path: folder.newPath("store.json"))
            let data = randomData(4 * 1024 * 1024)
            let path = try file(data, in: folder)
            let first = try await interruptedUpload(path, server: server, storage: store)
            let url = try #require(first.url)
            let origin = "http://127.0.0.1:\(try #require(url.port))"

            let proxy = try BackgroundProcess(TestPaths.python, ["-c", redirector, origin])
            defer { proxy.send(SIGKILL); proxy.waitForExit() }
            try await waitUntil("the redirector prints its port") { proxy.stdout.contains("\n") }
            let port = try #require(proxy.stdout.split(separator: "\n").first.flatMap { Int($0) })
            // The store holds the upload's URL as the proxy's.
            let key = try #require(first.key)
            let proxied = "http://127.0.0.1:\(port)\(url.path)"
            try await store.setURL(proxied, forKey: key)

            // Chunks of three pieces: each PATCH's body is sent, refused with
            // 307 once read, and sent again, from its first byte, to the server.
            var options = testOptions(chunkSize: 1_500_000, storage: store)
            options.uploadsDuringCreation = false
            let second = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: options)
            #expect(second.isResuming)
            #expect(second.offset == 100_000)
            let finished = try await second.upload()
            #expect(finished.absoluteString == proxied)
            #expect(server.uploadedData(for: url) == data)
            let redirected = proxy.stdout.split(separator: "\n").dropFirst()
            #expect(redirected.filter { $0 == "PATCH" }.count == 3, "\(redirected)")
            try await store.close()
        }
    }
}
