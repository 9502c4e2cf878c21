import Foundation
import MetricsTestKit
import Testing
import TusClient
import TusDevServer
import TusTestSupport

/// The client's metrics, through the factory it is given: requests, bytes,
/// retries and stalls by reason, uploads by outcome, request and store
/// durations.
@Suite struct UploadMetricsTests {
    /// Behind nginx taking at most 1 MiB a request.
    @Test func aShrinkAndAFinishedUploadAreCounted() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
                var random = SeededGenerator.forTest(#function)
                let data = random.bytes(3 << 20)
                let path = folder.newPath("upload.bin")
                try data.write(to: URL(fileURLWithPath: path))
                let metrics = TestMetrics()
                let client = TusClient(url: nginx.url(for: server.endpoint), proxy: .none, metricsFactory: metrics)
                _ = try await client.uploader(forFileAtPath: path, options: try optionsWithStore(in: folder)).upload()

                // One count per request nginx saw (the OPTIONS beside the
                // first POST may end after the upload).
                try await waitUntil("a count for each request nginx saw") {
                    metrics.total("tus.client.requests") == Int64(nginx.accessLog().count)
                }
                #expect(metrics.total("tus.client.requests", [("http.response.status_class", "4xx")]) >= 1)
                #expect(metrics.total("tus.client.retries", [("tus.reason", "body_too_large")]) >= 1)
                #expect(metrics.total("tus.client.bytes_sent") >= Int64(data.count))
                #expect(metrics.total("tus.client.uploads", [("tus.outcome", "finished")]) == 1)
                #expect(metrics.total("tus.client.uploads") == 1)
                let durations = metrics.timers.filter { $0.label == "http.client.request.duration" }
                #expect(durations.contains { $0.dimensions.contains { $0 == ("http.response.status_code", "413") } })
                #expect(durations.contains { timer in
                    timer.dimensions.contains { $0 == ("http.request.method", "PATCH") } && !timer.values.isEmpty
                })
                let store = metrics.timers.filter { $0.label == "tus.store.operation.duration" }
                for operation in ["get", "set", "remove"] {
                    #expect(store.contains { timer in
                        timer.dimensions.contains { $0 == ("tus.store.operation", operation) }
                            && timer.dimensions.contains { $0 == ("tus.store.backend", "FileStorage") }
                    }, "the store's \(operation) is timed")
                }
            }
        }
    }

    /// A stall ends a run that may not retry: the stall and the resumable
    /// failure are counted; the next run counts a resume and a finish.
    @Test func aStallAFailureAndAResumeAreCounted() async throws {
        try await withDevServer { server, folder in
            var random = SeededGenerator.forTest(#function)
            let data = random.bytes(2 << 20)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            var options = try optionsWithStore(in: folder)
            options.chunkSize = 256 << 10
            let metrics = TestMetrics()
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                var stalling = options
                stalling.stallTimeout = .seconds(1)
                stalling.retryPolicy.retries = 0
                let client = TusClient(url: relay.url(for: server.endpoint), proxy: .none, metricsFactory: metrics)
                await #expect(throws: (any Error).self) {
                    _ = try await client.uploader(forFileAtPath: path, options: stalling).upload()
                }
                relay.releaseStalls()
                #expect(metrics.total("tus.client.stalls") == 1)
                #expect(metrics.total("tus.client.retries") == 0, "no retry was allowed")
                #expect(metrics.total("tus.client.uploads", [("tus.outcome", "failed_resumable")]) == 1)

                // The stored URL names the relay, which stalls only once.
                let url = try await client.uploader(forFileAtPath: path, options: options).upload()
                #expect(server.uploadedData(for: url) == data)
                #expect(metrics.total("tus.client.uploads", [("tus.outcome", "resumed")]) == 1)
                #expect(metrics.total("tus.client.uploads", [("tus.outcome", "finished")]) == 1)
            }
        }
    }
}
