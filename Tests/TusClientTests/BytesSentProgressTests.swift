import Foundation
import Testing
import TusClient
import TusDevServer
import TusTestSupport

/// Progress moves with the bytes as they go out, not only when the server
/// confirms a request: over a slow link, reports come during each request,
/// with more bytes sent than the server holds.
@Suite struct BytesSentProgressTests {
    @Test func progressMovesWhileARequestsBodyGoesOut() async throws {
        try await withDevServer { server, folder in
            let data = randomData(1 << 20)
            let path = folder.newPath("upload.bin")
            try data.write(to: URL(fileURLWithPath: path))
            // 1 MiB at 2 MB/s: each 512 KiB request takes about a quarter
            // of a second to go out.
            try await Relay.withRelay(to: server.endpoint, .rate(bytesPerSecond: 2_000_000)) { relay in
                var options = UploadOptions()
                options.chunkSize = 512 << 10
                let reports = Recorder<UploadProgress>()
                let client = TusClient(url: relay.url(for: server.endpoint), proxy: .none)
                let url = try await client.uploader(forFileAtPath: path, options: options).upload { reports.record($0) }
                #expect(server.uploadedData(for: url) == data)

                let values = reports.values
                #expect(values.allSatisfy { $0.bytesSent >= $0.bytesUploaded })
                let during = values.filter { $0.bytesSent > $0.bytesUploaded }
                #expect(!during.isEmpty, "some reports come while a body goes out: \(values.map { ($0.bytesUploaded, $0.bytesSent) })")
                #expect(during.contains { $0.bytesUploaded == 0 }, "the first request's bytes show before the server confirms them")
                #expect(values.last?.bytesUploaded == Int64(data.count))
                #expect(values.last?.bytesSent == Int64(data.count))
            }
        }
    }
}
