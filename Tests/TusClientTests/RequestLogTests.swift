import Foundation
import InMemoryLogging
import Logging
import Testing
import TusClient
import TusDevServer
import TusTestSupport

/// The client's log: one `debug` line per request with its verdict, its
/// headers at `trace`, through the logger it is given or the task's
/// `Logger.current`, and no secret in any line.
@Suite struct RequestLogTests {
    static let token = "t0ken-Qz8Lw3-SECRET"

    /// Every line's message and metadata, as one text, to search for secrets.
    private func everything(_ entries: [InMemoryLogHandler.Entry]) -> String {
        entries.map { entry in
            "\(entry.message) " + entry.metadata.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    private func requestLines(_ entries: [InMemoryLogHandler.Entry]) -> [InMemoryLogHandler.Entry] {
        entries.filter { $0.message.description == "tus request" }
    }

    /// Behind nginx that asks for a bearer token and takes at most 1 MiB a
    /// request: each request nginx saw is one line, with its method, URL and
    /// status; the 413s say the request is sent smaller; the headers show
    /// `Authorization: ***`; the token shows nowhere.
    @Test func everyRequestIsOneDebugLineAndNoLineHoldsASecret() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m", bearerToken: Self.token)) { nginx in
                var random = SeededGenerator.forTest(#function)
                let data = random.bytes(3 << 20)
                let path = folder.newPath("upload.bin")
                try data.write(to: URL(fileURLWithPath: path))
                let handler = InMemoryLogHandler()
                var logger = Logger(label: "test") { _ in handler }
                logger.logLevel = .trace
                var options = UploadOptions()
                options.retryPolicy.delay = .milliseconds(10)
                let client = TusClient(
                    url: nginx.url(for: server.endpoint), headers: ["Authorization": "Bearer \(Self.token)"], proxy: .none,
                    logger: logger)
                let url = try await client.uploader(forFileAtPath: path, options: options).upload()
                #expect(server.uploadedData(for: url) == data)

                // One line per request nginx saw (the OPTIONS beside the
                // first POST may end after the upload).
                try await waitUntil("a line for each request nginx saw") {
                    requestLines(handler.entries).count == nginx.accessLog().count
                }
                let entries = handler.entries
                let requests = requestLines(entries)
                let levels = Set(requests.map { entry in entry.level })
                #expect(levels == [.debug])
                for key in ["http.request.method", "url.full", "tus.request.body_bytes", "tus.verdict"] {
                    let missing = requests.filter { entry in entry.metadata[key] == nil }
                    #expect(missing.isEmpty, "every request line has \(key)")
                }
                let refused = requests.filter { entry in entry.metadata["http.response.status_code"] == "413" }
                let refusedVerdicts = Set(refused.map { entry in "\(entry.metadata["tus.verdict"] ?? "")" })
                #expect(!refused.isEmpty, "nginx refused a large body")
                #expect(refusedVerdicts == ["send-smaller"])
                let last = try #require(requests.last)
                #expect(last.metadata["http.request.method"] == "PATCH")
                #expect(last.metadata["tus.upload.offset"] == "\(data.count)")

                let headerLines = entries.filter { entry in entry.message.description == "tus request headers" }
                let masked = headerLines.filter { entry in
                    entry.level == .trace && "\(entry.metadata["http.request.headers"] ?? "")".contains("Authorization: ***")
                }
                #expect(headerLines.count == requests.count)
                #expect(masked.count == headerLines.count)
                #expect(!everything(entries).contains(Self.token), "the token shows in no line")
            }
        }
    }

    /// Without a logger of its own, the client logs to the task's logger.
    @Test func withoutALoggerTheClientLogsToTheTasksLogger() async throws {
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try randomData(100_000).write(to: URL(fileURLWithPath: path))
            let handler = InMemoryLogHandler()
            var logger = Logger(label: "task") { _ in handler }
            logger.logLevel = .debug
            let client = TusClient(url: server.endpoint, proxy: .none)
            try await withLogger(logger) { _ in
                _ = try await client.uploader(forFileAtPath: path, options: UploadOptions()).upload()
            }
            // The OPTIONS sent beside the POST may be answered after the
            // upload has returned: wait for its line.
            do {
                try await waitUntil("a line for each request the server saw") {
                    requestLines(handler.entries).count == server.requestLog.count
                }
            } catch {
                Issue.record("\(server.requestLog) \(handler.entries.map { "\($0.message) \($0.metadata)" })")
            }
            #expect(requestLines(handler.entries).map { "\($0.metadata["http.request.method"] ?? "")" }.contains("POST"))
        }
    }

    /// A URL's password is masked in every line.
    @Test func aPasswordInTheURLIsMasked() async throws {
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try randomData(10_000).write(to: URL(fileURLWithPath: path))
            let handler = InMemoryLogHandler()
            var logger = Logger(label: "test") { _ in handler }
            logger.logLevel = .trace
            var components = URLComponents(url: server.endpoint, resolvingAgainstBaseURL: false)!
            components.user = "uploader"
            components.password = "pa55-Wq9Zr"
            let client = TusClient(url: components.url!, proxy: .none, logger: logger)
            _ = try await client.uploader(forFileAtPath: path, options: UploadOptions()).upload()
            #expect(!requestLines(handler.entries).isEmpty)
            #expect(!everything(handler.entries).contains("pa55-Wq9Zr"))
            #expect(everything(handler.entries).contains("uploader:***@"))
        }
    }
}
