import Foundation
import Testing
import TusClient
import TusCore
import TusDevServer
import TusTestSupport

/// HTTPS through a real nginx with certificates made by openssl: a private
/// CA, an expired certificate, a certificate for another name, and a
/// server that requires client certificates. Every upload that should pass
/// ends with the server's bytes identical to the file.
@Suite struct TLSTests {
    let certificates: TestCertificates

    init() throws {
        certificates = try TestCertificates.shared()
    }

    func options() -> UploadOptions {
        var options = testOptions(chunkSize: 256 * 1024)
        options.retryPolicy.retries = 0
        return options
    }

    @Test func aPrivateCAFailsInWordsUntilItIsTrusted() async throws {
        try await withDevServer { server, folder in
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: .init(certificates.server))) { nginx in
                let endpoint = nginx.url(for: server.endpoint)
                let data = randomData(600_000)
                let path = try file(data, in: folder)
                // Not retried: no retry mends a certificate.
                var retrying = options()
                retrying.retryPolicy.retries = 3
                let retries = Recorder<String>()
                retrying.onEvent = { if case .retrying = $0 { retries.record("retry") } }
                let refused = await #expect(throws: TusError.self) {
                    try await TusClient(url: endpoint, proxy: .none).uploader(forFileAtPath: path, options: retrying).upload()
                }
                #expect(refused?.code == .untrustedServer)
                #expect(retries.values.isEmpty)
                let message = refused?.message ?? ""
                #expect(message.contains("cannot connect to 127.0.0.1:\(nginx.port)"), "\(message)")
                #expect(message.contains("not issued by an authority this client trusts"), "\(message)")
                #expect(message.contains("--cacert"), "\(message)")
                expectPlainWords(message)

                let client = TusClient(
                    url: endpoint, tls: TLSSettings(trustRoots: .systemAnd(certificateFiles: [certificates.serverCABundle])), proxy: .none)
                let url = try await client.uploader(forFileAtPath: path, options: options()).upload()
                #expect(url.scheme == "https")
                #expect(server.uploadedData(for: url) == data)

                // Only the given CA, too.
                let only = TusClient(
                    url: endpoint, tls: TLSSettings(trustRoots: .only(certificateFiles: [certificates.serverCABundle])), proxy: .none)
                let again = try await only.uploader(for: data, options: options()).upload()
                #expect(server.uploadedData(for: again) == data)
            }
        }
    }

    @Test func anExpiredCertificateSaysWhenItExpired() async throws {
        try await expectRefused(by: certificates.expiredServer, saying: "the server's certificate expired on ")
    }

    @Test func aCertificateForAnotherNameSaysSo() async throws {
        try await expectRefused(by: certificates.wrongNameServer, saying: "not for the name 127.0.0.1")
    }

    /// A client that trusts the test CA asks nginx serving `server` for its
    /// capabilities; the error names nginx's address and says `words`.
    func expectRefused(
        by server: TestCertificates.Files, saying words: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await withDevServer { devServer, _ in
            try await Nginx.withNginx(upstream: devServer.endpoint, .init(tls: .init(server))) { nginx in
                let client = TusClient(
                    url: nginx.url(for: devServer.endpoint),
                    tls: TLSSettings(trustRoots: .systemAnd(certificateFiles: [certificates.serverCABundle])), proxy: .none)
                let error = await #expect(throws: TusError.self, sourceLocation: sourceLocation) { try await client.capabilities() }
                let message = error?.message ?? ""
                #expect(error?.code == .untrustedServer, sourceLocation: sourceLocation)
                #expect(message.contains("127.0.0.1:\(nginx.port)"), "\(message)", sourceLocation: sourceLocation)
                #expect(message.contains(words), "\(message)", sourceLocation: sourceLocation)
                expectPlainWords(message, sourceLocation: sourceLocation)
            }
        }
    }

    @Test func aServerThatRequiresAClientCertificateGetsOne() async throws {
        try await withDevServer { server, folder in
            let tls = Nginx.Configuration.TLS(certificates.server, requiringClientsOf: certificates.clientCA)
            try await Nginx.withNginx(upstream: server.endpoint, .init(tls: tls)) { nginx in
                let endpoint = nginx.url(for: server.endpoint)
                let data = randomData(400_000)
                let path = try file(data, in: folder)
                var settings = TLSSettings(trustRoots: .systemAnd(certificateFiles: [certificates.serverCABundle]))
                let refused = await #expect(throws: TusError.self) {
                    try await TusClient(url: endpoint, tls: settings, proxy: .none).uploader(forFileAtPath: path, options: options()).upload()
                }
                #expect(refused?.code == .authenticationFailed)
                #expect(refused?.message.contains("127.0.0.1:\(nginx.port) requires a client certificate") == true, "\(refused?.message ?? "")")

                settings.clientCertificate = ClientCertificate(
                    certificateFile: certificates.client.certificate, privateKeyFile: certificates.client.key)
                let url = try await TusClient(url: endpoint, tls: settings, proxy: .none).uploader(forFileAtPath: path, options: options()).upload()
                #expect(server.uploadedData(for: url) == data)
            }
        }
    }

    @Test func aKeyThatIsNotTheCertificatesIsRefusedBeforeConnecting() async throws {
        let settings = TLSSettings(clientCertificate: ClientCertificate(
            certificateFile: certificates.client.certificate, privateKeyFile: certificates.server.key))
        let error = await #expect(throws: TusError.self) {
            try await TusClient(url: URL(string: "https://127.0.0.1:1/files/")!, tls: settings, proxy: .none).capabilities()
        }
        #expect(error?.message.contains("the key does not belong to the certificate") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(certificates.server.key) == true)
    }

    @Test(.enabled(if: Tuspyserver.isAvailable, "scripts/test starts tuspyserver"))
    func tuspyserverBehindNginxWithAPrivateCA() async throws {
        let endpoint = try #require(Tuspyserver.endpoint, "TUS_TEST_TUSPYSERVER_URL is not set; run scripts/test")
        try await Nginx.withNginx(upstream: endpoint, .init(tls: .init(certificates.server))) { nginx in
            let folder = try TemporaryFolder()
            let data = randomData(900_000)
            let client = TusClient(
                url: nginx.url(for: endpoint),
                tls: TLSSettings(trustRoots: .systemAnd(certificateFiles: [certificates.serverCABundle])), proxy: .none)
            let url = try await client.uploader(forFileAtPath: try file(data, in: folder), options: options()).upload()
            #expect(url.scheme == "https")
            #expect(try Tuspyserver.bytes(of: url) == data)
        }
    }
}
