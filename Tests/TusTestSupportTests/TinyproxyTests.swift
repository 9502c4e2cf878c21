import Foundation
import Testing
import TusDevServer
import TusTestSupport

@Suite struct TinyproxyTests {
    @Test func plainHTTPRequestsGoThroughTheProxyAndItsLogShowsThem() async throws {
        try await withDevServer { server, _ in
            try await Tinyproxy.withTinyproxy { proxy in
                let via = ["-x", proxy.url.absoluteString]
                let options = try await curl(via + ["-X", "OPTIONS"], server.endpoint)
                #expect(options.status == 204, "\(options.stderr)")
                #expect(options["tus-version"] == "1.0.0")
                #expect(options["via"] == nil, "DisableViaHeader")

                let created = try await curl(
                    via + ["-X", "POST", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Length: 3"], server.endpoint)
                let location = try #require(created["location"].flatMap(URL.init(string:)))
                let head = try await curl(via + ["-I", "-H", "Tus-Resumable: 1.0.0"], location)
                #expect(head.status == 200)
                #expect(head["upload-offset"] == "0")
                let got = try await curl(via, server.endpoint)
                #expect(got.status != 0, "a GET is answered through the proxy (status \(got.status))")

                let requests = proxy.requestLog()
                #expect(requests.contains("OPTIONS \(server.endpoint.absoluteString) HTTP/1.1"), "\(requests)")
                #expect(requests.contains("HEAD \(location.absoluteString) HTTP/1.1"), "\(requests)")
                #expect(requests.contains("GET \(server.endpoint.absoluteString) HTTP/1.1"), "\(requests)")
            }
        }
    }

    @Test func httpsGoesThroughATunnelToTheTLSNginx() async throws {
        let certificates = try TestCertificates.shared()
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
                try await Tinyproxy.withTinyproxy { proxy in
                    let endpoint = nginx.url(for: server.endpoint)
                    let options = try await curl(
                        ["-x", proxy.url.absoluteString, "--cacert", certificates.serverCABundle, "-X", "OPTIONS"], endpoint)
                    #expect(options.exitCode == 0, "\(options.stderr)")
                    #expect(options.status == 204)
                    #expect(proxy.requestLog().contains("CONNECT 127.0.0.1:\(nginx.port) HTTP/1.1"), "\(proxy.log())")
                    #expect(nginx.accessLog().contains { $0.contains("\"OPTIONS /files/ HTTP/1.1\" 204") })
                }
            }
        }
    }

    @Test func connectPortsLimitTheTunnelsButNotThePlainRequests() async throws {
        try await withDevServer { server, _ in
            try await Tinyproxy.withTinyproxy(connectPorts: [443]) { proxy in
                let plain = try await curl(["-x", proxy.url.absoluteString, "-X", "OPTIONS"], server.endpoint)
                #expect(plain.status == 204, "\(plain.stderr)")
                let tunnelled = try await curl(["-p", "-x", proxy.url.absoluteString, "-X", "OPTIONS"], server.endpoint)
                #expect(tunnelled.exitCode != 0, "a CONNECT to port \(server.endpoint.port ?? 0) is refused")
                #expect(proxy.log().contains("Refused CONNECT method on port \(server.endpoint.port ?? 0)"), "\(proxy.log())")
                #expect(try String(contentsOfFile: proxy.configurationFile, encoding: .utf8).contains("\nConnectPort 443\n"))
            }
        }
    }

    @Test func credentialsAreRequiredOfEveryRequest() async throws {
        try await withDevServer { server, _ in
            try await Tinyproxy.withTinyproxy(credentials: .init(user: "tus-user", password: "pa.ss_9")) { proxy in
                let without = try await curl(["-x", proxy.url.absoluteString, "-X", "OPTIONS"], server.endpoint)
                #expect(without.status == 407)
                let wrong = try await curl(["-x", "http://tus-user:other@127.0.0.1:\(proxy.port)", "-X", "OPTIONS"], server.endpoint)
                #expect(wrong.status == 401, "tinyproxy 1.11 answers wrong credentials with 401")
                let right = try await curl(["-x", "http://tus-user:pa.ss_9@127.0.0.1:\(proxy.port)", "-X", "OPTIONS"], server.endpoint)
                #expect(right.status == 204, "\(right.stderr)")
            }
        }
    }

    @Test func tinyproxyIsGoneOnceTheClosureReturns() async throws {
        let port = try await Tinyproxy.withTinyproxy { $0.port }
        let refused = try await curl(["-x", "http://127.0.0.1:\(port)"], URL(string: "http://127.0.0.1:1/")!)
        #expect(refused.exitCode == 7, "nothing listens any more: \(refused.stderr)")
    }
}
