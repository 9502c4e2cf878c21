import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// Uploads through a real forward proxy (tinyproxy), as `http_proxy` and
/// `https_proxy` send them.
@Suite struct ProxyTests {
    @Test func anHTTPUploadGoesThroughTheProxyInAbsoluteForm() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy { proxy in
                let data = randomData(700_000)
                let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: proxy.url))
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: testOptions(chunkSize: 256 * 1024)).upload()
                #expect(server.uploadedData(for: url) == data)
                let requests = proxy.requestLog()
                #expect(requests.contains { $0.hasPrefix("POST \(server.endpoint.absoluteString) HTTP/1.1") }, "\(requests)")
                #expect(requests.contains { $0.hasPrefix("PATCH \(url.absoluteString) HTTP/1.1") }, "\(requests)")
                #expect(!requests.contains { $0.hasPrefix("CONNECT") }, "\(requests)")
            }
        }
    }

    /// A proxy that tunnels to port 443 only (as squid does by default)
    /// still carries plain `http://` uploads: they go as plain requests.
    @Test func anHTTPUploadGoesThroughAProxyThatTunnelsTo443Only() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                let data = randomData(3 << 20)
                let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: proxy.url))
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: testOptions(chunkSize: 1 << 20)).upload()
                #expect(server.uploadedData(for: url) == data)
                let requests = proxy.requestLog()
                #expect(requests.contains { $0.hasPrefix("POST \(server.endpoint.absoluteString) HTTP/1.1") }, "\(requests)")
                #expect(requests.filter { $0.hasPrefix("PATCH \(url.absoluteString) HTTP/1.1") }.count >= 2, "\(requests)")
                #expect(!requests.contains { $0.hasPrefix("CONNECT") }, "\(requests)")
            }
        }
    }

    static let faults: [Fault] = [
        .dropConnectionDuringPatch(afterBytes: 30_000),
        .status(500, method: "PATCH"),
        .status(409, method: "PATCH"),
        .stall(seconds: 3, method: "PATCH"),
    ]

    /// The server's faults reach the client through the proxy: a dropped
    /// connection, an error status, a request that outlives its deadline.
    @Test(arguments: faults)
    func anUploadThroughTheProxyRecoversFrom(fault: Fault) async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                let data = randomData(250_000)
                var options = testOptions(chunkSize: 100_000)
                options.uploadsDuringCreation = false
                options.requestTimeout = .seconds(1)
                let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: proxy.url))
                let uploader = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options)
                server.inject(fault)
                server.inject(fault)
                let url = try await uploader.upload()
                #expect(server.uploadedData(for: url) == data)
                #expect(server.pendingFaults.isEmpty)
                #expect(!proxy.requestLog().contains { $0.hasPrefix("CONNECT") }, "\(proxy.requestLog())")
            }
        }
    }

    /// A link to the proxy that stops moving: the request is abandoned
    /// after the stall timeout, and the upload goes on.
    @Test func aStalledLinkToTheProxyIsAbandonedAndTheUploadGoesOn() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                try await Relay.withRelay(to: proxy.url, .init(stall: .once(afterBytes: 1_000_000))) { relay in
                    let data = randomData(4 << 20)
                    var options = testOptions(chunkSize: 2 << 20)
                    options.stallTimeout = .milliseconds(500)
                    let retries = Recorder<String>()
                    options.onEvent = { event in
                        if case .retrying(let failure, _) = event { retries.record(failure.error.message) }
                    }
                    let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: relay.url(path: "")))
                    let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                    #expect(server.uploadedData(for: url) == data)
                    let counters = try await relay.waitUntil { $0.stallsBegun >= 1 }
                    #expect(counters.stallsBegun == 1)
                    #expect(retries.values.count == 1)
                    #expect(retries.values.first?.contains("nothing moved for 0.5 s; the request was abandoned") == true, "\(retries.values)")
                    relay.releaseStalls()
                }
            }
        }
    }

    /// A link to the proxy that is cut in the middle of a request: the
    /// message names the server and the proxy, and the upload goes on.
    @Test func aCutLinkToTheProxyIsRetried() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                try await Relay.withRelay(to: proxy.url, .init(cut: .init(afterBytes: 1_500_000, times: 1))) { relay in
                    let data = randomData(4 << 20)
                    var options = testOptions(chunkSize: 2 << 20)
                    let retries = Recorder<String>()
                    options.onEvent = { event in
                        if case .retrying(let failure, _) = event { retries.record(failure.error.message) }
                    }
                    let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: relay.url(path: "")))
                    let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                    #expect(server.uploadedData(for: url) == data)
                    #expect(relay.counters.cuts == 1)
                    let message = try #require(retries.values.first)
                    #expect(message.contains("the connection to 127.0.0.1:\(server.endpoint.port ?? 0) through the proxy 127.0.0.1:\(relay.port)"), "\(message)")
                    expectPlainWords(message)
                }
            }
        }
    }

    /// A body limit behind the proxy (nginx's `client_max_body_size`): its
    /// refusals come back through the proxy, and requests shrink until
    /// they pass.
    @Test func aBodyLimitBehindTheProxyShrinksRequestsUntilTheyPass() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
                try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                    let data = randomData(3 << 20)
                    var options = testOptions(chunkSize: 4 << 20)
                    let reductions = Recorder<(Int, UploadEvent.ChunkSizeReason)>()
                    options.onEvent = { event in
                        if case .chunkSizeReduced(_, let to, let reason) = event { reductions.record((to, reason)) }
                    }
                    let client = TusClient(url: nginx.url(for: server.endpoint), proxy: ProxySettings(httpProxy: proxy.url))
                    let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options).upload()
                    #expect(server.uploadedData(for: url) == data)
                    #expect(!reductions.values.isEmpty)
                    #expect(reductions.values.contains { $0.1 == .bodyTooLarge }, "\(reductions.values)")
                    #expect(!proxy.requestLog().contains { $0.hasPrefix("CONNECT") }, "\(proxy.requestLog())")
                }
            }
        }
    }

    /// Cancelling the task closes the connection to the proxy at once: the
    /// proxy does not wait for the server's answer.
    @Test func cancellingClosesTheConnectionToTheProxy() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                var options = testOptions()
                options.uploadsDuringCreation = false
                // Neither the request's deadline nor a stall ends it first.
                options.requestTimeout = .seconds(300)
                options.stallTimeout = nil
                let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: proxy.url))
                let uploader = try await client.uploader(forFileAtPath: try file(randomData(1000), in: folder), options: options)
                // The POST stalls at the server; the task is cancelled while
                // the client waits for the answer.
                server.inject(.stall(seconds: 600, method: "POST"))
                let task = Task { try await uploader.upload() }
                try await waitUntil("the POST stalls at the server") {
                    server.pendingFaults.isEmpty && server.requestLog.contains { $0.hasPrefix("POST") }
                }
                #expect(tcpStates(remotePort: proxy.port).contains(.established))
                task.cancel()
                await #expect(throws: CancellationError.self) { try await task.value }
                // tinyproxy notices nothing while it waits for the answer
                // headers; the kernel shows the client's side of the
                // connection closed long before the server's 600 s are up.
                try await waitUntil("the client closes its connection to the proxy", timeout: .seconds(20)) {
                    !tcpStates(remotePort: proxy.port).contains(.established)
                }
                server.removeAllFaults()
            }
        }
    }

    @Test func theProxysUserAndPasswordGoWithEveryRequest() async throws {
        try await withDevServer { server, folder in
            let credentials = Tinyproxy.Credentials(user: "tus-user", password: "pa.ss_9")
            try await Tinyproxy.withTinyproxy(connectPorts: [443], credentials: credentials) { proxy in
                let data = randomData(1 << 20)
                // The password percent-encoded in the URL, as curl takes it.
                let proxyURL = try #require(URL(string: "http://tus-user:pa%2Ess_9@127.0.0.1:\(proxy.port)"))
                let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: proxyURL))
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: testOptions(chunkSize: 256 * 1024)).upload()
                #expect(server.uploadedData(for: url) == data)
                let requests = proxy.requestLog()
                #expect(requests.contains { $0.hasPrefix("PATCH \(url.absoluteString) HTTP/1.1") }, "\(requests)")
                #expect(!proxy.log().contains("Unauthorized"), "\(proxy.log())")
            }
        }
    }

    @Test func aWrongProxyPasswordIsOneErrorThatHidesIt() async throws {
        try await withDevServer { server, _ in
            let credentials = Tinyproxy.Credentials(user: "tus-user", password: "pa.ss_9")
            try await Tinyproxy.withTinyproxy(credentials: credentials) { proxy in
                let client = TusClient(
                    url: server.endpoint,
                    proxy: ProxySettings(httpProxy: URL(string: "http://tus-user:not-it@127.0.0.1:\(proxy.port)")!))
                let error = await #expect(throws: TusError.self) {
                    try await client.uploader(for: randomData(1000), options: testOptions()).upload()
                }
                #expect(error?.code == .authenticationFailed, "\(error?.message ?? "")")
                #expect(error?.message.contains("the proxy 127.0.0.1:\(proxy.port)") == true, "\(error?.message ?? "")")
                #expect(error?.message.contains("check the user name and password") == true, "\(error?.message ?? "")")
                #expect(error?.message.contains("not-it") == false, "\(error?.message ?? "")")
                expectPlainWords(error?.message)
                // Not retried: no request went twice (OPTIONS goes alongside
                // the POST), and no PATCH followed.
                let requests = proxy.requestLog()
                #expect(Set(requests).count == requests.count, "\(requests)")
                #expect(requests.contains { $0.hasPrefix("POST ") } && !requests.contains { $0.hasPrefix("PATCH ") }, "\(requests)")
            }
        }
    }

    @Test func aProxyThatWantsCredentialsSaysSo() async throws {
        try await withDevServer { server, _ in
            try await Tinyproxy.withTinyproxy(credentials: .init(user: "tus-user", password: "pa.ss_9")) { proxy in
                let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: proxy.url))
                let error = await #expect(throws: TusError.self) {
                    try await client.uploader(for: randomData(1000), options: testOptions()).upload()
                }
                #expect(error?.code == .authenticationFailed, "\(error?.message ?? "")")
                #expect(error?.message.contains("the proxy 127.0.0.1:\(proxy.port) asks for credentials") == true, "\(error?.message ?? "")")
                let requests = proxy.requestLog()
                #expect(Set(requests).count == requests.count, "\(requests)")
                #expect(requests.contains { $0.hasPrefix("POST ") } && !requests.contains { $0.hasPrefix("PATCH ") }, "\(requests)")
            }
        }
    }

    @Test func anHTTPSUploadTunnelsThroughTheProxy() async throws {
        let certificates = try TestCertificates.shared()
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
                try await Tinyproxy.withTinyproxy { proxy in
                    let data = randomData(700_000)
                    let client = TusClient(
                        url: nginx.url(for: server.endpoint),
                        tls: TLSSettings(trustRoots: .systemAnd(certificateFiles: [certificates.serverCABundle])),
                        proxy: .environment(["https_proxy": proxy.url.absoluteString]))
                    let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: testOptions(chunkSize: 256 * 1024)).upload()
                    #expect(url.scheme == "https")
                    #expect(server.uploadedData(for: url) == data)
                    #expect(proxy.requestLog().contains { $0.hasPrefix("CONNECT 127.0.0.1:\(nginx.port)") }, "\(proxy.requestLog())")
                }
            }
        }
    }

    /// `https://` still tunnels: a proxy that tunnels to port 443 only
    /// refuses the tunnel to another port, and the message says so.
    @Test func anHTTPSUploadToAPortTheProxyDoesNotTunnelToIsRefusedInWords() async throws {
        let certificates = try TestCertificates.shared()
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
                try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                    var options = testOptions()
                    options.retryPolicy.retries = 0
                    let client = TusClient(
                        url: nginx.url(for: server.endpoint),
                        tls: TLSSettings(trustRoots: .systemAnd(certificateFiles: [certificates.serverCABundle])),
                        proxy: ProxySettings(httpsProxy: proxy.url))
                    let error = await #expect(throws: TusError.self) {
                        try await client.uploader(for: randomData(1000), options: options).upload()
                    }
                    #expect(error?.message.contains("refused to open a tunnel to 127.0.0.1:\(nginx.port)") == true, "\(error?.message ?? "")")
                    #expect(proxy.requestLog().contains { $0.hasPrefix("CONNECT 127.0.0.1:\(nginx.port)") }, "\(proxy.requestLog())")
                }
            }
        }
    }

    @Test func noProxySendsStraightToTheServer() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy { proxy in
                let data = randomData(100_000)
                let settings = ProxySettings.environment(["http_proxy": proxy.url.absoluteString, "no_proxy": "localhost,127.0.0.1"])
                let url = try await TusClient(url: server.endpoint, proxy: settings)
                    .uploader(forFileAtPath: try file(data, in: folder), options: testOptions()).upload()
                #expect(server.uploadedData(for: url) == data)
                #expect(proxy.requestLog().isEmpty, "\(proxy.requestLog())")
            }
        }
    }

    @Test func aProxyThatIsDownIsNamed() async throws {
        let port = try freeLoopbackPort()
        var options = testOptions()
        options.retryPolicy.retries = 0
        let client = TusClient(
            url: URL(string: "http://127.0.0.1:1/files/")!, proxy: ProxySettings(httpProxy: URL(string: "http://127.0.0.1:\(port)")!))
        let error = await #expect(throws: TusError.self) { try await client.uploader(for: Data("x".utf8), options: options).upload() }
        #expect(error?.message.contains("through the proxy 127.0.0.1:\(port)") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("connection refused; is the proxy running") == true, "\(error?.message ?? "")")
        expectPlainWords(error?.message)
    }

    @Test func theCLIReadsTheProxyFromTheEnvironment() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy { proxy in
                let data = randomData(300_000)
                let path = try file(data, in: folder)
                let result = try runTus(
                    ["upload", path, "--endpoint", server.endpoint.absoluteString, "--no-store"],
                    environment: ["http_proxy": proxy.url.absoluteString, "no_proxy": nil, "NO_PROXY": nil])
                #expect(result.status == 0, "\(result.stderr)")
                let url = try #require(URL(string: result.output.split(separator: "\n").last.map(String.init) ?? ""))
                #expect(server.uploadedData(for: url) == data)
                #expect(!proxy.requestLog().isEmpty)
            }
        }
    }
}

/// The TCP states the kernel shows (`/proc/net/tcp`) for the IPv4
/// connections to `port`.
func tcpStates(remotePort port: Int) -> [TCPState] {
    // Read to the end: the kernel makes the file a page at a time, and it
    // tells no size.
    let file = FileHandle(forReadingAtPath: "/proc/net/tcp")
    defer { try? file?.close() }
    let table = String(decoding: file?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
    return table.split(separator: "\n").dropFirst().compactMap { line -> TCPState? in
        let fields = line.split(separator: " ")
        guard fields.count > 3, let colon = fields[2].lastIndex(of: ":"),
              Int(fields[2][fields[2].index(after: colon)...], radix: 16) == port else { return nil }
        return TCPState(rawValue: String(fields[3]))
    }
}

/// The states of `/proc/net/tcp` these tests look for.
enum TCPState: String {
    case established = "01"
}
