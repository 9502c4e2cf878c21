import Foundation
import InMemoryLogging
import Logging
import MetricsTestKit
import Testing
import TusDevServer
import TusTestSupport

/// The development server's signals: one line per request at info once it
/// is answered (method, path, status, seconds; nothing from its headers),
/// and `http.server.request.duration` by method and status.
@Suite struct ServerSignalsTests {
    @Test func eachAnsweredRequestIsOneInfoLineAndOneDuration() async throws {
        let handler = InMemoryLogHandler()
        let metrics = TestMetrics()
        try await withDevServer({ configuration in
            var logger = Logger(label: "server") { _ in handler }
            logger.logLevel = .info
            configuration.logger = logger
            configuration.metricsFactory = metrics
        }) { server, _ in
            let created = try await Curl.request(
                "POST", server.endpoint, headers: ["Upload-Length": "5", "Authorization": "Bearer s3cret-Tk9"])
            #expect(created.status == 201)
            let url = try #require(created["location"].flatMap(URL.init(string:)))
            let patched = try await Curl.request(
                "PATCH", url,
                headers: ["Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"], body: Data("hello".utf8))
            #expect(patched.status == 204)

            let lines = handler.entries.filter { entry in entry.level == .info }
            let requests = lines.filter { entry in entry.metadata["http.response.status_code"] != nil }
            #expect(requests.count == 2, "\(lines.map(\.message))")
            #expect(requests.first?.message.description.hasPrefix("POST /files/ 201 ") == true)
            #expect(requests.last?.metadata["http.request.method"] == "PATCH")
            #expect(requests.last?.metadata["http.response.status_code"] == "204")
            let everything = handler.entries.map { entry in "\(entry.message) \(entry.metadata)" }.joined()
            #expect(!everything.contains("s3cret-Tk9"), "no header value is logged")

            let durations = metrics.timers.filter { timer in timer.label == "http.server.request.duration" }
            #expect(durations.contains { timer in
                timer.dimensions.contains { $0 == ("http.request.method", "POST") }
                    && timer.dimensions.contains { $0 == ("http.response.status_code", "201") }
            })
            #expect(durations.contains { timer in timer.dimensions.contains { $0 == ("http.response.status_code", "204") } })
        }
    }
}
