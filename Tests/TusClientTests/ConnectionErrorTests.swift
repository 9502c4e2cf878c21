import Foundation
import Testing
import TusClient
import TusCore
import TusTestSupport

/// A request that cannot reach its server fails with one line of plain
/// words naming the host and port, and no Swift type.
@Suite struct ConnectionErrorTests {
    @Test func aRefusedConnectionNamesTheAddressAndSaysRefused() async throws {
        let port = try freeLoopbackPort()
        var options = UploadOptions()
        options.retryPolicy.retries = 0
        let client = TusClient(url: URL(string: "http://127.0.0.1:\(port)/files/")!, proxy: .none)
        let error = await #expect(throws: TusError.self) {
            try await client.uploader(for: Data("hello".utf8), options: options).upload()
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("cannot connect to 127.0.0.1:\(port): connection refused") == true, "\(error?.message ?? "")")
        expectPlainWords(error?.message)
    }

    @Test func anUnknownHostSaysSo() async throws {
        var options = UploadOptions()
        options.retryPolicy.retries = 0
        let client = TusClient(url: URL(string: "https://no-such-host.invalid/files/")!, proxy: .none)
        let error = await #expect(throws: TusError.self) {
            try await client.uploader(for: Data("hello".utf8), options: options).upload()
        }
        #expect(error?.message.contains("no-such-host.invalid:443") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("unknown host") == true, "\(error?.message ?? "")")
        expectPlainWords(error?.message)
    }

    @Test func aMissingCACertificateFileIsNamed() async throws {
        let client = TusClient(
            url: URL(string: "https://127.0.0.1:1/files/")!,
            tls: TLSSettings(trustRoots: .systemAnd(certificateFiles: ["/nonexistent/ca.pem"])), proxy: .none)
        let error = await #expect(throws: TusError.self) { try await client.capabilities() }
        #expect(error?.message.contains("/nonexistent/ca.pem") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("no such file") == true, "\(error?.message ?? "")")
    }

    @Test func aFileThatHoldsNoCertificateIsNamed() async throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("ca.pem")
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: path))
        let client = TusClient(
            url: URL(string: "https://127.0.0.1:1/files/")!,
            tls: TLSSettings(trustRoots: .only(certificateFiles: [path])), proxy: .none)
        let error = await #expect(throws: TusError.self) { try await client.capabilities() }
        #expect(error?.message.contains("\(path): the file holds no PEM certificate") == true, "\(error?.message ?? "")")
    }
}

/// Fails when `message` shows a Swift type or an enum dump.
func expectPlainWords(_ message: String?, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let message else { return }
    for sign in ["NIO", "Error(", "Error.", "BoringSSL", "HTTPClientError", "sslError", "([", "errnoCode"] {
        #expect(!message.contains(sign), "\"\(message)\" shows \(sign)", sourceLocation: sourceLocation)
    }
}
