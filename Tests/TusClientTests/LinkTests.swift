import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// Links that misbehave, through the test relay, and a proxy's body limit
/// through nginx: each upload finishes in one run with the server's bytes
/// identical to the file, with the uploader's own choice of request sizes.
@Suite struct LinkTests {
    /// The options a user leaves alone, with quick retries.
    func defaultOptions() -> UploadOptions {
        var options = UploadOptions()
        options.retryPolicy.delay = .milliseconds(10)
        options.retryPolicy.maximumDelay = .milliseconds(50)
        return options
    }

    @Test func aLinkThatCutsEveryFewMegabytesStillFinishes() async throws {
        try await withDevServer { server, folder in
            try await Relay.withRelay(to: server.endpoint, .init(cut: .init(afterBytes: 4_000_000))) { relay in
                let data = randomData(16 << 20)
                var options = defaultOptions()
                let events = Recorder<String>()
                options.onEvent = { event in
                    if case .chunkSizeReduced(_, let to, .interrupted) = event { events.record("smaller \(to)") }
                }
                let client = TusClient(url: relay.url(for: server.endpoint), proxy: .none)
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                #expect(server.uploadedData(for: url) == data)
                _ = try await relay.waitUntil { $0.cuts >= 2 }
                #expect(!events.values.isEmpty)
            }
        }
    }

    @Test func aStalledRequestIsAbandonedAndTheUploadGoesOn() async throws {
        try await withDevServer { server, folder in
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: 1_000_000))) { relay in
                let data = randomData(8 << 20)
                var options = defaultOptions()
                options.stallTimeout = .milliseconds(500)
                let retries = Recorder<String>()
                options.onEvent = { event in
                    if case .retrying(let failure, _) = event { retries.record(failure.error.message) }
                }
                let client = TusClient(url: relay.url(for: server.endpoint), proxy: .none)
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                #expect(server.uploadedData(for: url) == data)
                let counters = try await relay.waitUntil { $0.stallsBegun >= 1 }
                #expect(counters.stallsBegun == 1)
                // The stalled connection is still held: the upload went on without it.
                #expect(counters.stallsEnded == 0)
                #expect(retries.values.count == 1)
                #expect(retries.values.first?.contains("nothing moved for 0.5 s; the request was abandoned") == true, "\(retries.values)")
                relay.releaseStalls()
            }
        }
    }

    @Test func onALongRoundTripRequestsGrow() async throws {
        try await withDevServer { server, folder in
            try await Relay.withRelay(to: server.endpoint, .latency(roundTrip: .milliseconds(40))) { relay in
                let data = randomData(32 << 20)
                let client = TusClient(url: relay.url(for: server.endpoint), proxy: .none)
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: defaultOptions()).upload()
                #expect(server.uploadedData(for: url) == data)
                // Fixed 5 MiB requests would take the POST and six PATCHes,
                // each a round trip of idle.
                let patches = server.requestLog.filter { $0.hasPrefix("PATCH") }.count
                #expect(patches < 6, "\(server.requestLog)")
            }
        }
    }

    @Test func aBodyLimitHalvesRequestsUntilTheyPass() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
                let data = randomData(6 << 20)
                var options = defaultOptions()
                let reductions = Recorder<(Int, UploadEvent.ChunkSizeReason)>()
                options.onEvent = { event in
                    if case .chunkSizeReduced(_, let to, let reason) = event { reductions.record((to, reason)) }
                }
                let client = TusClient(url: nginx.url(for: server.endpoint), proxy: .none)
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                #expect(server.uploadedData(for: url) == data)
                // 5 MiB, 2.5 MiB and 1.25 MiB are refused once each (nginx
                // may reset the connection instead of answering, which
                // halves the size too); 640 KiB passes and stays.
                #expect(reductions.values.map(\.0) == [5 << 19, 5 << 18, 5 << 17])
                #expect(reductions.values.contains { $0.1 == .bodyTooLarge })
                #expect(nginx.accessLog().filter { $0.contains(" 413 ") }.count <= 3, "\(nginx.accessLog())")
            }
        }
    }

    @Test func theCLISaysOnceThatABodyLimitMadeRequestsSmaller() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
                let data = randomData(6 << 20)
                let path = try file(data, in: folder)
                let result = try runTus(["upload", path, "--endpoint", nginx.url(for: server.endpoint).absoluteString, "--no-store"])
                #expect(result.status == 0, "\(result.stderr)")
                let url = try #require(URL(string: result.output.split(separator: "\n").last.map(String.init) ?? ""))
                #expect(server.uploadedData(for: url) == data)
                let notices = result.stderr.split(separator: "\n").filter { $0.contains("(413)") }
                #expect(notices == ["the server or a proxy refuses 5.0 MiB in one request (413): sending at most 2.5 MiB at a time"], "\(result.stderr)")
            }
        }
    }

    @Test func theCLIShowsAStallAndGoesOn() async throws {
        try await withDevServer { server, folder in
            try await Relay.withRelay(to: server.endpoint, .init(stall: .once(afterBytes: 1_000_000))) { relay in
                let data = randomData(8 << 20)
                let path = try file(data, in: folder)
                let result = try runTus([
                    "upload", path, "--endpoint", relay.url(for: server.endpoint).absoluteString, "--no-store", "--stall-timeout", "1s",
                ])
                #expect(result.status == 0, "\(result.stderr)")
                let url = try #require(URL(string: result.output.split(separator: "\n").last.map(String.init) ?? ""))
                #expect(server.uploadedData(for: url) == data)
                #expect(result.stderr.contains("nothing moved for 1 s; the request was abandoned; retrying in 0.5 s"), "\(result.stderr)")
                relay.releaseStalls()
            }
        }
    }
}
