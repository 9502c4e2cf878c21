import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// Uploads through a real forward proxy (tinyproxy), as `http_proxy` and
/// `https_proxy` send them.
@Suite struct ProxyTests {
    @Test func anHTTPUploadGoesThroughTheProxy() async throws {
        try await withDevServer { server, folder in
            try await Tinyproxy.withTinyproxy { proxy in
                let data = randomData(700_000)
                let client = TusClient(url: server.endpoint, proxy: ProxySettings(httpProxy: proxy.url))
                let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: testOptions(chunkSize: 256 * 1024)).upload()
                #expect(server.uploadedData(for: url) == data)
                let port = try #require(server.endpoint.port)
                #expect(proxy.requestLog().contains { $0.hasPrefix("CONNECT 127.0.0.1:\(port)") }, "\(proxy.requestLog())")
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
