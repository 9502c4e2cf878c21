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
                #expect(without.text.contains("No required SSL certificate was sent"), "\(without.text)")

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

    /// With a bearer token, nginx answers 401 without credentials (with
    /// `WWW-Authenticate: Bearer`), 403 with others, OPTIONS included, and
    /// lets the right token through; the upload URL the server hands out
    /// names nginx, so its PATCH is checked the same way, and a refused
    /// request never reaches the server.
    @Test func aBearerTokenIsCheckedOnEveryRequestInFrontOfTheDevServer() async throws {
        try await withDevServer { server, _ in
            try await Nginx.withNginx(upstream: server.endpoint, .init(bearerToken: "good")) { nginx in
                let endpoint = nginx.url(for: server.endpoint)
                let location = try await checkBearerToken(nginx: nginx, endpoint: endpoint)
                #expect(server.uploadInfo(for: location)?.offset == 5)
            }
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_URL"] != nil, "scripts/test starts tuspyserver"))
    func aBearerTokenIsCheckedOnEveryRequestInFrontOfTuspyserver() async throws {
        let upstream = try #require(ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_URL"].flatMap(URL.init(string:)))
        let directory = try #require(ProcessInfo.processInfo.environment["TUS_TEST_TUSPYSERVER_DIR"])
        try await Nginx.withNginx(upstream: upstream, .init(bearerToken: "good")) { nginx in
            let location = try await checkBearerToken(nginx: nginx, endpoint: nginx.url(for: upstream))
            let stored = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(location.lastPathComponent))
            #expect(stored == Data("hello".utf8))
        }
    }

    @Test func aBearerTokenThatNginxWouldHaveToQuoteIsRefusedBeforeItStarts() async throws {
        for token in ["with space", "quote\"d", "semi;colon", "", "=="] {
            await #expect(throws: FixtureError.self, "\(token)") {
                try await Nginx.withNginx(upstream: URL(string: "http://127.0.0.1:9/")!, .init(bearerToken: token)) { _ in }
            }
        }
    }

    /// Refusals on OPTIONS, POST and PATCH, and an upload of "hello" with
    /// the right token; returns its URL.
    private func checkBearerToken(nginx: Nginx, endpoint: URL) async throws -> URL {
        let refusals: [([String], Int)] = [
            ([], 401),
            (["-H", "Authorization: Bearer wrong"], 403),
            (["-H", "Authorization: Basic Z29vZDpnb29k"], 403),
            (["-H", "Authorization: Bearer good-but-longer"], 403),
        ]
        for (credentials, status) in refusals {
            let options = try await curl(credentials + ["-X", "OPTIONS"], endpoint)
            #expect(options.status == status, "OPTIONS with \(credentials): \(options.stderr)")
            let created = try await curl(credentials + tusHeaders + ["-X", "POST", "-H", "Upload-Length: 5"], endpoint)
            #expect(created.status == status, "POST with \(credentials): \(created.stderr)")
            #expect(created["location"] == nil)
            if status == 401 {
                #expect(options["www-authenticate"] == "Bearer realm=\"tus\"", "\(options.headers)")
            }
        }
        let good = ["-H", "Authorization: Bearer good"]
        let options = try await curl(good + ["-X", "OPTIONS"], endpoint)
        #expect(options.status == 204 || options.status == 200, "\(options.stderr)")
        #expect(options["tus-version"]?.contains("1.0.0") == true, "\(options.headers)")

        // tuspyserver answers HEAD only for uploads with a file name and type.
        let created = try await curl(
            good + tusHeaders + ["-X", "POST", "-H", "Upload-Length: 5", "-H", "Upload-Metadata: filename aGVsbG8udHh0,filetype dGV4dC9wbGFpbg=="],
            endpoint)
        #expect(created.status == 201, "\(created.stderr) \(created.text)")
        let location = try #require(created["location"].flatMap(URL.init(string:)), "\(created.headers)")
        #expect(location.host == "127.0.0.1" && location.port == nginx.port, "the upload URL goes through nginx: \(location)")

        let patch = tusHeaders + [
            "-X", "PATCH", "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream",
            "--data-binary", "hello",
        ]
        let refused = try await curl(patch, location)
        #expect(refused.status == 401)
        let wrong = try await curl(["-H", "Authorization: Bearer wrong"] + patch, location)
        #expect(wrong.status == 403)
        let head = try await curl(good + tusHeaders + ["-I"], location)
        #expect(head["upload-offset"] == "0", "the refused PATCHes never reached the server: \(head.headers)")

        let patched = try await curl(good + patch, location)
        #expect(patched.status == 204, "\(patched.stderr) \(patched.text)")
        #expect(patched["upload-offset"] == "5")
        #expect(nginx.accessLog().contains { $0.contains("\"PATCH \(location.path)") && $0.contains("\" 401 ") })
        return location
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
