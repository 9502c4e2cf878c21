import Foundation
import InMemoryLogging
import InMemoryTracing
import Logging
import MetricsTestKit
import Testing
import Tracing
import TusClient
import TusDevServer
import TusTestSupport

/// Logs, metrics and spans come from the same verdicts: over one upload
/// that meets a body limit (413), is interrupted once the server holds part
/// of it, and is resumed, every signal counts the same requests, shrinks and
/// outcomes. (Stalls: UploadMetricsTests and UploadTracingTests.)
@Suite struct UploadSignalsTests {
    @Test func aShrinkAnInterruptionAndAResumeGiveTheSameCountsInEverySignal() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
                var random = SeededGenerator.forTest(#function)
                let data = random.bytes(3 << 20)
                let path = folder.newPath("upload.bin")
                try data.write(to: URL(fileURLWithPath: path))
                let handler = InMemoryLogHandler()
                var logger = Logger(label: "signals") { _ in handler }
                logger.logLevel = .debug
                let metrics = TestMetrics()
                let tracer = InMemoryTracer()
                let options = try optionsWithStore(in: folder)
                let client = TusClient(
                    url: nginx.url(for: server.endpoint), proxy: .none, logger: logger, metricsFactory: metrics, tracer: tracer)
                // The first run is cancelled once the server holds a part.
                let first = try await client.uploader(forFileAtPath: path, options: options)
                let interrupted = Task {
                    try await first.upload { progress in
                        if progress.bytesUploaded > 0 { withUnsafeCurrentTask { $0?.cancel() } }
                    }
                }
                await #expect(throws: CancellationError.self) { try await interrupted.value }
                let url = try await client.uploader(forFileAtPath: path, options: options).upload()
                #expect(server.uploadedData(for: url) == data)

                // The 413 made the first run wait for the OPTIONS sent beside
                // its POST: every request has ended by now.
                let requestLines = handler.entries.filter { entry in entry.message.description == "tus request" }
                let requestSpans = tracer.finishedSpans.filter { span in ["OPTIONS", "POST", "HEAD", "PATCH"].contains(span.operationName) }
                #expect(requestLines.count == nginx.accessLog().count, "one line per request nginx saw")
                #expect(Int64(requestLines.count) == metrics.total("tus.client.requests"))
                #expect(requestSpans.count == requestLines.count)

                let shrinks = requestLines.filter { entry in entry.metadata["tus.verdict"] == "send-smaller" }
                #expect(!shrinks.isEmpty, "nginx refused a large body")
                #expect(metrics.total("tus.client.retries", [("tus.reason", "body_too_large")]) == Int64(shrinks.count))

                #expect(metrics.total("tus.client.uploads", [("tus.outcome", "failed_resumable")]) == 1)
                #expect(metrics.total("tus.client.uploads", [("tus.outcome", "resumed")]) == 1)
                #expect(metrics.total("tus.client.uploads", [("tus.outcome", "finished")]) == 1)
                let uploads = tracer.finishedSpans.filter { span in span.operationName == "tus.upload" }
                let outcomes = uploads.map { span in span.attributes.get("tus.upload.outcome") }
                #expect(outcomes == [.string("failed_resumable"), .string("finished")])
                #expect(uploads.last?.attributes.get("tus.upload.resumed_from") != nil)
            }
        }
    }
}
