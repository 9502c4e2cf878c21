import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// `tus upload` over HTTPS with a private CA, as a new user runs it: with
/// no flag it fails in one line saying what to pass; with `--cacert`,
/// `SSL_CERT_FILE` or `--cert`/`--key` it finishes, byte for byte.
@Suite struct UploadNetworkCommandTests {
    let certificates: TestCertificates

    init() throws {
        certificates = try TestCertificates.shared()
    }

    func upload(_ arguments: [String], environment: [String: String?] = [:]) throws -> ProcessResult {
        try runTus(["upload"] + arguments + ["--no-store"],
                   environment: environment.merging(["https_proxy": nil, "HTTPS_PROXY": nil, "all_proxy": nil, "ALL_PROXY": nil]) { a, _ in a })
    }

    @Test func aPrivateCAWantsCacertThenWorks() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
                let data = randomData(500_000)
                let path = folder.newPath("upload.bin")
                try data.write(to: URL(fileURLWithPath: path))
                let endpoint = nginx.url(for: server.endpoint).absoluteString

                let refused = try upload([path, "--endpoint", endpoint])
                #expect(refused.status == 2)
                let lines = refused.stderr.split(separator: "\n")
                #expect(lines.count == 1, "\(refused.stderr)")
                #expect(lines.first?.hasPrefix("tus: cannot connect to 127.0.0.1:\(nginx.port): the server's certificate is not issued by an authority this client trusts") == true, "\(refused.stderr)")
                #expect(refused.stderr.contains("--cacert FILE"))

                for (arguments, environment) in [
                    (["--cacert", certificates.serverCABundle], [:]),
                    ([], ["SSL_CERT_FILE": certificates.serverCABundle]),
                ] as [([String], [String: String?])] {
                    let result = try upload([path, "--endpoint", endpoint] + arguments, environment: environment)
                    #expect(result.status == 0, "\(result.stderr)")
                    let url = try #require(URL(string: result.output.split(separator: "\n").last.map(String.init) ?? ""))
                    #expect(server.uploadedData(for: url) == data)
                }
            }
        }
    }

    @Test func aClientCertificateIsGivenWithCertAndKey() async throws {
        try await withDevServer { server, folder in
            let tls = Nginx.Configuration.TLS(certificates.server, requiringClientsOf: certificates.clientCA)
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: tls)) { nginx in
                let data = randomData(500_000)
                let path = folder.newPath("upload.bin")
                try data.write(to: URL(fileURLWithPath: path))
                let endpoint = nginx.url(for: server.endpoint).absoluteString

                let refused = try upload([path, "--endpoint", endpoint, "--cacert", certificates.serverCABundle])
                #expect(refused.status == 2)
                #expect(refused.stderr == "tus: 127.0.0.1:\(nginx.port) requires a client certificate; give one (--cert FILE --key FILE)\n")

                for arguments in [
                    ["--cert", certificates.client.certificate, "--key", certificates.client.key],
                    ["--cert", certificates.clientIdentity],
                ] {
                    let result = try upload([path, "--endpoint", endpoint, "--cacert", certificates.serverCABundle] + arguments)
                    #expect(result.status == 0, "\(result.stderr)")
                    let url = try #require(URL(string: result.output.split(separator: "\n").last.map(String.init) ?? ""))
                    #expect(server.uploadedData(for: url) == data)
                }
            }
        }
    }

    /// The IETF draft over HTTPS through nginx, which asks for a client
    /// certificate: the creation (on a connection of its own, to see a
    /// `104`) and the appends (through AsyncHTTPClient) both present it, and
    /// trust the private CA; the upload is a draft upload on the server.
    @Test func theDraftGoesOverHTTPSWithAClientCertificate() async throws {
        try await withDevServer { server, folder in
            let tls = Nginx.Configuration.TLS(certificates.server, requiringClientsOf: certificates.clientCA)
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: tls)) { nginx in
                var random = SeededGenerator.forTest(#function)
                let data = random.bytes(3 << 20)
                let path = folder.newPath("upload.bin")
                try data.write(to: URL(fileURLWithPath: path))
                let endpoint = nginx.url(for: server.endpoint).absoluteString
                let result = try upload([
                    path, "--endpoint", endpoint, "--protocol", "ietf", "--chunk-size", "1MiB", "--cacert", certificates.serverCABundle,
                    "--cert", certificates.client.certificate, "--key", certificates.client.key,
                ])
                #expect(result.status == 0, "\(result.stderr)")
                let url = try #require(URL(string: result.output.split(separator: "\n").last.map(String.init) ?? ""))
                #expect(url.scheme == "https", "\(url)")
                #expect(server.uploadedData(for: url) == data)
                #expect(server.uploadInfo(for: url)?.madeWith == .ietfDraft(interopVersion: 6, complete: true))
                #expect(server.requestLog.filter { $0.hasPrefix("POST") }.count == 1, "one upload: \(server.requestLog)")
                #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count >= 2, "\(server.requestLog)")
            }
        }
    }
}
