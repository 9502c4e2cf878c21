import Foundation
import Testing
import TusClient
import TusCore
import TusFileStorage
import TusTestSupport

/// The stored URL is the user's progress: what keeps it, what forgets it,
/// and how little a crash can lose, against real servers.
@Suite struct ResumabilityTests {
    /// A hook that renews a token, with a retry policy that retries a 401,
    /// turns a refusal into another try (as TUSKit's header generator and
    /// tus-js-client's onBeforeRequest do), through nginx's token check.
    @Test func aHookThatRenewsTheTokenTurnsARefusalIntoARetry() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(bearerToken: "fresh")) { nginx in
                let data = randomData(300_000)
                let tokens = TokenSource()
                var options = testOptions(chunkSize: 100_000, storage: try FileStorage(path: folder.newPath("store.json")))
                options.beforeRequest = { request in
                    request.setHeader("Authorization", "Bearer \(tokens.next())")
                }
                options.retryPolicy.shouldRetry = { $0.statusCode == 403 || RetryPolicy.isTransient($0) }
                let url = try await TusClient(url: nginx.url(for: server.endpoint), proxy: .none)
                    .uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                #expect(server.uploadedData(for: url) == data)
                #expect(tokens.given.first == "expired")
                #expect(tokens.given.count > 1)
                #expect(tokens.given.dropFirst().allSatisfy { $0 == "fresh" })
            }
        }
    }

    /// Without such a policy, a refusal stops the upload with the URL kept,
    /// and a run with the right token goes on from where it stopped.
    @Test func refusedCredentialsStopTheUploadAndKeepItsURL() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(bearerToken: "right")) { nginx in
                let data = randomData(300_000)
                let path = try file(data, in: folder)
                let store = try FileStorage(path: folder.newPath("store.json"))
                let client = TusClient(url: nginx.url(for: server.endpoint), proxy: .none)
                var options = testOptions(chunkSize: 100_000, storage: store)
                options.headers = ["Authorization": "Bearer right"]
                // The PATCH from byte 200,000 goes with a token that has
                // expired in the middle of the upload.
                options.beforeRequest = { request in
                    if request.method == "PATCH" && request.header("Upload-Offset") == "200000" {
                        request.setHeader("Authorization", "Bearer expired")
                    }
                }
                let uploader = try await client.uploader(forFileAtPath: path, options: options)
                let error = try await #require(throws: TusError.self) { try await uploader.upload() }
                #expect(error.code == .authenticationFailed)
                #expect(error.message.contains("refused the credentials"), "\(error.message)")
                #expect(error.message.contains("stays resumable"), "\(error.message)")
                #expect(!error.message.contains("expired\""))
                let key = try #require(uploader.key)
                let stored = try #require(try await store.url(forKey: key))

                options.beforeRequest = nil
                let again = try await client.uploader(forFileAtPath: path, options: options)
                #expect(again.isResuming)
                #expect(again.offset == 200_000)
                #expect(again.url?.absoluteString == stored)
                let url = try await again.upload()
                #expect(server.uploadedData(for: url) == data)
            }
        }
    }

    /// The POST that creates an upload carries at most 5 MiB whatever the
    /// chunk size: the URL is stored when its answer comes, so a crash
    /// before that loses no more.
    @Test func theFirstRequestCarriesABoundedPiece() async throws {
        try await withDevServer { server, folder in
            let data = randomData(12 << 20)
            let sizes = Recorder<String>()
            var options = testOptions(chunkSize: 64 << 20, storage: try FileStorage(path: folder.newPath("store.json")))
            options.beforeRequest = { sizes.record("\($0.method) \($0.bodyCount)") }
            let url = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(server.uploadedData(for: url) == data)
            let sent = sizes.values.filter { !$0.hasPrefix("OPTIONS") }
            #expect(sent == ["POST \(TusUploader.firstRequestCeiling)", "PATCH \((12 << 20) - TusUploader.firstRequestCeiling)"], "\(sent)")
        }
    }

    /// A run that stopped between storing the final upload of a parallel
    /// upload and removing its parts leaves both entries: the next run
    /// resumes the final upload and removes the parts' entry.
    @Test func aPartsEntryBesideItsFinalUploadIsRemovedByTheNextRun() async throws {
        try await withDevServer { server, folder in
            let data = randomData(200_000)
            let path = try file(data, in: folder)
            let store = try FileStorage(path: folder.newPath("store.json"))
            var options = testOptions(storage: store)
            options.keepsURLAfterSuccess = true
            let client = TusClient(url: server.endpoint)
            let first = try await client.uploader(forFileAtPath: path, options: options)
            let url = try await first.upload()
            let key = try #require(first.key)
            let partsKey = PartsEntry.key(forFileKey: key)
            try await store.setURL(#"[{"length":200000,"start":0,"url":"\#(url.absoluteString)"}]"#, forKey: partsKey)
            #expect(PartsEntry.orphanedKeys(in: try await store.entries()) == [partsKey])

            let again = try await client.uploader(forFileAtPath: path, options: options)
            #expect(again.isResuming)
            #expect(again.offset == 200_000)
            #expect(try await store.url(forKey: partsKey) == nil)
            #expect(try await store.url(forKey: key) == url.absoluteString)
        }
    }
}

/// Tokens for a `beforeRequest` hook: the first one given has expired,
/// every later one is fresh.
final class TokenSource: @unchecked Sendable {
    private let lock = NSLock()
    private var tokens: [String] = []

    func next() -> String {
        lock.withLock {
            tokens.append(tokens.isEmpty ? "expired" : "fresh")
            return tokens.last!
        }
    }

    var given: [String] { lock.withLock { tokens } }
}
