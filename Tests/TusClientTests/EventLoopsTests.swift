import AsyncHTTPClient
import Foundation
import NIOPosix
import Testing
import TusClient
import TusCore
import TusTestSupport

/// Uploads through an `HTTPClient` of the caller's with several event loops,
/// whose connections run on different threads at once.
@Suite struct EventLoopsTests {
    /// The parts of a parallel upload share the file; on a client with four
    /// loops they are sent on four threads at once, each part in one try.
    @Test func partsOnFourEventLoopsGoUpWithoutARetry() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 4)
        let http = HTTPClient(eventLoopGroupProvider: .shared(group))
        do {
            try await withDevServer { server, folder in
                for round in 1...3 {
                    var options = testOptions(chunkSize: 4 << 20)
                    options.parallelUploads = 4
                    options.retryPolicy.retries = 0
                    let events = Recorder<String>()
                    options.onEvent = { events.record("\($0)") }
                    let data = randomData(32_000_000)
                    let client = TusClient(url: server.endpoint, httpClient: http)
                    let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                    #expect(server.uploadedData(for: url) == data, "round \(round)")
                    #expect(events.values.isEmpty, "round \(round): \(events.values)")
                }
            }
        } catch {
            try await http.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        try await http.shutdown()
        try await group.shutdownGracefully()
    }
}
