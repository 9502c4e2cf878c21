import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// The request hooks and the retry policy, as a user replaces them.
@Suite struct HooksAndRetryPolicyTests {
    @Test func beforeRequestChangesEveryRequestAndAfterResponseSeesEveryAnswer() async throws {
        try await withDevServer { server, folder in
            let data = randomData(250_000)
            let seen = Recorder<String>()
            let tokens = Recorder<String>()
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            options.beforeRequest = { request in
                let token = "token-\(tokens.values.count)"
                tokens.record(token)
                request.setHeader("authorization", "Bearer \(token)")
            }
            options.afterResponse = { response in
                seen.record("\(response.request.method) \(response.statusCode) \(response.request.header("Authorization") ?? "-")")
            }
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            // A fresh token on each request, as for a long upload.
            #expect(seen.values == [
                "POST 201 Bearer token-0", "PATCH 204 Bearer token-1", "PATCH 204 Bearer token-2", "PATCH 204 Bearer token-3",
            ])
        }
    }

    @Test func aHookThatThrowsEndsTheUploadWithItsError() async throws {
        struct NoToken: Error {}
        try await withDevServer { server, folder in
            var options = testOptions()
            options.beforeRequest = { request in
                if request.method == "PATCH" { throw NoToken() }
            }
            options.uploadsDuringCreation = false
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(randomData(1000), in: folder), options: options)
            await #expect(throws: NoToken.self) { try await uploader.upload() }
        }
    }

    @Test func shouldRetryCanRefuseWhatTheDefaultRetries() async throws {
        try await withDevServer { server, folder in
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            let decisions = Recorder<Int?>()
            options.retryPolicy.shouldRetry = { failure in
                decisions.record(failure.statusCode)
                return false
            }
            server.inject(.status(503, method: "PATCH"))
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(randomData(150_000), in: folder), options: options)
            let error = await #expect(throws: TusError.self) { try await uploader.upload() }
            #expect(error?.message.contains("503") == true)
            #expect(error?.message.contains("gave up") == false)
            #expect(decisions.values == [503])
        }
    }

    @Test func shouldRetryCanRetryWhatTheDefaultDoesNot() async throws {
        try await withDevServer { server, folder in
            let data = randomData(150_000)
            var options = testOptions(chunkSize: 100_000)
            options.uploadsDuringCreation = false
            options.retryPolicy.shouldRetry = { $0.statusCode == 400 || RetryPolicy.isTransient($0) }
            let events = Recorder<String>()
            options.onEvent = { event in
                if case .retrying(let failure, _) = event { events.record("\(failure.method) \(failure.statusCode ?? 0)") }
            }
            server.inject(.status(400, method: "PATCH"))
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(events.values == ["PATCH 400"])
        }
    }

    @Test func theDefaultPolicyRetriesTransientFailuresOnly() {
        func failure(_ status: Int?) -> RequestFailure {
            RequestFailure(method: "PATCH", statusCode: status, error: TusError(.unavailable, "x"), attempt: 1)
        }
        for status in [nil, 500, 502, 503, 408, 409, 423, 429, 460] as [Int?] {
            #expect(RetryPolicy.isTransient(failure(status)), "\(String(describing: status))")
        }
        for status in [400, 401, 403, 404, 410, 412, 413] {
            #expect(!RetryPolicy.isTransient(failure(status)), "\(status)")
        }
        let policy = RetryPolicy(delay: .milliseconds(500), maximumDelay: .seconds(3))
        #expect((1...5).map { policy.delay(beforeRetry: $0) } == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(3)])
    }

    @Test func aCopyGivenAnotherURLAsksItsOwnServer() async throws {
        try await withDevServer { first, _ in
            try await withDevServer({ $0.maxUploadSize = 1000 }) { second, _ in
                let client = TusClient(url: first.endpoint)
                let firstAnswer = try await client.capabilities()
                var copy = client
                copy.url = second.endpoint
                let secondAnswer = try await copy.capabilities()
                let firstAgain = try await client.capabilities()
                #expect(firstAnswer.maxSize == 1 << 40)
                #expect(secondAnswer.maxSize == 1000)
                #expect(firstAgain.maxSize == 1 << 40)
            }
        }
    }
}

/// Values recorded from any thread.
final class Recorder<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Value] = []
    func record(_ value: Value) { lock.withLock { recorded.append(value) } }
    var values: [Value] { lock.withLock { recorded } }
}
