import Foundation
import InMemoryTracing
import Testing
import Tracing
import TusClient
import TusDevServer
import TusTestSupport

/// The client's spans, through the tracer it is given: an upload span, its
/// requests, parts and store calls as children, retries and stalls as its
/// events, and each request's context sent along.
@Suite struct UploadTracingTests {
    private func spans(_ tracer: InMemoryTracer, named name: String) -> [FinishedInMemorySpan] {
        tracer.finishedSpans.filter { span in span.operationName == name }
    }

    /// Behind nginx taking at most 1 MiB a request.
    @Test func anUploadIsOneSpanWithItsRequestsAndStoreCallsAsChildren() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
                let path = folder.newPath("upload.bin")
                try randomData(3 << 20).write(to: URL(fileURLWithPath: path))
                let tracer = InMemoryTracer()
                let client = TusClient(url: nginx.url(for: server.endpoint), proxy: .none, tracer: tracer)
                _ = try await client.uploader(forFileAtPath: path, options: try optionsWithStore(in: folder)).upload()
                // The OPTIONS sent beside the first POST may end after the upload.
                try await waitUntil("a span for each request nginx saw") {
                    tracer.finishedSpans.filter { span in ["OPTIONS", "POST", "PATCH"].contains(span.operationName) }.count
                        == nginx.accessLog().count
                }

                let uploads = spans(tracer, named: "tus.upload")
                try #require(uploads.count == 1)
                let upload = uploads[0]
                #expect(upload.attributes.get("tus.upload.outcome") == .string("finished"))
                #expect(upload.attributes.get("tus.upload.size") == .int64(3 << 20))
                #expect(upload.attributes.get("tus.upload.parts") == .int64(1))
                #expect(upload.attributes.get("tus.protocol") == .string("tus-1.0.0"))

                let requests = tracer.finishedSpans.filter { span in ["OPTIONS", "POST", "PATCH"].contains(span.operationName) }
                let orphans = requests.filter { span in span.parentSpanID != upload.spanID }
                #expect(orphans.isEmpty, "every request is a child of the upload: \(orphans.map(\.operationName))")
                let refused = requests.filter { span in span.attributes.get("http.response.status_code") == .int64(413) }
                #expect(!refused.isEmpty, "the 413 is on a request span")
                #expect(tracer.performedContextInjections.count == requests.count, "each request carries its context")

                // The stored URL is looked up as the uploader is made, before
                // the upload's span; it is stored and removed within it.
                let store = tracer.finishedSpans.filter { span in span.operationName.hasPrefix("tus.store.") }
                #expect(Set(store.map(\.operationName)) == ["tus.store.get", "tus.store.set", "tus.store.remove"])
                let changes = store.filter { span in span.operationName != "tus.store.get" }
                #expect(changes.allSatisfy { span in span.parentSpanID == upload.spanID })
                #expect(changes.allSatisfy { span in span.attributes.get("tus.store.backend") == .string("FileStorage") })
            }
        }
    }

    @Test func aStallAndItsRetryAreEventsOfTheUpload() async throws {
        try await withDevServer { server, folder in
            let data = randomData(2 << 20)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: data.count / 2))) { relay in
                var options = try optionsWithStore(in: folder)
                options.chunkSize = 256 << 10
                options.stallTimeout = .seconds(1)
                let tracer = InMemoryTracer()
                let client = TusClient(url: relay.url(for: server.endpoint), proxy: .none, tracer: tracer)
                // The stalled request is abandoned after 1 s and the upload
                // goes on over a new connection; the relay stalls only once.
                let url = try await client.uploader(forFileAtPath: path, options: options).upload()
                relay.releaseStalls()
                #expect(server.uploadedData(for: url) == data)

                let upload = try #require(spans(tracer, named: "tus.upload").first)
                let names = upload.events.map(\.name)
                #expect(names.contains("tus.stall"), "\(names)")
                #expect(names.contains("tus.retry"), "\(names)")
                let stalled = tracer.finishedSpans.filter { span in span.attributes.get("error.type") == .string("stalled") }
                #expect(stalled.count == 1)
            }
        }
    }

    @Test func partsAreChildSpansOfTheUpload() async throws {
        try await withDevServer { server, folder in
            let data = randomData(1 << 20)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            var options = try optionsWithStore(in: folder)
            options.parallelUploads = 3
            let tracer = InMemoryTracer()
            let client = TusClient(url: server.endpoint, proxy: .none, tracer: tracer)
            let url = try await client.uploader(forFileAtPath: path, options: options).upload()
            #expect(server.uploadedData(for: url) == data)

            let upload = try #require(spans(tracer, named: "tus.upload").first)
            #expect(upload.attributes.get("tus.upload.parts") == .int64(3))
            let parts = spans(tracer, named: "tus.upload.part")
            #expect(parts.count == 3)
            #expect(parts.allSatisfy { span in span.parentSpanID == upload.spanID })
            let partIDs = Set(parts.map(\.spanID))
            let partRequests = tracer.finishedSpans.filter { span in span.operationName == "PATCH" || span.operationName == "POST" }
                .filter { span in span.parentSpanID.map(partIDs.contains) == true }
            #expect(partRequests.count >= 3, "each part's requests are its children")
        }
    }
}
