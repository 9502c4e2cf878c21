import Foundation
import Testing
import TusClient
import TusCore
import TusFileStorage
import TusTestSupport

/// The library's uploader speaking the IETF draft to Apple's
/// NIOResumableUpload: through a proxy, with hooks, with a store.
@Suite struct DraftClientTests {
    /// A plain `http://` draft upload through a proxy goes in absolute form,
    /// its creation too (on the connection that shows the `104`).
    @Test func aDraftUploadGoesThroughAProxyInAbsoluteForm() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(3 << 20)
        try await NIOResumableUploadServer.withServer { server in
            try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                let folder = try TemporaryFolder()
                let target = server.uploadURL("proxied.bin")
                let client = TusClient(url: target, proxy: ProxySettings(httpProxy: proxy.url))
                var options = testOptions(chunkSize: 1 << 20)
                options.uploadProtocol = .ietfDraft
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                #expect(try Data(contentsOf: server.uploadedFile("proxied.bin")) == data)
                let requests = proxy.requestLog()
                #expect(requests.contains { $0.hasPrefix("POST \(target.absoluteString) HTTP/1.1") }, "\(requests)")
                #expect(requests.filter { $0.hasPrefix("PATCH \(url.absoluteString) HTTP/1.1") }.count >= 2, "\(requests)")
                #expect(!requests.contains { $0.hasPrefix("CONNECT") }, "\(requests)")
            }
        }
    }

    /// The hooks see every draft request and answer: the interop version
    /// and `Upload-Complete` on each, no `Tus-Resumable`, and the store
    /// holds the URL with its interop version while the upload runs.
    @Test func hooksSeeTheDraftsRequestsAndTheStoreItsURL() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(2 << 20)
        try await NIOResumableUploadServer.withServer { server in
            let folder = try TemporaryFolder()
            let storage = try FileStorage(path: folder.newPath("store.json"))
            let seen = LockedList<String>()
            let stored = LockedList<String>()
            var options = testOptions(chunkSize: 1 << 20, storage: storage)
            options.uploadProtocol = .ietfDraft
            options.beforeRequest = { request in
                let names = Set(request.headers.map { $0.name.lowercased() })
                seen.append("\(request.method) interop=\(names.contains("upload-draft-interop-version")) complete=\(names.contains("upload-complete")) tus=\(names.contains("tus-resumable"))")
            }
            options.afterResponse = { response in
                if response.request.method == "PATCH", let key = try await storage.entries().first?.key {
                    stored.append(try await storage.url(forKey: key) ?? "none")
                }
            }
            let client = TusClient(url: server.uploadURL("hooked.bin"))
            let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
            #expect(try Data(contentsOf: server.uploadedFile("hooked.bin")) == data)
            #expect(seen.values == [
                "POST interop=true complete=true tus=false",
                "PATCH interop=true complete=true tus=false",
            ], "\(seen.values)")
            #expect(stored.values == [url.absoluteString + "#upload-draft-interop-version=6"], "\(stored.values)")
            #expect(try await storage.entries().isEmpty, "removed once finished")
        }
    }
}

/// The uploader speaking the IETF draft to `tus serve`, through a relay
/// that cuts or stalls and with the dev server's faults: the same retries,
/// resynchronisation and termination as tus.
@Suite struct DraftDevServerTests {
    private func draftOptions(chunkSize: Int? = nil, storage: (any Storage)? = nil) -> UploadOptions {
        var options = testOptions(chunkSize: 64 * 1024, storage: storage)
        options.chunkSize = chunkSize
        options.uploadProtocol = .ietfDraft
        options.stallTimeout = .seconds(2)
        return options
    }

    /// The connection of the creation breaks after the `104` came: the
    /// upload goes on at the `104`'s URL from the server's offset, with no
    /// second upload created.
    @Test func aCreationCutAfterThe104GoesOnAtItsURL() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(3 << 20)
        try await withDevServer { server, folder in
            // A steady 4 MB/s, so the 104 (sent as the creation's head
            // arrives) reaches the client before the cut, as on any real
            // link; on an unlimited loopback the cut's reset can beat it.
            let link = Relay.Behaviour(cut: .init(afterBytes: 1 << 20, times: 1), rate: .init(bytesPerSecond: 4_000_000))
            try await Relay.withRelay(to: server.endpoint, link) { relay in
                let storage = try FileStorage(path: folder.newPath("store.json"))
                let client = TusClient(url: relay.url(for: server.endpoint))
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: draftOptions(storage: storage)).upload()
                #expect(server.uploadedData(for: url.withPort(server.endpoint.port)) == data)
                let log = server.requestLog
                #expect(log.filter { $0.hasPrefix("POST") }.count == 1, "one upload: \(log)")
                #expect(log.contains { $0.hasPrefix("HEAD") }, "the offset was asked: \(log)")
                #expect(server.uploadInfo(for: url.withPort(server.endpoint.port))?.madeWith == .ietfDraft(interopVersion: 6, complete: true))
            }
        }
    }

    /// A 503, and a 409, to an append: tried again, the 409 after asking
    /// the server's offset; the bytes end whole.
    @Test(arguments: [503, 409])
    func anAppendRefusedWith(status: Int) async throws {
        var random = SeededGenerator.forTest(#function + "\(status)")
        let data = random.bytes(1 << 20)
        try await withDevServer { server, folder in
            server.inject(.status(status, method: "PATCH"))
            let client = TusClient(url: server.endpoint)
            let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: draftOptions(chunkSize: 256 << 10)).upload()
            #expect(server.uploadedData(for: url) == data)
            #expect(server.pendingFaults.isEmpty)
            if status == 409 { #expect(server.requestLog.contains { $0.hasPrefix("HEAD") }, "\(server.requestLog)") }
        }
    }

    /// A stored draft upload is terminated with `DELETE`, and its URL
    /// forgotten.
    @Test func aDraftUploadIsTerminated() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(300_000)
        try await withDevServer { server, folder in
            let storage = try FileStorage(path: folder.newPath("store.json"))
            var options = draftOptions(storage: storage)
            options.keepsURLAfterSuccess = true
            let uploader = try await TusClient(url: server.endpoint).uploader(forFileAtPath: try file(data, in: folder), options: options)
            let url = try await uploader.upload()
            #expect(server.uploadInfo(for: url) != nil)
            try await uploader.terminate()
            #expect(server.uploadInfo(for: url) == nil, "the server no longer has it")
            #expect(server.requestLog.contains { $0.hasPrefix("DELETE") })
            #expect(try await storage.entries().isEmpty)
        }
    }

    /// In `auto`, `tus serve` (which answers a request carrying
    /// `Tus-Resumable` in tus) gets a tus upload, and the client's next
    /// upload speaks tus alone from its first request.
    @Test func autoSpeaksTusToTusServeAndRemembersIt() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(300_000)
        try await withDevServer { server, folder in
            let posts = LockedList<Bool>()
            var options = testOptions()
            options.uploadProtocol = .auto
            options.uploadsDuringCreation = false
            options.beforeRequest = { request in
                if request.method == "POST" { posts.append(request.headers.contains { $0.name == "Upload-Draft-Interop-Version" }) }
            }
            let client = TusClient(url: server.endpoint)
            let path = try file(data, in: folder)
            for _ in 0..<2 {
                let url = try await client.uploader(forFileAtPath: path, options: options).upload()
                #expect(server.uploadedData(for: url) == data)
                #expect(server.uploadInfo(for: url)?.madeWith == .tus)
            }
            #expect(posts.values == [true, false], "the first POST offers both, the second tus alone")
        }
    }

    /// An upload cancelled in its creation, after the `104`: the URL is
    /// stored and the uploader has it, and the next upload goes on there
    /// without creating another.
    @Test func anUploadCancelledAfterThe104StaysResumable() async throws {
        var random = SeededGenerator.forTest(#function)
        let data = random.bytes(2 << 20)
        try await withDevServer { server, folder in
            try await Relay.withRelay(to: server.endpoint, .rate(bytesPerSecond: 400_000)) { relay in
                let storage = try FileStorage(path: folder.newPath("store.json"))
                let path = try file(data, in: folder)
                let client = TusClient(url: relay.url(for: server.endpoint))
                let uploader = try await client.uploader(forFileAtPath: path, options: draftOptions(storage: storage))
                let task = Task { try await uploader.upload() }
                try await waitUntil("the 104's URL is stored") { try await !storage.entries().isEmpty }
                task.cancel()
                _ = await task.result
                let stored = try #require(try await storage.entries().first?.url)
                #expect(stored.hasSuffix("#upload-draft-interop-version=6"), "\(stored)")
                #expect(uploader.url != nil)
                let again = try await TusClient(url: server.endpoint).uploader(forFileAtPath: path, options: draftOptions(storage: storage))
                #expect(again.isResuming)
                let url = try await again.upload()
                #expect(server.uploadedData(for: url) == data)
                #expect(server.requestLog.filter { $0.hasPrefix("POST") }.count == 1, "\(server.requestLog)")
            }
        }
    }
}

private extension URL {
    /// The same URL at `port` (the relay's URL of an upload, at the server).
    func withPort(_ port: Int?) -> URL {
        var components = URLComponents(url: self, resolvingAgainstBaseURL: false)!
        components.port = port
        return components.url!
    }
}

/// A list appended to from hooks, read by the test.
final class LockedList<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []
    func append(_ item: Element) { lock.withLock { items.append(item) } }
    var values: [Element] { lock.withLock { items } }
}
