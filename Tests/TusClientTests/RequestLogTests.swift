import Foundation
import InMemoryLogging
import Logging
import InMemoryTracing
import MetricsTestKit
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

    /// A logger at `level` whose lines `handler` keeps.
    private func recordingLogger(_ label: String, level: Logger.Level) -> (Logger, InMemoryLogHandler) {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: label) { _ in handler }
        logger.logLevel = level
        return (logger, handler)
    }

    private func requestLines(_ entries: [InMemoryLogHandler.Entry]) -> [InMemoryLogHandler.Entry] {
        entries.filter { $0.message.description == "tus request" }
    }

    /// The requests of `seen`, by method, that have no line of their own in
    /// `entries`: empty when every request the server saw has its line.
    private func requestsWithoutALine(_ seen: [String], in entries: [InMemoryLogHandler.Entry]) -> [String: Int] {
        var missing: [String: Int] = [:]
        for method in seen { missing[method, default: 0] += 1 }
        for line in requestLines(entries) { missing["\(line.metadata["http.request.method"] ?? "")", default: 0] -= 1 }
        return missing.filter { entry in entry.value > 0 }
    }

    /// The methods, with how many lines too many, of the answered requests
    /// of `entries` (every verdict but `cancelled`) that outnumber those
    /// the server saw: empty when no request is logged twice.
    private func requestsLoggedTwice(_ seen: [String], in entries: [InMemoryLogHandler.Entry]) -> [String: Int] {
        var extra: [String: Int] = [:]
        for line in requestLines(entries) where line.metadata["tus.verdict"] != "cancelled" {
            extra["\(line.metadata["http.request.method"] ?? "")", default: 0] += 1
        }
        for method in seen { extra[method, default: 0] -= 1 }
        return extra.filter { entry in entry.value > 0 }
    }

    /// The method of each line of nginx's access log
    /// (`… "POST /files/ HTTP/1.1" 201 …`).
    private func methods(ofAccessLog lines: [String]) -> [String] {
        lines.compactMap { line in line.split(separator: "\"").dropFirst().first?.split(separator: " ").first.map(String.init) }
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
                let (logger, handler) = recordingLogger("test", level: .trace)
                var options = UploadOptions()
                options.retryPolicy.delay = .milliseconds(10)
                let client = TusClient(
                    url: nginx.url(for: server.endpoint), headers: ["Authorization": "Bearer \(Self.token)"], proxy: .none,
                    logger: logger)
                let url = try await client.uploader(forFileAtPath: path, options: options).upload()
                #expect(server.uploadedData(for: url) == data)

                // A line for each request nginx saw (the OPTIONS beside
                // the first POST may end after the upload, answered or
                // cancelled).
                try await waitUntil("a line for each request nginx saw") {
                    requestsWithoutALine(methods(ofAccessLog: nginx.accessLog()), in: handler.entries).isEmpty
                }
                #expect(requestsLoggedTwice(methods(ofAccessLog: nginx.accessLog()), in: handler.entries).isEmpty)
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
                // The last PATCH finished the upload (the OPTIONS sent
                // beside the first POST may have ended after it).
                let last = try #require(requests.last { entry in entry.metadata["http.request.method"] == "PATCH" })
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
            let (logger, handler) = recordingLogger("task", level: .debug)
            let client = TusClient(url: server.endpoint, proxy: .none)
            try await withLogger(logger) { _ in
                _ = try await client.uploader(forFileAtPath: path, options: UploadOptions()).upload()
            }
            // The OPTIONS sent beside the POST may be answered, or
            // cancelled, after the upload has returned: wait for its line.
            let seen = { server.requestLog.compactMap { request in request.split(separator: " ").first.map(String.init) } }
            try await waitUntil("a line for each request the server saw") {
                requestsWithoutALine(seen(), in: handler.entries).isEmpty
            }
            #expect(requestsLoggedTwice(seen(), in: handler.entries).isEmpty)
            #expect(requestLines(handler.entries).map { "\($0.metadata["http.request.method"] ?? "")" }.contains("POST"))
        }
    }

    /// A request whose task is cancelled while it waits for its answer is
    /// one line too, with the verdict `cancelled`, and one request counted
    /// with the status class `cancelled`.
    @Test func aCancelledRequestIsALineAndACountedRequest() async throws {
        try await withDevServer { server, folder in
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: 50_000))) { relay in
                let path = folder.newPath("upload.bin")
                try randomData(200_000).write(to: URL(fileURLWithPath: path))
                let (logger, handler) = recordingLogger("test", level: .debug)
                let metrics = TestMetrics()
                let tracer = InMemoryTracer()
                let client = TusClient(
                    url: relay.url(for: server.endpoint), proxy: .none, logger: logger, metricsFactory: metrics, tracer: tracer)
                let uploader = try await client.uploader(forFileAtPath: path, options: UploadOptions())
                let upload = Task { try await uploader.upload() }
                try await relay.waitUntil { counters in counters.stallsBegun >= 1 }
                upload.cancel()
                await #expect(throws: CancellationError.self) { try await upload.value }
                relay.releaseStalls()

                let cancelled = requestLines(handler.entries).filter { entry in entry.metadata["tus.verdict"] == "cancelled" }
                let methods = cancelled.map { entry in "\(entry.metadata["http.request.method"] ?? "")" }
                #expect(methods.contains("POST"), "the POST held by the stall is a cancelled line: \(methods)")
                #expect(metrics.total("tus.client.requests", [("http.response.status_class", "cancelled")]) == Int64(cancelled.count))
                let cancelledSpans = tracer.finishedSpans.filter { span in span.attributes.get("tus.verdict") == .string("cancelled") }
                #expect(cancelledSpans.map(\.operationName).sorted() == methods.sorted(), "a span for each cancelled request says so")
            }
        }
    }

    /// A URL's password is masked in every line.
    @Test func aPasswordInTheURLIsMasked() async throws {
        try await withDevServer { server, folder in
            let path = folder.newPath("upload.bin")
            try randomData(10_000).write(to: URL(fileURLWithPath: path))
            let (logger, handler) = recordingLogger("test", level: .trace)
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
