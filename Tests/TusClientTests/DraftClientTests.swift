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

/// A list appended to from hooks, read by the test.
final class LockedList<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []
    func append(_ item: Element) { lock.withLock { items.append(item) } }
    var values: [Element] { lock.withLock { items } }
}
