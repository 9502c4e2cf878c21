import Foundation
import Testing
import TusDevServer
import TusTestSupport

@Suite struct NginxTests {
    private let tusHeaders = ["-H", "Tus-Resumable: 1.0.0"]

    @Test func theDevServerBehindTLSNginxAnswersAndItsLocationsComeBackThroughNginxAsHTTPS() async throws {
        let certificates = try TestCertificates.shared()
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
                let endpoint = nginx.url(for: server.endpoint)
                #expect(endpoint.absoluteString == "https://127.0.0.1:\(nginx.port)/files/")
                let trust = ["--cacert", certificates.serverCABundle]

                let options = try await curl(trust + ["-X", "OPTIONS"], endpoint)
                #expect(options.exitCode == 0, "\(options.stderr)")
                #expect(options.status == 204)
                #expect(options["tus-version"] == "1.0.0")

                let created = try await curl(trust + tusHeaders + ["-X", "POST", "-H", "Upload-Length: 5"], endpoint)
                #expect(created.status == 201, "\(created.stderr)")
                let location = try #require(created["location"].flatMap(URL.init(string:)))
                #expect(location.scheme == "https")
                #expect(location.host == "127.0.0.1" && location.port == nginx.port)

                let patched = try await curl(
                    trust + tusHeaders + [
                        "-X", "PATCH", "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream",
                        "--data-binary", "hello",
                    ], location)
                #expect(patched.status == 204, "\(patched.stderr)")
                #expect(patched["upload-offset"] == "5")
                #expect(server.uploadInfo(for: location)?.offset == 5)
                #expect(nginx.accessLog().contains { $0.contains("\"PATCH /files/") && $0.contains("\" 204 ") })

                // Reached by name, the Location keeps the name.
                let byName = try await curl(
                    trust + tusHeaders + ["-X", "POST", "-H", "Upload-Length: 1"],
                    URL(string: "https://localhost:\(nginx.port)/files/")!)
                #expect(byName["location"]?.hasPrefix("https://localhost:\(nginx.port)/files/") == true, "\(byName.headers)")
            }
        }
    }

    @Test func plainHTTPNginxKeepsHTTPLocationsThroughIt() async throws {
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint) { nginx in
                #expect(nginx.scheme == "http")
                let created = try await curl(tusHeaders + ["-X", "POST", "-H", "Upload-Length: 5"], nginx.url(path: "/files/"))
                #expect(created.status == 201, "\(created.stderr)")
                #expect(created["location"]?.hasPrefix("http://127.0.0.1:\(nginx.port)/files/") == true, "\(created.headers)")
            }
        }
    }

    @Test func mutualTLSNginxRefusesCurlWithoutAClientCertificateAndAcceptsItWithOne() async throws {
        let certificates = try TestCertificates.shared()
        try await withDevServer { server, _ in
            let tls = Nginx.Configuration.TLS(certificates.server, requiringClientsOf: certificates.clientCA)
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: tls)) { nginx in
                let endpoint = nginx.url(for: server.endpoint)
                let trust = ["--cacert", certificates.serverCABundle, "-X", "OPTIONS"]

                let without = try await curl(trust, endpoint)
                #expect(without.status == 400)
                #expect(without.body.contains("No required SSL certificate was sent"), "\(without.body)")

                // A certificate from another CA is refused too.
                let stranger = try await curl(
                    trust + ["--cert", certificates.server.certificate, "--key", certificates.server.key], endpoint)
                #expect(stranger.status == 400)

                let with = try await curl(
                    trust + ["--cert", certificates.client.certificate, "--key", certificates.client.key], endpoint)
                #expect(with.exitCode == 0, "\(with.stderr)")
                #expect(with.status == 204)
            }
        }
    }

    @Test func curlRefusesAnExpiredCertificateWithItsOwnMessage() async throws {
        let certificates = try TestCertificates.shared()
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.expiredServer))) { nginx in
                let refused = try await curl(["--cacert", certificates.serverCABundle, "-X", "OPTIONS"], nginx.url(path: "/files/"))
                #expect(refused.exitCode == 60, "\(refused.stderr)")
                #expect(refused.stderr.contains("certificate has expired"), "\(refused.stderr)")
                #expect(refused.status == 0)
            }
        }
    }

    @Test func curlRefusesACertificateForAnotherNameWithItsOwnMessage() async throws {
        let certificates = try TestCertificates.shared()
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.wrongNameServer))) { nginx in
                for host in ["127.0.0.1", "localhost"] {
                    let url = URL(string: "https://\(host):\(nginx.port)/files/")!
                    let refused = try await curl(["--cacert", certificates.serverCABundle, "-X", "OPTIONS"], url)
                    #expect(refused.exitCode == 60, "\(refused.stderr)")
                    #expect(refused.stderr.contains("subject name"), "\(refused.stderr)")
                }
            }
        }
    }

    @Test func aBodyOverClientMaxBodySizeGets413AndOneUnderItPasses() async throws {
        let folder = try TemporaryFolder()
        let large = folder.newPath("large"), small = folder.newPath("small")
        try Data(count: 2 << 20).write(to: URL(fileURLWithPath: large))
        try Data(count: 100_000).write(to: URL(fileURLWithPath: small))
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint, .init(clientMaxBodySize: "1m")) { nginx in
                let created = try await curl(
                    tusHeaders + ["-X", "POST", "-H", "Upload-Length: \(3 << 20)"], nginx.url(path: "/files/"))
                let location = try #require(created["location"].flatMap(URL.init(string:)))
                let patch = tusHeaders + ["-X", "PATCH", "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream"]

                let tooLarge = try await curl(patch + ["--data-binary", "@\(large)"], location)
                #expect(tooLarge.status == 413)
                #expect(server.uploadInfo(for: location)?.offset == 0, "nginx refused it before the server saw a byte")

                let fits = try await curl(patch + ["--data-binary", "@\(small)"], location)
                #expect(fits.status == 204, "\(fits.stderr)")
                #expect(fits["upload-offset"] == "100000")
            }
        }
    }

    @Test func nginxIsGoneOnceTheClosureReturnsEvenAfterAFailure() async throws {
        struct Planned: Error {}
        var port = 0
        try await withDevServer { server, _ in
            _ = await #expect(throws: Planned.self) {
                try await Nginx.withNginx(upstream: server.endpoint) { nginx in
                    port = nginx.port
                    throw Planned()
                }
            }
        }
        let refused = try await curl(["-X", "OPTIONS"], URL(string: "http://127.0.0.1:\(port)/files/")!)
        #expect(refused.exitCode == 7, "nothing listens any more: \(refused.stderr)")
    }
}
